"""A flow's ``Message`` as WhatsApp Cloud API messages, within WhatsApp's limits.

Pure: no I/O. Formatting: the flows' markup becomes WhatsApp's (``*bold*``, ``_italic_``:
``bot.markup.whatsapp``). Buttons become options: up to 3 reply buttons, up to 10 rows of a list
message, more as a list paged 9 rows at a time with a "more…" row. A title too long is cut at a
word with "…", and then every option's full text is listed in the body (unless the text above says
it). A typed answer maps back to an option without reading its title (``typed_answer``): a number
is the one the flow gave the option (``Button.number``), else its position; or the option's own
text. Links (``bot.links``): a button linking into the bot's own chat ("Open the ballot") becomes an
option doing what the link does — the member is in that chat already; a web link button becomes a
line in the body; a link into the chat in a text becomes a wa.me link that types ``/start PAYLOAD``
(or the command to type); a link adding the bot to a group means nothing here and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote

from bot import markup
from bot.domain.text import shorten as shorten_text
from bot.flows.types import Message
from bot.i18n import N_, Translator
from bot.links import PRIVATE, WEB, Link

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


class Option(NamedTuple):
    """A choice as WhatsApp offers it: its id (the button's payload, or ``START`` and the target
    of a link into this chat), its full title, and the number the flow shows members for it
    (``Button.number``; None: the flow numbers none)."""

    id: str
    title: str
    number: int | None = None


Options = list[Option]


def as_options(stored: Iterable[Sequence]) -> Options:
    """Options as stored (id, title[, number]): a row from before numbers has none."""
    return [Option(*o) for o in stored]


@dataclass
class Part:
    """One Cloud API message: ``payload`` without ``messaging_product`` and ``to``; ``media``
    (content, mime type, filename) is uploaded first and its id put into the payload."""

    payload: dict
    media: tuple[bytes, str, str] | None = None
    options: Options = field(default_factory=list)  # every option of the message (all pages)
    body: str = ""
    page: int = 0


def numbered(options: Options) -> dict[int, str] | None:
    """The ids of the options by the numbers the flow gave them ("3 · The road", "✅ Confirm #2",
    a score "2"): a typed "3" means the option numbered 3, not the third option (the text above
    numbers them the same way); one the flow did not number is tapped or typed by its text.
    ``None``: the flow numbered none (or one number twice): a typed number is a position."""
    found: dict[int, str] = {}
    for option in options:
        if option.number is not None:
            if option.number in found:
                return None
            found[option.number] = option.id
    return found or None


def typed_option(options: Options, number: int) -> str | None:
    """The id of the option a typed ``number`` means (``None``: no such option)."""
    by_number = numbered(options)
    if by_number is not None:
        return by_number.get(number)
    return options[number - 1].id if 1 <= number <= len(options) else None


@dataclass(frozen=True)
class NoSuchOption:
    """A typed number no option has: ``numbers`` are those to type (the flow's, sorted), or
    ``None`` where options are typed by position (1 to ``count``)."""

    number: int
    count: int
    numbers: list[int] | None


_TYPED_NUMBER = re.compile(r"[#№]?(\d{1,3})\.?")  # \d: any script's decimal digits ("２", "٢"), not "²"


def typed_number(text: str) -> int | None:
    """The number a typed answer is ("2", " 2 ", "２", "#2", "2.", "02"), else None."""
    found = _TYPED_NUMBER.fullmatch(text.strip())
    return int(found.group(1)) if found else None


def typed_answer(options: Options, text: str) -> str | NoSuchOption | None:
    """What a typed ``text`` answers under ``options``: the id of the option it names (by its
    number, see ``typed_option``, or by its own text, in any case), ``NoSuchOption`` for a number
    no option has, ``None`` for anything else (free text, for the flow)."""
    if not options:
        return None
    number = typed_number(text)
    if number is not None and (chosen := typed_option(options, number)) is not None:
        return chosen
    typed = _bare(text)
    if typed and (same := next((o.id for o in options if _bare(o.title) == typed), None)) is not None:
        return same  # "50%" typed as "50", "Қазақша" for "✓ қазақша"
    if number is not None:
        by_number = numbered(options)
        return NoSuchOption(number, len(options), None if by_number is None else sorted(by_number))
    return None


def _bare(title: str) -> str:
    """An option's text as a person would type it: without the marks around it ("✓ қазақша"),
    in one case, whatever the script (Kazakh and Russian letters too), the spaces collapsed."""
    return " ".join(re.sub(r"^\W+|\W+$", "", title).split()).casefold()


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
            if data is not None and all(data != o.id for o in options):
                options.append(Option(data, " ".join(button.text.split()) or "…", button.number))
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
    options = as_options(options)
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
    by_position = numbered(options) is None  # else each shows its own number, the one to type
    titles = [shorten(o.title, limit) for o in shown]
    if len(set(titles)) < len(titles):  # the same title twice (after shortening): numbered
        marks = [first + i + 1 if by_position else o.number for i, o in enumerate(shown)]
        titles = [shorten(o.title if mark is None else f"{mark}. {o.title}", limit) for mark, o in zip(marks, shown)]
    listing = ""
    if any(t != o.title for t, o in zip(titles, shown)) and not all(
            _core(o.title) in text for o in shown):  # cut, and not said above: the full texts in the body
        listing = "\n".join(f"{first + i + 1}. {o.title}" if by_position else o.title for i, o in enumerate(shown))
    body = "\n\n".join(p for p in (text, listing) if p)
    parts: list[Part] = []
    if len(body) > BODY_MAX:  # the text goes first on its own; the options with their listing
        parts.extend(Part({"type": "text", "text": {"body": chunk}}) for chunk in split(text))
        body = shorten(listing, BODY_MAX) if listing else tr.t(CHOOSE_BODY)
    if as_buttons:
        action = {"buttons": [{"type": "reply", "reply": {"id": o.id, "title": title}}
                              for o, title in zip(shown, titles)]}
        payload = {"type": "button", "body": {"text": body}, "action": action}
    else:
        rows = [{"id": o.id, "title": title} for o, title in zip(shown, titles)]
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
