"""A flow's ``Message`` as WhatsApp Cloud API messages, within WhatsApp's limits.

Pure: no I/O. Formatting: the flows' markup becomes WhatsApp's (``*bold*``, ``_italic_``:
``bot.markup.whatsapp``). Buttons become options: up to 3 reply buttons, up to 10 rows of a list
message, more as a list paged 9 rows at a time with a "more…" row. A title too long is cut at a
word with "…", and then every option's full text is listed in the body (unless the text above says
it). Links (``bot.links``): a button linking into the bot's own chat ("Open the ballot") becomes an
option doing what the link does — the member is in that chat already; a web link button becomes a
line in the body; a link into the chat in a text becomes a wa.me link that types ``/start PAYLOAD``
(or the command to type); a link adding the bot to a group means nothing here and is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from bot import markup
from bot.domain.text import shorten as shorten_text
from bot.flows.types import Message
from bot.i18n import N_, Translator
from bot.links import PRIVATE, WEB, Link

Options = list[tuple[str, str]]
TEXT_MAX = 4096
BODY_MAX = 1024        # interactive body, image and document captions
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
ROWS_MAX = 10
ROW_TITLE_MAX = 24
LABEL_MAX = 20         # a list message's button
MORE = "wa:more"       # the row that shows a paged list's next page
START = "wa:start:"    # an option standing for a link into this chat (/start PAYLOAD): tapped, not typed
CHOOSE = N_("Choose")
MORE_TITLE = N_("More…")
CHOOSE_BODY = N_("Choose an option:")


@dataclass
class Part:
    """One Cloud API message: ``payload`` without ``messaging_product`` and ``to``; ``media``
    (content, mime type, filename) is uploaded first and its id put into the payload."""

    payload: dict
    media: tuple[bytes, str, str] | None = None
    options: Options = field(default_factory=list)  # every option of the message (all pages)
    body: str = ""
    page: int = 0


_SHOWN_NUMBER = re.compile(r"^[^\w#]*(\d{1,4})(?: ·|$)|#(\d{1,4})\b")


def shown_numbers(options: Options) -> dict[int, str] | None:
    """The number each option shows, when every option shows a different one ("3 · The road",
    "✅ Confirm #2", "🅰 #3 The road", "2"): then a typed "3" means the option showing 3, not the
    third option (the text above them numbers them the same way). ``None``: numbered by position."""
    numbers: dict[int, str] = {}
    for option_id, title in options:
        found = _SHOWN_NUMBER.search(title)
        if found is None:
            return None
        number = int(found.group(1) or found.group(2))
        if number in numbers:
            return None
        numbers[number] = option_id
    return numbers


def typed_option(options: Options, number: int) -> str | None:
    """The id of the option a typed ``number`` means (``None``: no such option)."""
    shown = shown_numbers(options)
    if shown is not None:
        return shown.get(number)
    return options[number - 1][0] if 1 <= number <= len(options) else None


def _core(title: str) -> str:
    """An option's own text, without the marks, number and count around it ("✅ 3 · Road · 2"), or
    the start of it where the flow cut it already ("3 · The road to the…")."""
    core = re.sub(r"^[^\w#]*(?:\d{1,4} · )?(?:#\d{1,4}\s+)?", "", " ".join(title.split()))
    return re.sub(r"…$", "", re.sub(r" · \d+$", "", core)) or title  # a title the flow cut: its start


def shorten(text: str, limit: int) -> str:
    """``text`` on one line in at most ``limit`` characters: cut at a word, with "…"."""
    return shorten_text(" ".join(text.split()), limit)


class Links:
    """Links as WhatsApp opens them: into this chat by a wa.me link to the community's number that
    types ``/start PAYLOAD``; web pages as they are; no group link (WhatsApp has no group the bot
    joins)."""

    def __init__(self, display_number: str | None) -> None:
        self.display_number = display_number

    def start(self, payload: str) -> str | None:
        if not self.display_number:
            return None
        return f"https://wa.me/{self.display_number}?text={quote('/start ' + payload)}"

    def url(self, link: Link) -> str | None:
        """The address a person taps (``None``: none on WhatsApp)."""
        if link.kind == PRIVATE:
            return self.start(link.target)
        return link.target if link.kind == WEB else None

    def in_text(self, link: Link) -> str | None:
        """What a text shows for a link: its address, else (no number known) the command to type."""
        if link.kind == PRIVATE:
            return self.start(link.target) or f"/start {link.target}"
        return self.url(link)


def formatted(text: str, links: Links) -> str:
    """The flows' markup as WhatsApp formats text, its links as ``links`` writes them."""
    return markup.whatsapp(text, links.in_text)


def render(message: Message, image: bytes | None, tr: Translator, links: Links) -> list[Part]:
    """The parts to send, in order."""
    text = formatted(message.text, links).strip()
    options: Options = []
    for row in message.buttons:
        for button in row:
            link = button.link
            into_chat = link is not None and link.kind == PRIVATE
            data = START + link.target if into_chat else button.data
            if data is not None and all(data != o[0] for o in options):
                options.append((data, " ".join(button.text.split()) or "…"))
            elif link is not None and not into_chat and (url := links.url(link)):
                text += f"\n{formatted(button.text, links)}: {url}"
    parts: list[Part] = []
    if image is not None:
        name = message.chart.filename if message.chart else "chart.png"
        if not options and len(text) <= BODY_MAX:
            return [Part({"type": "image", "image": {"caption": text} if text else {}}, (image, "image/png", name))]
        parts.append(Part({"type": "image", "image": {}}, (image, "image/png", name)))
    elif message.document is not None:
        name, content = message.document
        caption = text if len(text) <= BODY_MAX else ""
        parts.append(Part({"type": "document", "document": {"filename": name, **({"caption": caption} if caption
                                                                                 else {})}},
                          (content, _mime(name), name)))
        if caption:
            text = ""
    if not options:
        parts.extend(Part({"type": "text", "text": {"body": chunk}}) for chunk in split(text))
        return parts
    return parts + interactive(text, options, 0, tr)


def interactive(text: str, options: Options, page: int, tr: Translator) -> list[Part]:
    """``options`` offered under ``text``: buttons, a list, or page ``page`` of a paged list
    (preceded by the text itself when it does not fit an interactive body)."""
    if len(options) > ROWS_MAX:
        starts = [0]
        while len(options) - starts[-1] > ROWS_MAX:
            starts.append(starts[-1] + ROWS_MAX - 1)
        page = min(page, len(starts) - 1)
        first = starts[page]
        shown = options[first:starts[page + 1]] if page + 1 < len(starts) else options[first:]
        more = page + 1 < len(starts)
    else:
        first, shown, more = 0, options, False
    as_buttons = len(options) <= BUTTONS_MAX
    limit = BUTTON_TITLE_MAX if as_buttons else ROW_TITLE_MAX
    titles = [shorten(title, limit) for _, title in shown]
    if len(set(titles)) < len(titles):  # the same title twice (after shortening): numbered
        titles = [shorten(f"{first + i + 1}. {title}", limit) for i, (_, title) in enumerate(shown)]
    listing = ""
    if any(t != title for t, (_, title) in zip(titles, shown)) and not all(
            _core(title) in text for _, title in shown):  # cut, and not said above: the full texts in the body
        numbered = shown_numbers(options) is None  # else each shows its own number, the one to type
        listing = "\n".join(f"{first + i + 1}. {title}" if numbered else title for i, (_, title) in enumerate(shown))
    body = "\n\n".join(p for p in (text, listing) if p)
    parts: list[Part] = []
    if len(body) > BODY_MAX:  # the text goes first on its own; the options with their listing
        parts.extend(Part({"type": "text", "text": {"body": chunk}}) for chunk in split(text))
        body = shorten(listing, BODY_MAX) if listing else tr.t(CHOOSE_BODY)
    if as_buttons:
        action = {"buttons": [{"type": "reply", "reply": {"id": option_id, "title": title}}
                              for (option_id, _), title in zip(shown, titles)]}
        payload = {"type": "button", "body": {"text": body}, "action": action}
    else:
        rows = [{"id": option_id, "title": title} for (option_id, _), title in zip(shown, titles)]
        if more:
            rows.append({"id": MORE, "title": shorten(tr.t(MORE_TITLE), ROW_TITLE_MAX)})
        payload = {"type": "list", "body": {"text": body},
                   "action": {"button": shorten(tr.t(CHOOSE), LABEL_MAX), "sections": [{"rows": rows}]}}
    parts.append(Part({"type": "interactive", "interactive": payload}, options=list(options), body=text, page=page))
    return parts


def template(message: Message, name: str, language: str) -> Part:
    """The approved template ``name``, the message's first line as its parameter (a parameter
    may hold no new line, tab or more than four spaces in a row)."""
    first = next((line for line in markup.plain(message.text).splitlines() if line.strip()), "Qatysu")
    value = shorten(re.sub(r"\s+", " ", first).strip(), 900)
    return Part({"type": "template", "template": {
        "name": name, "language": {"code": language},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": value}]}]}})


def split(text: str, limit: int = TEXT_MAX) -> list[str]:
    """A text in pieces of at most ``limit`` characters, cut between lines where it can."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text.strip():
        pieces.append(text)
    return pieces


def _mime(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    # the document types WhatsApp accepts: a text export (CSV, JSON) goes as text/plain under its own name
    return {"pdf": "application/pdf", "png": "image/png",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}.get(extension, "text/plain")
