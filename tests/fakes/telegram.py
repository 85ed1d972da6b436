"""A fake Telegram Bot API server for end-to-end tests.

The real bot, with aiogram's real HTTP session, talks to this server on 127.0.0.1::

    async with FakeTelegram(token="123:ABC", bot_username="qatysu_test_bot") as tg:
        bot = Bot(tg.token, session=tg.session())   # = AiohttpSession(api=tg.api_server())
        ...                                # start the dispatcher (polling) or a webhook app
        alice = tg.user(1001, "Әлия")
        tg.send(alice, "/start")
        msg = await tg.next_message(alice)         # the bot's first reply ...
        tip = await tg.next_message(alice)         # ... and its second one
        assert "Сәлем" in msg["text"]
        upd = tg.press(alice, msg, "lang:kk")      # or tg.press_button(alice, msg, "қазақша")
        assert (await tg.answer_to(upd))["show_alert"] is False
        await tg.assert_silent(alice)

Waiting never races: by default the wait methods look at the calls the bot made since
the test last produced an update (``send``, ``press``, ...), and ``next_message`` /
``next_edit`` additionally remember what they already returned, so awaiting something
else in between loses nothing. ``since=tg.mark()`` sets the starting point explicitly.

What it does, in Bot API terms:

* speaks the Bot API's JSON: ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}``;
  accepts GET query strings, url-encoded forms, multipart forms (files referenced by
  ``attach://name``) and JSON bodies, exactly as aiogram and other clients send them;
* keeps an update queue with Telegram's ``getUpdates`` semantics (offset confirmation,
  ``limit``, long polling, ``allowed_updates`` filtering, 409 when a webhook is set or
  when a second poller steals the connection);
* keeps every chat's messages and answers edits, deletions and callback answers with
  the same errors Telegram gives (``message is not modified``, ``message to edit not
  found``, ``query is too old``, ``bot was blocked by the user``, ``can't parse
  entities`` for broken HTML/MarkdownV2, ``BUTTON_DATA_INVALID``, ...);
* records everything the bot did (``tg.sent``) and lets tests wait for it;
* can deliver updates to the bot's webhook (``deliver_webhook``), executing a Bot API
  method the bot returns in the webhook response, like Telegram does;
* can enforce Telegram's flood limits (429 + ``retry_after``) and inject faults
  (``fail_next``, ``slow``, ``throttle_for``). An edit in a private chat that answers a
  button press of that chat (within ``own_tap_window`` seconds of the bot's answer to the
  callback query; one edit per press) is interactive feedback and not counted against the
  limits (the project's reading of Telegram's "bulk notifications" limit);
  ``count_own_tap_edits=True`` counts everything.

Realism notes (things that can make a test fail the way production would):

* A user must have written to the bot in private (``tg.send(user, ...)`` in their
  private chat, or ``tg.user(..., started=True)``) before the bot can message them,
  otherwise the bot gets 403 ``bot can't initiate conversation with a user``.
* The bot must be a member of a group (``tg.add_bot_to_group`` or
  ``tg.group(..., with_bot=True)``) before users can write there or the bot can post.
* Text sent with ``parse_mode`` HTML / MarkdownV2 / Markdown is parsed: the stored
  ``text`` is the plain text and ``entities`` holds the formatting; malformed markup
  gives 400 ``can't parse entities`` like Telegram.
* ``editMessageText`` without ``reply_markup`` removes the inline keyboard, as in
  Telegram.

Everything runs in the test's event loop; the public methods that produce updates are
plain (synchronous) functions, the ones that wait are coroutines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import struct
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "UploadedFile",
]

JSON = dict[str, Any]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

#: Methods that create a new bot message (their Call carries ``.message``).
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
#: Methods that edit a bot message (their Call carries ``.message``).
EDIT_METHODS = frozenset({"editmessagetext", "editmessagereplymarkup", "editmessagecaption"})
#: Methods counted by :meth:`FakeTelegram.enforce_limits`.
LIMITED_METHODS = SEND_METHODS | EDIT_METHODS | frozenset(
    {
        "sendmediagroup", "copymessage", "forwardmessage", "sendvideo", "sendaudio",
        "sendanimation", "sendsticker", "sendvoice", "senddice", "sendpoll",
        "sendlocation", "sendcontact", "editmessagemedia",
    }
)
#: Methods that are accepted, recorded and answered ``true`` without further logic.
_ACCEPT_TRUE = frozenset(
    {
        "setmydescription", "setmyshortdescription", "setmyname", "setchatmenubutton",
        "setmydefaultadministratorrights", "pinchatmessage", "unpinchatmessage",
        "unpinallchatmessages", "setmessagereaction", "leavechat", "close", "logout",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)

#: Form fields whose value is always a plain string (never JSON-decoded).
_TEXT_FIELDS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "url", "secret_token",
        "action", "title", "description", "short_description", "name", "language_code",
        "inline_message_id", "file_id", "photo", "document", "ip_address", "emoji",
        "business_connection_id", "message_effect_id", "certificate", "thumbnail",
        "question", "phone_number", "first_name", "last_name", "vcard",
    }
)
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?\Z")

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_GETUPDATES_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
    "to delete the webhook first"
)
_GETUPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running"
)
_DEFAULT_ERROR_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_ALL = "*"


class _ApiError(Exception):
    """Raised inside method handlers; becomes an ``ok: false`` answer."""

    def __init__(self, code: int, description: str, retry_after: int | None = None,
                 migrate_to_chat_id: int | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------
# Public data classes
# --------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """A file part the bot uploaded in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One request the bot made (everything except ``getUpdates``).

    Attributes:
        index: position in :attr:`FakeTelegram.sent` (what :meth:`FakeTelegram.mark`
            returns is the index the *next* call will get).
        method: the method name as the bot sent it (``"sendMessage"``).
        params: the parameters, JSON fields decoded (``reply_markup`` is a dict,
            ``chat_id`` an int, ``show_alert`` a bool, ...). Text fields stay strings.
        files: multipart file parts by field name.
        time: ``time.monotonic()`` when the request was handled.
        status: HTTP status answered (200, 400, 429, ...).
        result: the ``result`` answered when ok.
        description: the error description when not ok.
        retry_after: set on 429 answers.
        message: for send/edit methods that succeeded, the *live* message record
            (see :meth:`FakeTelegram.messages`).
        text: for send/edit methods that succeeded, the message's plain text (or
            caption) as produced by this very call.
        via: ``"http"`` or ``"webhook-reply"`` (a method returned in a webhook answer).
    """

    index: int
    method: str
    params: JSON
    files: dict[str, UploadedFile]
    time: float
    status: int = 200
    result: Any = None
    description: str | None = None
    retry_after: int | None = None
    message: JSON | None = None
    text: str | None = None
    via: str = "http"

    @property
    def ok(self) -> bool:
        """True when the bot got ``{"ok": true}``."""
        return 200 <= self.status < 300

    @property
    def chat_id(self) -> Any:
        """The ``chat_id`` parameter, if any."""
        return self.params.get("chat_id")

    def __str__(self) -> str:
        return _describe_call(self)


@dataclass(eq=False)
class FakeUser:
    """A Telegram user the test acts as. Create with :meth:`FakeTelegram.user`.

    ``started`` becomes True once the user writes to the bot in private; ``blocked``
    is set by :meth:`FakeTelegram.block`. The private chat id equals ``id``.
    """

    id: int
    first_name: str
    language_code: str | None = "kk"
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    started: bool = False
    blocked: bool = False
    _tg: FakeTelegram | None = field(default=None, repr=False)

    def to_dict(self) -> JSON:
        """The Bot API ``User`` object."""
        d: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d

    @property
    def chat(self) -> FakeChat:
        """The user's private chat with the bot."""
        assert self._tg is not None
        return self._tg.chat(self.id)

    # Conveniences delegating to the FakeTelegram ------------------------------------
    def send(self, text: str, chat: FakeChat | int | None = None, **kw: Any) -> JSON:
        """Same as ``tg.send(self, text, chat, ...)``."""
        assert self._tg is not None
        return self._tg.send(self, text, chat, **kw)

    def press(self, message: Any, data: str, **kw: Any) -> JSON:
        """Same as ``tg.press(self, message, data, ...)``."""
        assert self._tg is not None
        return self._tg.press(self, message, data, **kw)

    def press_button(self, message: Any, text: str, **kw: Any) -> JSON:
        """Same as ``tg.press_button(self, message, text, ...)``."""
        assert self._tg is not None
        return self._tg.press_button(self, message, text, **kw)


@dataclass(eq=False)
class FakeChat:
    """A chat: private (``id`` == user id > 0) or a group (``id`` < 0).

    ``bot_status`` is the bot's membership status ("member", "administrator",
    "left", "kicked"; private chats: "member"). ``member_status`` maps user ids to
    the status :meth:`FakeTelegram.set_member` stored (default "member").
    """

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: FakeUser | None = None
    bot_status: str = "left"
    member_status: dict[int, str] = field(default_factory=dict)
    migrated_to: int | None = None  # a group upgraded to this supergroup (sends get 400)
    _next_mid: int = field(default=1, repr=False)
    _messages: dict[int, JSON] = field(default_factory=dict, repr=False)
    _bot_messages: list[JSON] = field(default_factory=list, repr=False)

    @property
    def is_group(self) -> bool:
        return self.type != "private"

    def to_dict(self) -> JSON:
        """The Bot API ``Chat`` object."""
        if self.type == "private":
            assert self.user is not None
            d: JSON = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                d["last_name"] = self.user.last_name
            if self.user.username:
                d["username"] = self.user.username
            return d
        d = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            d["username"] = self.username
        return d

    def _new_message_id(self) -> int:
        mid = self._next_mid
        self._next_mid += 1
        return mid


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None


@dataclass
class _QueuedRedelivery:
    update: JSON
    delivered: bool = False


# --------------------------------------------------------------------------------------
# Helpers: text, markup, images
# --------------------------------------------------------------------------------------


def _u16(s: str) -> int:
    """Length in UTF-16 code units (what Telegram entity offsets count)."""
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) // 2


def _byte_offset(src: str, i: int) -> int:
    return len(src[:i].encode("utf-8"))


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link",
    "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*?)?)\s*/?>")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_ENTITY_RE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot);")
_HTML_SPECIAL_RE = re.compile(r"[<&]")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _entities_err(msg: str) -> _ApiError:
    return _bad(f"can't parse entities: {msg}")


def _parse_html(src: str) -> tuple[str, list[JSON]]:
    out: list[str] = []
    pos = 0  # UTF-16 position in the output
    stack: list[tuple[str, int, JSON | None]] = []  # (tag, start, entity-template)
    entities: list[JSON] = []
    i, n = 0, len(src)
    while i < n:
        m = _HTML_SPECIAL_RE.search(src, i)
        j = m.start() if m else n
        if j > i:
            chunk = src[i:j]
            out.append(chunk)
            pos += _u16(chunk)
            i = j
            continue
        if src[i] == "&":
            em = _HTML_ENTITY_RE.match(src, i)
            if em:
                name = em.group(1)
                if name.startswith("#x"):
                    ch = chr(int(name[2:], 16))
                elif name.startswith("#"):
                    ch = chr(int(name[1:]))
                else:
                    ch = _NAMED[name]
                out.append(ch)
                pos += _u16(ch)
                i = em.end()
            else:  # Telegram tolerates a lone '&'
                out.append("&")
                pos += 1
                i += 1
            continue
        tm = _TAG_RE.match(src, i)
        if not tm:
            raise _entities_err(f'Unsupported start tag "" at byte offset {_byte_offset(src, i)}')
        closing, tag, attrs_s = tm.group(1) == "/", tm.group(2).lower(), tm.group(3) or ""
        if closing:
            if not stack:
                raise _entities_err(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
            open_tag, start, tmpl = stack.pop()
            if open_tag != tag:
                raise _entities_err(
                    f'Unmatched end tag at byte offset {_byte_offset(src, i)}, '
                    f'expected "</{open_tag}>", found "</{tag}>"'
                )
            if tmpl is not None and pos > start:
                entities.append({**tmpl, "offset": start, "length": pos - start})
        else:
            if tag not in _HTML_TAGS:
                raise _entities_err(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, i)}'
                )
            attrs = {
                a.group(1).lower(): (a.group(2) or a.group(3) or a.group(4) or "")
                for a in _ATTR_RE.finditer(attrs_s)
            }
            tmpl: JSON | None = {"type": _HTML_TAGS[tag]}
            if tag == "span" and attrs.get("class") != "tg-spoiler":
                raise _entities_err('Tag "span" must have class "tg-spoiler"')
            if tag == "a":
                href = attrs.get("href")
                if href:
                    tmpl["url"] = href
                else:
                    tmpl = None
            elif tag == "blockquote" and "expandable" in attrs:
                tmpl["type"] = "expandable_blockquote"
            elif tag == "tg-emoji":
                tmpl["custom_emoji_id"] = attrs.get("emoji-id", "")
            elif tag == "code" and stack and stack[-1][0] == "pre":
                lang = attrs.get("class", "")
                if lang.startswith("language-") and stack[-1][2] is not None:
                    stack[-1][2]["language"] = lang[len("language-"):]
                    tmpl = None
            stack.append((tag, pos, tmpl))
        i = tm.end()
    if stack:
        raise _entities_err(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl",
}


def _parse_markdown_v2(src: str) -> tuple[str, list[JSON]]:
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, int]] = []  # (kind, start pos, src index)
    entities: list[JSON] = []
    i, n = 0, len(src)

    def emit(s: str) -> None:
        nonlocal pos
        out.append(s)
        pos += _u16(s)

    def toggle(kind: str, at: int) -> None:
        if stack and stack[-1][0] == kind:
            _, start, _ = stack.pop()
            if pos > start:
                entities.append({"type": kind, "offset": start, "length": pos - start})
        elif any(k == kind for k, _, _ in stack):
            k, _, src_i = stack[-1]
            raise _entities_err(
                f"Can't find end of {_MDV2_NAMES.get(k, k)} entity at byte offset "
                f"{_byte_offset(src, src_i)}"
            )
        else:
            stack.append((kind, pos, at))

    def unescape(s: str) -> str:
        return re.sub(r"\\(.)", r"\1", s)

    while i < n:
        c = src[i]
        if c == "\\":
            if i + 1 < n and ord(src[i + 1]) <= 126:
                emit(src[i + 1])
                i += 2
            else:
                emit("\\")
                i += 1
            continue
        if c == "`":
            fence = "```" if src.startswith("```", i) else "`"
            k = i + len(fence)
            while True:
                end = src.find(fence, k)
                if end == -1:
                    kind = "Pre" if fence == "```" else "Code"
                    raise _entities_err(
                        f"Can't find end of {kind} entity at byte offset {_byte_offset(src, i)}"
                    )
                if src[end - 1] == "\\" and src[end - 2 : end] != "\\\\":
                    k = end + 1
                    continue
                break
            body = src[i + len(fence) : end]
            ent: JSON = {"type": "pre" if fence == "```" else "code"}
            if fence == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    ent["language"] = first
                    body = rest
            body = unescape(body)
            start = pos
            emit(body)
            if body:
                entities.append({**ent, "offset": start, "length": pos - start})
            i = end + len(fence)
            continue
        if c == "*":
            toggle("bold", i)
        elif c == "~":
            toggle("strikethrough", i)
        elif c == "_":
            if src.startswith("__", i):
                toggle("underline", i)
                i += 1
            else:
                toggle("italic", i)
        elif c == "|" and src.startswith("||", i):
            toggle("spoiler", i)
            i += 1
        elif c == "[":
            stack.append(("text_link", pos, i))
        elif c == "]" and stack and stack[-1][0] == "text_link" and src.startswith("(", i + 1):
            close = i + 2
            while close < n and src[close] != ")":
                close += 2 if src[close] == "\\" else 1
            if close >= n:
                raise _entities_err(
                    f"Can't find end of a url at byte offset {_byte_offset(src, i + 1)}"
                )
            url = unescape(src[i + 2 : close])
            _, start, _ = stack.pop()
            if pos > start:
                entities.append(
                    {"type": "text_link", "offset": start, "length": pos - start, "url": url}
                )
            i = close
        elif c == ">" and (i == 0 or src[i - 1] == "\n"):
            pass  # block quote marker: accepted, no entity recorded
        elif c in _MDV2_RESERVED:
            raise _entities_err(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            emit(c)
        i += 1
    if stack:
        k, _, src_i = stack[-1]
        raise _entities_err(
            f"Can't find end of {_MDV2_NAMES.get(k, k)} entity at byte offset "
            f"{_byte_offset(src, src_i)}"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD1_RE = re.compile(r"```(.*?)```|\*(.*?)\*|_(.*?)_|`(.*?)`|\[(.*?)\]\((.*?)\)", re.S)


def _parse_markdown(src: str) -> tuple[str, list[JSON]]:
    """Legacy ``Markdown``: *bold* _italic_ `code` ```pre``` [text](url)."""
    out: list[str] = []
    pos = 0
    entities: list[JSON] = []
    i = 0
    for m in _MD1_RE.finditer(src):
        plain = src[i : m.start()]
        for ch in "*_`[":
            if ch in plain:
                at = i + plain.index(ch)
                raise _entities_err(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(src, at)}"
                )
        out.append(plain)
        pos += _u16(plain)
        if m.group(1) is not None:
            kind, body, extra = "pre", m.group(1), {}
        elif m.group(2) is not None:
            kind, body, extra = "bold", m.group(2), {}
        elif m.group(3) is not None:
            kind, body, extra = "italic", m.group(3), {}
        elif m.group(4) is not None:
            kind, body, extra = "code", m.group(4), {}
        else:
            kind, body, extra = "text_link", m.group(5), {"url": m.group(6)}
        out.append(body)
        if body:
            entities.append({"type": kind, "offset": pos, "length": _u16(body), **extra})
        pos += _u16(body)
        i = m.end()
    rest = src[i:]
    for ch in "*_`[":
        if ch in rest:
            at = i + rest.index(ch)
            raise _entities_err(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, at)}"
            )
    out.append(rest)
    return "".join(out), entities


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """Parse ``text`` the way Telegram does for ``parse_mode``.

    Returns ``(plain_text, entities)``; raises a 400 ``can't parse entities`` error
    for malformed markup. Unknown/None parse modes leave the text untouched.
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    return text, []


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}")


def _user_entities(text: str) -> list[JSON]:
    """``bot_command`` and ``mention`` entities Telegram attaches to a user's text."""
    ents: list[JSON] = []
    for m in _COMMAND_RE.finditer(text):
        ents.append({"type": "bot_command", "offset": _u16(text[: m.start()]),
                     "length": _u16(m.group())})
    for m in _MENTION_RE.finditer(text):
        if any(e["offset"] <= _u16(text[: m.start()]) < e["offset"] + e["length"] for e in ents):
            continue
        ents.append({"type": "mention", "offset": _u16(text[: m.start()]),
                     "length": _u16(m.group())})
    ents.sort(key=lambda e: e["offset"])
    return ents


_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)


def _validate_markup(markup: Any) -> JSON | None:
    """Validate a reply_markup like Telegram; returns it (dict) or None."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays")
        total = 0
        for row in rows:
            for b in row:
                total += 1
                if not isinstance(b, dict) or not isinstance(b.get("text"), str):
                    raise _bad("can't parse inline keyboard button: Text must be a String")
                if not b["text"]:
                    raise _bad("text buttons are unallowed in the inline keyboard")
                actions = [a for a in _BUTTON_ACTIONS if a in b]
                if not actions:
                    raise _bad("text buttons are unallowed in the inline keyboard")
                if "callback_data" in b:
                    data = b["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in b:
                    url = b["url"]
                    if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+\Z", url):
                        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        if total > 100:
            raise _bad("reply markup is too long")
        return markup
    if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
        return markup
    raise _bad("can't parse reply keyboard markup JSON object")


def _inline(markup: JSON | None) -> JSON | None:
    return markup if markup and "inline_keyboard" in markup else None


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG/JPEG/GIF, or (800, 600) when unknown."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", data[16:24])
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
        if data[:2] == b"\xff\xd8":
            i = 2
            while i < len(data) - 9:
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                              0xCD, 0xCE, 0xCF):
                    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                    return w, h
                seg = struct.unpack(">H", data[i + 2 : i + 4])[0]
                i += 2 + seg
    except (struct.error, IndexError):
        pass
    return 800, 600


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small valid PNG (used as the default user photo)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _short(value: Any, n: int = 60) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    s = s.replace("\n", "⏎")
    return s if len(s) <= n else s[: n - 1] + "…"


def _describe_markup(markup: Any) -> str:
    if not isinstance(markup, dict):
        return ""
    if "inline_keyboard" in markup:
        rows = []
        for row in markup["inline_keyboard"]:
            cells = []
            for b in row:
                target = b.get("callback_data") or b.get("url") or "?"
                cells.append(f"{b.get('text')}→{target}")
            rows.append(" | ".join(cells))
        return " kb=[" + " / ".join(rows) + "]"
    if "keyboard" in markup:
        return " reply_kb=" + _short(markup["keyboard"], 40)
    return " markup=" + _short(markup, 40)


def _describe_call(c: Call, t0: float | None = None) -> str:
    p = c.params
    parts = [f"#{c.index}"]
    if t0 is not None:
        parts.append(f"+{c.time - t0:.3f}s")
    parts.append(c.method)
    if "chat_id" in p:
        parts.append(f"chat={p['chat_id']}")
    if "message_id" in p:
        parts.append(f"msg={p['message_id']}")
    for key in ("text", "caption"):
        if key in p:
            parts.append(f"{key}={_short(p[key])!s}")
    if "callback_query_id" in p:
        parts.append(f"cb={p['callback_query_id']}")
        if "show_alert" in p:
            parts.append(f"alert={p['show_alert']}")
    for key, f in c.files.items():
        parts.append(f"file:{key}={f.filename}({len(f.data)}B)")
    line = " ".join(parts) + _describe_markup(p.get("reply_markup"))
    if c.via != "http":
        line += f" [{c.via}]"
    if c.ok:
        if c.message is not None:
            line += f" -> ok msg_id={c.message['message_id']}"
        else:
            line += " -> ok"
    else:
        line += f" -> {c.status} {c.description}"
        if c.retry_after:
            line += f" (retry_after={c.retry_after})"
    return line


def _decode_value(key: str, value: str) -> Any:
    if key in _TEXT_FIELDS or not value:
        return value
    first = value[0]
    if first in "{[" or value in ("true", "false", "null") or _NUMBER_RE.match(value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _update_type(update: JSON) -> str:
    for key in update:
        if key != "update_id":
            return key
    return ""


# --------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------


class FakeTelegram:
    """A fake Telegram Bot API server on 127.0.0.1 plus the test's remote control.

    Args:
        token: the only token accepted (others get 401 Unauthorized). The bot id is
            the part before the colon.
        bot_username: the bot's username (``getMe``, ``/cmd@username`` commands).
        bot_first_name: the bot's display name.
        privacy_mode: when True, group messages that are neither commands, mentions
            of the bot nor replies to the bot are not delivered (Telegram's default
            for bots); False (default) delivers everything.
        host, port: where to listen; port 0 picks a free port.

    Use as ``async with FakeTelegram(...) as tg:`` or call :meth:`start` /
    :meth:`close` yourself.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        bot_username: str = "qatysu_test_bot",
        *,
        bot_first_name: str = "Qatysu Test",
        privacy_mode: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.privacy_mode = privacy_mode
        self._host = host
        self._port = port
        self._bot_user: JSON = {
            "id": self.bot_id, "is_bot": True, "first_name": bot_first_name,
            "username": bot_username,
        }

        # Recording
        self.sent: list[Call] = []
        """Every request the bot made except ``getUpdates``, in order (see :class:`Call`)."""
        self.callback_answers: dict[str, JSON] = {}
        """callback query id -> ``{"text", "show_alert", "url", "cache_time"}``."""
        self.updates: list[JSON] = []
        """Every update the test produced (delivered or not), in order."""
        self.dropped_updates: list[JSON] = []
        """Updates not queued because of ``allowed_updates`` or privacy mode."""
        self.stats: Counter[str] = Counter()
        """Requests per method name (including ``getUpdates``)."""
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        """``(scope_json, language_code) -> commands`` as set by setMyCommands."""
        self.files: dict[str, _StoredFile] = {}
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.webhook_allowed_updates: list[str] | None = None
        self.webhook_deliveries: Counter[str] = Counter()
        """2xx answers by worker URL (``pump_webhooks``)."""
        self.webhook_failures: Counter[str] = Counter()
        """Deliveries that got no 2xx, by worker URL (``pump_webhooks``): each was delivered again."""

        # State
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, FakeChat] = {}
        self._queue: deque[JSON] = deque()
        self._redeliveries: deque[_QueuedRedelivery] = deque()
        self._confirmed = 0
        self._next_update_id = 10_001
        self._update_mark = 0  # len(sent) when the test last produced an update
        self._cursors: dict[tuple[Any, ...], int] = {}
        self._allowed_updates: frozenset[str] | None = None
        self._poll_waiters: set[asyncio.Future[str]] = set()
        self._call_waiters: list[tuple[Callable[[Call], bool], asyncio.Future[Call]]] = []
        self._open_callbacks: dict[str, float] = {}  # callback query id -> when it was pressed
        # Telegram refuses an answer to a callback query pressed too long ago (the window is not
        # documented; about 15 s is reported). None: never too old (the default).
        self.callback_expiry: float | None = None
        self._cb_counter = itertools.count(1)
        self._file_counter = itertools.count(1)
        self._t0 = time.monotonic()

        # Faults and limits
        self._limits: JSON | None = None
        self._global_times: deque[float] = deque()
        self._chat_times: dict[Any, deque[float]] = {}
        self._group_times: dict[Any, deque[float]] = {}
        self._press_chats: dict[str, Any] = {}  # callback query id → its private chat
        self._presses: dict[Any, deque[float]] = {}  # private chat → when the bot answered its presses not yet
        # answered by an edit
        self.own_tap_edits = 0
        """How many edits answered a press in their private chat and were not counted (limits on)."""
        self.count_429 = 0
        """How many 429 answers were given (limits and :meth:`throttle_for`)."""
        self._fail_left = 0
        self._fail_status = 500
        self._fail_description: str | None = None
        self._fail_body: str | None = None
        self._fail_methods: frozenset[str] | str | None = None
        self._slow_seconds = 0.0
        self._slow_methods: frozenset[str] | str | None = None
        self._holding = False
        self._held_methods: frozenset[str] | str | None = None
        self._held: list[asyncio.Future[bool]] = []  # requests held, each resolved by release()
        self._throttle_until = 0.0
        self._throttle_retry_after: int | None = None
        self._throttle_methods: frozenset[str] | str | None = None

        # Server
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._closing: asyncio.Future[None] | None = None
        self.port: int = 0
        self._handlers: dict[str, Callable[..., Any]] = {
            name[len("_m_"):]: getattr(self, name)
            for name in dir(self)
            if name.startswith("_m_")
        }

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> FakeTelegram:
        """Start listening (on a free port unless one was given)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._http_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._http_file)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0,
            handler_cancellation=True,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._closing = asyncio.get_running_loop().create_future()
        self._t0 = time.monotonic()
        return self

    async def close(self) -> None:
        """Wake every long poll (answering an empty list), stop the server."""
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)
        self.release(apply=False)
        self._wake_pollers("closing")
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` — pass to ``TelegramAPIServer.from_base``."""
        return f"http://{self._host}:{self.port}"

    def api_server(self) -> Any:
        """An aiogram ``TelegramAPIServer`` pointing here (imports aiogram lazily)."""
        from aiogram.client.telegram import TelegramAPIServer

        return TelegramAPIServer.from_base(self.base_url)

    def session(self, **kwargs: Any) -> Any:
        """aiogram's real ``AiohttpSession`` pointed at this server.

        The only change: ``close()`` skips the 0.25 s sleep aiogram adds for SSL
        connections (there are none here), which keeps test teardown fast. Pass it as
        ``Bot(tg.token, session=tg.session())``; extra kwargs go to AiohttpSession
        (e.g. ``timeout=2``).
        """
        return _fast_close_session_class()(api=self.api_server(), **kwargs)

    # ---------------------------------------------------------------- actors
    def user(
        self,
        id: int,
        first_name: str,
        language_code: str | None = "kk",
        username: str | None = None,
        *,
        last_name: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        """Create (or return the existing) user ``id``; its private chat id is ``id``.

        ``started=True`` pretends the user already opened the bot, so the bot may
        message them before they write anything.
        """
        if id <= 0:
            raise ValueError("user ids are positive")
        u = self._users.get(id)
        if u is None:
            u = FakeUser(id, first_name, language_code, username, last_name, _tg=self,
                         started=started)
            self._users[id] = u
            self._chats[id] = FakeChat(id, "private", user=u, bot_status="member")
        elif started:
            u.started = True
        return u

    def group(
        self,
        id: int,
        title: str,
        *,
        type: str | None = None,
        username: str | None = None,
        with_bot: bool = False,
    ) -> FakeChat:
        """Create (or return the existing) group chat ``id`` (negative).

        ``type`` defaults to "supergroup" for ``-100…`` ids, "group" otherwise.
        ``with_bot=True`` makes the bot a member silently (no my_chat_member update);
        otherwise use :meth:`add_bot_to_group`.
        """
        if id >= 0:
            raise ValueError("group ids are negative")
        c = self._chats.get(id)
        if c is None:
            if type is None:
                type = "supergroup" if id <= -1_000_000_000_000 else "group"
            c = FakeChat(id, type, title=title, username=username)
            self._chats[id] = c
        if with_bot and c.bot_status in ("left", "kicked"):
            c.bot_status = "member"
        return c

    def chat(self, chat: FakeChat | FakeUser | int) -> FakeChat:
        """The chat for a FakeChat, a FakeUser (private chat) or a chat id."""
        cid = self._cid(chat)
        try:
            return self._chats[cid]
        except KeyError:
            raise KeyError(f"unknown chat {cid}; create it with tg.user() or tg.group()") from None

    def set_member(self, chat: FakeChat | int, user: FakeUser | int, status: str) -> None:
        """Set what ``getChatMember(chat, user)`` answers ("creator", "administrator",
        "member", "restricted", "left", "kicked")."""
        uid = user.id if isinstance(user, FakeUser) else int(user)
        self.chat(chat).member_status[uid] = status

    # ---------------------------------------------------------------- producing updates
    def send(
        self,
        user: FakeUser,
        text: str,
        chat: FakeChat | int | None = None,
        *,
        reply_to: Any = None,
        extra: JSON | None = None,
    ) -> JSON:
        """The user writes ``text`` (in their private chat, or in ``chat``).

        ``/commands`` (also ``/cmd@bot`` in groups) get ``bot_command`` entities and
        ``@names`` ``mention`` entities, like Telegram. ``reply_to`` may be a message
        record/dict or message id. Returns the update dict (also when privacy mode
        kept it from the bot; see :attr:`dropped_updates`). ``extra``: more message fields, as
        Telegram sends them (``{"link_preview_options": {...}}``).
        """
        c = self._sender_chat(user, chat)
        msg = self._user_message(user, c, text=text, entities=_user_entities(text) or None,
                                 reply_to=reply_to, **(extra or {}))
        deliver = True
        if c.is_group and self.privacy_mode and c.bot_status != "administrator":
            deliver = self._privacy_allows(msg)
        return self._push({"message": msg}, deliver=deliver)

    def share_contact(self, user: FakeUser, phone: str, chat: FakeChat | int | None = None, *,
                      owner: FakeUser | None = None) -> JSON:
        """The user shares their own contact (phone number) with the bot, or ``owner``'s card."""
        c = self._sender_chat(user, chat)
        card = owner or user
        contact: JSON = {"phone_number": phone, "first_name": card.first_name, "user_id": card.id}
        if card.last_name:
            contact["last_name"] = card.last_name
        return self._push({"message": self._user_message(user, c, contact=contact)})

    def send_photo_from_user(
        self,
        user: FakeUser,
        chat: FakeChat | int | None = None,
        data: bytes | None = None,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> JSON:
        """The user sends a photo (default: a tiny PNG). The bot can ``getFile`` it and
        download it from ``/file/bot<token>/<file_path>``. ``file_size``: what the largest size
        claims to weigh (a 21 MB photo without holding 21 MB here)."""
        c = self._sender_chat(user, chat)
        data = tiny_png() if data is None else data
        sizes = self._store_photo(data)
        if file_size is not None:
            sizes[-1]["file_size"] = file_size
        extra: JSON = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        return self._push({"message": self._user_message(user, c, **extra)})

    def send_document_from_user(self, user: FakeUser, name: str, data: bytes,
                                chat: FakeChat | int | None = None, mime: str = "application/pdf") -> JSON:
        """The user sends a file (``document``), as Telegram's clients do for "send as file"."""
        c = self._sender_chat(user, chat)
        sf = self._store_file(data, "documents", name.rpartition(".")[2] or "bin", "BQAC", mime=mime)
        document = {"file_id": sf.file_id, "file_unique_id": sf.file_unique_id, "file_name": name,
                    "mime_type": mime, "file_size": len(data)}
        return self._push({"message": self._user_message(user, c, document=document)})

    def press(
        self,
        user: FakeUser,
        message: Any,
        data: str,
        *,
        chat: FakeChat | int | None = None,
        strict: bool = True,
    ) -> JSON:
        """The user presses an inline button with ``callback_data=data`` on ``message``.

        ``message`` is a record from :meth:`messages`/:meth:`next_message`, a Bot API
        message dict, or a message id (in ``chat``, default the user's private chat).
        The update carries the message as it is *now* (after edits) and a unique
        callback query id. With ``strict`` (default) the message must exist and carry
        a button with that data — pass ``strict=False`` to forge stale/odd presses.
        """
        rec = self._resolve_message(user, message, chat, strict=strict)
        if strict:
            markup = _inline(rec.get("reply_markup")) if rec else None
            datas = [b.get("callback_data") for row in (markup or {}).get("inline_keyboard", [])
                     for b in row]
            if data not in datas:
                raise AssertionError(
                    f"message {rec and rec['message_id']} has no button with callback_data "
                    f"{data!r}; buttons: {datas}"
                )
        raw = rec["raw"] if rec else {
            "message_id": int(message) if isinstance(message, int) else 0,
            "chat": self.chat(chat if chat is not None else user).to_dict(), "date": 0,
        }
        cb_id = str(4_000_000_000_000_000_000 + self.bot_id * 1_000 + next(self._cb_counter))
        self._open_callbacks[cb_id] = time.monotonic()
        if raw["chat"].get("type") == "private":  # an edit answering it is not counted (enforce_limits)
            self._press_chats[cb_id] = raw["chat"]["id"]
        cq: JSON = {
            "id": cb_id,
            "from": user.to_dict(),
            "message": raw,
            "chat_instance": str(abs(hash((raw["chat"]["id"], self.bot_id))) % 10**19),
            "data": data,
        }
        return self._push({"callback_query": cq})

    def press_button(self, user: FakeUser, message: Any, text: str, **kw: Any) -> JSON:
        """Press the inline button whose label is ``text`` (exact, else the only one
        containing it)."""
        rec = self._resolve_message(user, message, kw.get("chat"), strict=True)
        button = self.button(rec, text)
        if "callback_data" not in button:
            raise AssertionError(f"button {button} has no callback_data")
        return self.press(user, rec, button["callback_data"], **kw)

    def add_bot_to_group(
        self,
        user: FakeUser,
        group: FakeChat | int,
        *,
        status: str = "member",
        service_message: bool = False,
    ) -> JSON:
        """``user`` adds the bot to ``group``: a ``my_chat_member`` update (left → status).

        ``service_message=True`` also sends the ``new_chat_members`` message Telegram
        sends alongside. Returns the my_chat_member update.
        """
        c = self.chat(group)
        upd = self._bot_status_change(user, c, status)
        if service_message:
            msg = self._user_message(user, c, new_chat_members=[dict(self._bot_user)])
            self._push({"message": msg})
        return upd

    def upgrade_group(self, user: FakeUser, group: FakeChat | int, supergroup_id: int) -> FakeChat:
        """Telegram turns ``group`` into a supergroup (an admin enabled topics, a public link...):
        the chat gets a new id, the old group's service message says ``migrate_to_chat_id``, the
        new one's ``migrate_from_chat_id``, and sends to the old id fail with that parameter."""
        old = self.chat(group)
        new = self.group(supergroup_id, old.title or "", type="supergroup")
        new.bot_status, new.member_status = old.bot_status, dict(old.member_status)
        old.migrated_to = supergroup_id
        self._push({"message": self._user_message(user, old, migrate_to_chat_id=supergroup_id)})
        self._push({"message": self._user_message(user, new, migrate_from_chat_id=old.id)})
        return new

    def remove_bot_from_group(self, user: FakeUser, group: FakeChat | int, *, status: str = "kicked") -> JSON:
        """``user`` removes the bot ("kicked", or "left"): a ``my_chat_member`` update."""
        return self._bot_status_change(user, self.chat(group), status)

    def block(self, user: FakeUser) -> JSON:
        """The user blocks the bot: my_chat_member (member → kicked); sends then get 403."""
        user.blocked = True
        return self._bot_status_change(user, self.chat(user.id), "kicked")

    def unblock(self, user: FakeUser) -> JSON:
        """The user unblocks the bot: my_chat_member (kicked → member)."""
        user.blocked = False
        return self._bot_status_change(user, self.chat(user.id), "member")

    def redeliver(self, update: JSON) -> None:
        """Queue an identical copy of ``update`` (same update_id) once more, as Telegram
        does when it believes the bot never confirmed it. Served before newer updates
        and dropped once a later ``getUpdates`` offset passes it."""
        self._redeliveries.append(_QueuedRedelivery(json.loads(json.dumps(update))))
        self._update_mark = len(self.sent)
        self._wake_pollers("update")

    def push(self, body: JSON, *, bypass_allowed: bool = False) -> JSON:
        """Queue a hand-made update (``body`` without ``update_id``, e.g.
        ``{"edited_message": {...}}``) for kinds the other methods cannot produce. With
        ``bypass_allowed`` it is delivered even if the bot's ``allowed_updates`` excludes
        it, as Telegram does for updates queued before that setting changed."""
        if bypass_allowed:
            kept, self._allowed_updates = self._allowed_updates, None
            try:
                return self._push(body)
            finally:
                self._allowed_updates = kept
        return self._push(body)

    def user_message(self, user: FakeUser, chat: FakeChat | int | None = None, **content: Any) -> JSON:
        """A Bot API ``Message`` from ``user`` (in their private chat, or ``chat``) with
        ``content`` fields (``sticker=...``, ``location=...``), stored like sent ones; pass
        it to :meth:`push` as ``{"message": ...}`` or ``{"edited_message": ...}``."""
        return self._user_message(user, self._sender_chat(user, chat), **content)

    def pending(self) -> int:
        """Number of queued updates not yet confirmed by a getUpdates offset (or
        delivered to the webhook)."""
        return len(self._queue) + len(self._redeliveries)

    @property
    def confirmed_offset(self) -> int:
        """The highest ``offset`` the bot confirmed with getUpdates (0 = none yet)."""
        return self._confirmed

    # ---------------------------------------------------------------- reading state
    def messages(self, chat: FakeChat | FakeUser | int) -> list[JSON]:
        """Current state of the bot's (not deleted) messages in a chat, oldest first.

        Each is a live dict: ``message_id, chat_id, kind ("text"|"photo"|"document"),
        text, caption, entities, source (the text/caption exactly as sent, markup
        included), parse_mode, reply_markup (as sent, any kind), photo (bytes|None),
        document (bytes|None), filename, mime_type, file_id, edits (int), deleted,
        date, raw (the Bot API Message dict)``.
        """
        return [m for m in self.chat(chat)._bot_messages if not m["deleted"]]

    def all_messages(self, chat: FakeChat | FakeUser | int) -> list[JSON]:
        """Like :meth:`messages` but including deleted ones."""
        return list(self.chat(chat)._bot_messages)

    def last(self, chat: FakeChat | FakeUser | int) -> JSON | None:
        """The bot's newest not-deleted message in a chat (live record) or None."""
        for m in reversed(self.chat(chat)._bot_messages):
            if not m["deleted"]:
                return m
        return None

    def message(self, chat: FakeChat | FakeUser | int, message_id: int) -> JSON | None:
        """Any stored message (bot's or user's) by id."""
        return self.chat(chat)._messages.get(message_id)

    @staticmethod
    def buttons(message: JSON) -> list[JSON]:
        """The inline buttons of a message record/dict, flattened row by row."""
        markup = message.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @classmethod
    def button(cls, message: JSON, text: str) -> JSON:
        """The inline button labelled ``text`` (exact match, else the only one containing
        it); AssertionError listing the labels otherwise."""
        buttons = cls.buttons(message)
        exact = [b for b in buttons if b.get("text") == text]
        if exact:
            return exact[0]
        partial = [b for b in buttons if text in b.get("text", "")]
        if len(partial) == 1:
            return partial[0]
        labels = [b.get("text") for b in buttons]
        raise AssertionError(f"no single button {text!r} on message; buttons: {labels}")

    def commands_for(self, scope: JSON | None = None, language_code: str = "") -> list[JSON] | None:
        """Commands set by setMyCommands for a scope (default scope) and language."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return self.commands.get((key, language_code))

    def file_bytes(self, file_id: str) -> bytes:
        """Bytes stored for a file id (uploaded by the bot or by a fake user)."""
        return self.files[file_id].data

    def mark(self) -> int:
        """An index into :attr:`sent` (the index the next call will get); pass as
        ``since=`` to the wait methods so only calls made after this point count."""
        return len(self.sent)

    @property
    def allowed_updates(self) -> frozenset[str] | None:
        """Update types the bot asked for (getUpdates/setWebhook ``allowed_updates``);
        None = Telegram's default (all but chat_member and reactions)."""
        return self._allowed_updates

    def calls(self, method: str | None = None, since: int = 0) -> list[Call]:
        """Recorded calls (optionally of one method, case-insensitive) from ``since``."""
        m = method.lower() if method else None
        return [c for c in self.sent[since:] if m is None or c.method.lower() == m]

    def dump(self, last: int = 25) -> str:
        """A readable listing of the last outgoing calls and the queue state."""
        lines = [f"--- last {min(last, len(self.sent))} of {len(self.sent)} bot calls ---"]
        lines += [_describe_call(c, self._t0) for c in self.sent[-last:]]
        lines.append(
            f"--- updates: produced={len(self.updates)} pending={self.pending()} "
            f"confirmed_offset={self._confirmed} dropped={len(self.dropped_updates)} "
            f"allowed_updates={sorted(self._allowed_updates) if self._allowed_updates else 'default'} "
            f"webhook={self.webhook_url or '-'} getUpdates={self.stats['getUpdates']} ---"
        )
        return "\n".join(lines)

    # ---------------------------------------------------------------- waiting
    #
    # Where waiting starts (``since``): by default at the moment the test last produced
    # an update (send/press/share_contact/add_bot_to_group/redeliver/...), so awaiting
    # something else in between never loses a reply. next_message/next_edit also keep a
    # per-chat (per-message) cursor, so calling them repeatedly walks through the bot's
    # replies one by one. Pass ``since=tg.mark()`` to choose the point yourself.

    async def wait_for(
        self,
        predicate: Callable[[Call], bool] | str,
        timeout: float = 5.0,
        *,
        since: int | None = None,
        what: str | None = None,
    ) -> Call:
        """Wait until a recorded call satisfies ``predicate`` and return it.

        ``predicate`` is a function of :class:`Call` (exceptions count as "no") or a
        method name (``"answerCallbackQuery"``). Calls from ``since`` on count; the
        default is the moment the test last produced an update. On timeout raises
        AssertionError with :meth:`dump`.
        """
        if isinstance(predicate, str):
            name = predicate.lower()
            what = what or predicate

            def pred(c: Call) -> bool:
                return c.method.lower() == name
        else:
            pred = predicate
        start = self._update_mark if since is None else since
        for c in itertools.islice(self.sent, start, None):
            if _safe(pred, c):
                return c
        fut: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        waiter = (pred, fut)
        self._call_waiters.append(waiter)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            label = what or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(
                f"timed out after {timeout}s waiting for {label} (calls from #{start})\n"
                f"{self.dump()}"
            ) from None
        finally:
            self._call_waiters.remove(waiter)

    async def next_message(
        self,
        chat: FakeChat | FakeUser | int,
        timeout: float = 5.0,
        contains: str | None = None,
        *,
        since: int | None = None,
    ) -> JSON:
        """Wait for the next bot message (sendMessage/sendPhoto/sendDocument) in
        ``chat`` whose text or caption contains ``contains``; return its live record
        (see :meth:`messages`).

        By default only messages sent after the latest update the test produced *and*
        after the message this method last returned for the chat count, so::

            tg.send(alice, "/start")
            first = await tg.next_message(alice)
            second = await tg.next_message(alice)   # the bot's following message

        ``since`` (a :meth:`mark`) overrides the starting point.
        """
        cid = self._cid(chat)
        key = ("msg", cid)
        start = max(self._update_mark, self._cursors.get(key, 0)) if since is None else since

        def pred(c: Call) -> bool:
            return (
                c.message is not None
                and c.method.lower() in SEND_METHODS
                and c.message["chat_id"] == cid
                and (contains is None or contains in (c.text or ""))
            )

        what = f"a bot message in chat {cid}" + (f" containing {contains!r}" if contains else "")
        call = await self.wait_for(pred, timeout, since=start, what=what)
        self._cursors[key] = max(self._cursors.get(key, 0), call.index + 1)
        assert call.message is not None
        return call.message

    async def next_edit(
        self,
        message: JSON,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> JSON:
        """Wait for the next successful edit (text, caption or markup) of ``message``
        (a record or Bot API message dict); return the live record. Same starting
        rules as :meth:`next_message` (cursor per message)."""
        cid = message.get("chat_id", message.get("chat", {}).get("id"))
        mid = message["message_id"]
        key = ("edit", cid, mid)
        start = max(self._update_mark, self._cursors.get(key, 0)) if since is None else since

        def pred(c: Call) -> bool:
            return (
                c.message is not None
                and c.method.lower() in EDIT_METHODS
                and c.message["chat_id"] == cid
                and c.message["message_id"] == mid
            )

        call = await self.wait_for(pred, timeout, since=start,
                                   what=f"an edit of message {mid} in chat {cid}")
        self._cursors[key] = max(self._cursors.get(key, 0), call.index + 1)
        assert call.message is not None
        return call.message

    async def answer_to(self, update: JSON, timeout: float = 5.0) -> JSON:
        """Wait for the bot's answerCallbackQuery to a callback update (from
        :meth:`press`); return ``{"text", "show_alert", "url", "cache_time"}``."""
        cb_id = update["callback_query"]["id"]
        if cb_id in self.callback_answers:
            return self.callback_answers[cb_id]
        await self.wait_for(
            lambda c: c.ok and c.method.lower() == "answercallbackquery"
            and c.params.get("callback_query_id") == cb_id,
            timeout,
            since=len(self.sent),
            what=f"answerCallbackQuery({cb_id})",
        )
        return self.callback_answers[cb_id]

    async def assert_silent(
        self,
        chat: FakeChat | FakeUser | int | None = None,
        within: float = 0.3,
        *,
        since: int | None = None,
    ) -> None:
        """Assert the bot sends no new message to ``chat`` (or anywhere, when None)
        for ``within`` seconds.

        For a chat, messages already sent but not yet returned by
        :meth:`next_message` (since the latest update) count as "not silent"; for
        ``chat=None`` only messages from now on count. ``since`` overrides.
        """
        cid = None if chat is None else self._cid(chat)
        if since is None:
            if cid is None:
                since = len(self.sent)
            else:
                since = max(self._update_mark, self._cursors.get(("msg", cid), 0))

        def pred(c: Call) -> bool:
            return c.message is not None and c.method.lower() in SEND_METHODS and (
                cid is None or c.message["chat_id"] == cid
            )

        try:
            call = await self.wait_for(pred, within, since=since)
        except AssertionError:
            return
        raise AssertionError(f"expected silence, but the bot sent: {call}\n{self.dump()}")

    async def wait_confirmed(self, timeout: float = 5.0) -> None:
        """Wait until the bot has confirmed every queued update (pending() == 0)."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.pending()} updates still unconfirmed after {timeout}s\n{self.dump()}"
                )
            await asyncio.sleep(0.005)

    # ---------------------------------------------------------------- webhook mode
    async def deliver_webhook(
        self,
        update: JSON,
        *,
        secret: Any = ...,
        timeout: float = 10.0,
        url: str | None = None,
    ) -> int:
        """POST ``update`` to the URL the bot registered with setWebhook (or to ``url``: one
        worker behind that address); return the HTTP status.

        Sends ``X-Telegram-Bot-Api-Secret-Token`` when a secret was set (override with
        ``secret=``; ``secret=None`` omits the header). A 2xx answer removes the
        update from the pending queue. If the bot answers with a Bot API method in the
        response body (aiogram's ``handle_in_background=False``), it is executed and
        recorded like a normal call (``via="webhook-reply"``).
        """
        if not self.webhook_url and url is None:
            raise AssertionError("no webhook set: the bot has not called setWebhook\n" + self.dump())
        headers = {"Content-Type": "application/json"}
        token = self.webhook_secret if secret is ... else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        if self._client is None:
            self._client = aiohttp.ClientSession()
        async with self._client.post(
            url or self.webhook_url, data=json.dumps(update), headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            status = resp.status
            if 200 <= status < 300:
                self._forget(update)
                await self._run_webhook_reply(resp)
        return status

    async def pump_webhooks(self, targets: list[str], *, connections: int = 40, retry_delay: float = 0.1,
                            timeout: float = 10.0) -> None:
        """Be Telegram in webhook mode in front of several workers behind one address (run it as a
        task; cancel it to stop): every pending update is POSTed to one of ``targets`` (full URLs,
        taken in turn, as a load balancer does), up to ``connections`` at once (setWebhook's
        ``max_connections``, 40 by default). An update whose POST got no 2xx (the worker died
        mid-update, refused it, or did not answer within ``timeout``) is delivered again, after
        ``retry_delay``, to the next target: Telegram forgets an update only once it got its 200.
        ``webhook_deliveries`` counts the 2xx answers by target."""
        turn = itertools.count()
        free = asyncio.Semaphore(connections)
        in_flight: set[int] = set()
        tasks: set[asyncio.Task] = set()

        async def deliver(update: JSON) -> None:
            try:
                while True:
                    target = targets[next(turn) % len(targets)]
                    try:
                        status = await self.deliver_webhook(update, url=target, timeout=timeout)
                    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                        status = 0
                    if 200 <= status < 300:
                        self.webhook_deliveries[target] += 1
                        return
                    self.webhook_failures[target] += 1
                    await asyncio.sleep(retry_delay)
            finally:
                in_flight.discard(update["update_id"])
                free.release()

        try:
            while True:
                waiting = [u for u in [r.update for r in self._redeliveries] + list(self._queue)
                           if u["update_id"] not in in_flight]
                if not waiting:
                    woken = asyncio.get_running_loop().create_future()
                    self._poll_waiters.add(woken)
                    try:
                        await asyncio.wait_for(woken, 0.05)
                    except asyncio.TimeoutError:
                        pass
                    finally:
                        self._poll_waiters.discard(woken)
                    continue
                for update in waiting:
                    await free.acquire()
                    in_flight.add(update["update_id"])
                    task = asyncio.create_task(deliver(update))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def deliver_pending_webhooks(self, **kw: Any) -> list[int]:
        """Deliver every pending update to the webhook in order; return the statuses."""
        statuses = []
        for entry in [r.update for r in self._redeliveries] + list(self._queue):
            statuses.append(await self.deliver_webhook(entry, **kw))
        return statuses

    # ---------------------------------------------------------------- limits and faults
    def enforce_limits(
        self,
        per_chat_per_sec: int | None = 1,
        group_per_min: int | None = 20,
        global_per_sec: int | None = 30,
        *,
        count_edits: bool = True,
        count_own_tap_edits: bool = False,
        own_tap_window: float = 10.0,
    ) -> None:
        """Answer 429 Too Many Requests (with ``retry_after``) like Telegram when the bot
        sends faster than: ``per_chat_per_sec`` messages per chat per second,
        ``group_per_min`` per group per minute, ``global_per_sec`` overall. Sliding
        windows; refused requests don't count. None disables one limit.

        Edits count like messages (``count_edits=False``: none does), except an edit in a
        private chat answering a button press of that chat: each press there, once the bot
        has answered its callback query and for ``own_tap_window`` seconds after, lets one
        edit of that chat go uncounted (neither in the 30/s nor in the chat's 1/s) —
        interactive feedback to the member's own tap, not a bulk notification. An edit beyond
        one per press, or later, counts as usual.
        ``count_own_tap_edits=True``: count those too (every edit counts)."""
        self._limits = {
            "chat": per_chat_per_sec, "group": group_per_min, "global": global_per_sec,
            "edits": count_edits, "own_taps": count_own_tap_edits, "own_tap_window": own_tap_window,
        }

    def disable_limits(self) -> None:
        """Stop enforcing flood limits."""
        self._limits = None

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        description: str | None = None,
        body: str | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with an error ``status``.

        ``methods``: names to affect (case-insensitive), ``"*"`` for all including
        getUpdates; default all but getUpdates. ``body`` sends a raw non-JSON body
        (like a proxy's HTML 502 page) instead of the JSON error.
        """
        self._fail_left = n
        self._fail_status = status
        self._fail_description = description
        self._fail_body = body
        self._fail_methods = self._method_set(methods)

    def slow(self, seconds: float, *, methods: Iterable[str] | str | None = None) -> None:
        """Delay every answer by ``seconds`` (0 turns it off). The request is applied
        first and the answer delayed, so a client timing out has still e.g. sent the
        message — the nasty real-world case. ``methods`` as in :meth:`fail_next`."""
        self._slow_seconds = seconds
        self._slow_methods = self._method_set(methods)

    def hold(self, *, methods: Iterable[str] | str | None = None) -> None:
        """Keep requests waiting, not yet applied, until :meth:`release`: the network between
        the bot and Telegram stalls. ``methods`` as in :meth:`fail_next`."""
        self._holding = True
        self._held_methods = self._method_set(methods)

    def release(self, *, apply: bool = True) -> int:
        """Stop holding; the held requests go through, or with ``apply=False`` are dropped
        without effect (the bot process died while they hung). Returns how many were held."""
        self._holding = False
        held, self._held = self._held, []
        for request in held:
            if not request.done():
                request.set_result(apply)
        return len(held)

    def throttle_for(
        self,
        seconds: float,
        retry_after: int | None = None,
        *,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """Answer 429 to every request for ``seconds`` from now, with ``retry_after``
        (default: the seconds left, rounded up). ``methods`` as in :meth:`fail_next`."""
        self._throttle_until = time.monotonic() + seconds
        self._throttle_retry_after = retry_after
        self._throttle_methods = self._method_set(methods)

    # ================================================================= internals
    @staticmethod
    def _method_set(methods: Iterable[str] | str | None) -> frozenset[str] | str | None:
        if methods is None:
            return None
        if methods == _ALL:
            return _ALL
        if isinstance(methods, str):
            methods = [methods]
        return frozenset(m.lower() for m in methods)

    @staticmethod
    def _applies(methods: frozenset[str] | str | None, key: str) -> bool:
        if methods is None:
            return key != "getupdates"
        if methods == _ALL:
            return True
        return key in methods

    def _cid(self, chat: Any) -> int:
        if isinstance(chat, (FakeChat, FakeUser)):
            return chat.id
        if isinstance(chat, dict):
            if "chat_id" in chat:
                return chat["chat_id"]
            if "chat" in chat:
                return chat["chat"]["id"]
        return int(chat)

    # ---- updates
    def _push(self, body: JSON, deliver: bool = True) -> JSON:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._update_mark = len(self.sent)
        self.updates.append(update)
        kind = _update_type(update)
        if not deliver or (self._allowed_updates is not None and kind not in self._allowed_updates):
            self.dropped_updates.append(update)
            return update
        self._queue.append(update)
        self._wake_pollers("update")
        return update

    def _wake_pollers(self, reason: str) -> None:
        for fut in self._poll_waiters:
            if not fut.done():
                fut.set_result(reason)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = -offset
            while len(self._queue) > keep:
                self._queue.popleft()
            return
        if offset > self._confirmed:
            self._confirmed = offset
        q = self._queue
        while q and q[0]["update_id"] < self._confirmed:
            q.popleft()
        if self._redeliveries:
            self._redeliveries = deque(
                r for r in self._redeliveries
                if not (r.delivered and r.update["update_id"] < offset)
            )

    def _take(self, limit: int) -> list[JSON]:
        out: list[JSON] = []
        for r in self._redeliveries:
            if len(out) >= limit:
                return out
            r.delivered = True
            out.append(r.update)
        out.extend(itertools.islice(self._queue, limit - len(out)))
        return out

    def _forget(self, update: JSON) -> None:
        uid = update.get("update_id")
        for r in list(self._redeliveries):
            if r.update.get("update_id") == uid:
                self._redeliveries.remove(r)
                return
        if self._queue and self._queue[0].get("update_id") == uid:
            self._queue.popleft()
            return
        for u in self._queue:
            if u.get("update_id") == uid:
                self._queue.remove(u)
                return

    def _sender_chat(self, user: FakeUser, chat: FakeChat | int | None) -> FakeChat:
        if not isinstance(user, FakeUser):
            raise TypeError("pass a FakeUser from tg.user(...)")
        c = self.chat(user.id if chat is None else chat)
        if c.type == "private":
            if c.id != user.id:
                raise ValueError(f"user {user.id} cannot write in the private chat of {c.id}")
            user.started = True
        elif c.bot_status not in ("member", "administrator", "creator"):
            raise ValueError(
                f"the bot is not in group {c.id} (status {c.bot_status!r}): call "
                f"tg.add_bot_to_group(user, group) or tg.group(..., with_bot=True) first"
            )
        return c

    def _user_message(self, user: FakeUser, c: FakeChat, reply_to: Any = None, **content: Any) -> JSON:
        mid = c._new_message_id()
        msg: JSON = {"message_id": mid, "from": user.to_dict(), "chat": c.to_dict(),
                     "date": int(time.time())}
        if reply_to is not None:
            target = reply_to if isinstance(reply_to, dict) else c._messages.get(int(reply_to))
            if target is not None:
                raw = target.get("raw", target)
                msg["reply_to_message"] = {k: v for k, v in raw.items() if k != "reply_to_message"}
        for k, v in content.items():
            if v is not None:
                msg[k] = v
        rec = {
            "message_id": mid, "chat_id": c.id, "from_bot": False, "from_id": user.id,
            "kind": "text" if "text" in msg else "other", "text": msg.get("text"),
            "caption": msg.get("caption"), "entities": msg.get("entities") or [],
            "reply_markup": None, "deleted": False, "edits": 0, "raw": msg,
        }
        c._messages[mid] = rec
        return msg

    def _privacy_allows(self, msg: JSON) -> bool:
        text = msg.get("text", "")
        for e in msg.get("entities") or []:
            chunk = text[e["offset"] : e["offset"] + e["length"]]
            if e["type"] == "bot_command":
                if "@" not in chunk or chunk.split("@", 1)[1].lower() == self.bot_username.lower():
                    return True
            if e["type"] == "mention" and chunk[1:].lower() == self.bot_username.lower():
                return True
        reply = msg.get("reply_to_message")
        return bool(reply and reply.get("from", {}).get("id") == self.bot_id)

    def _bot_status_change(self, user: FakeUser, c: FakeChat, new: str) -> JSON:
        old = c.bot_status
        c.bot_status = new
        return self._push({
            "my_chat_member": {
                "chat": c.to_dict(),
                "from": user.to_dict(),
                "date": int(time.time()),
                "old_chat_member": self._member_dict(dict(self._bot_user), old),
                "new_chat_member": self._member_dict(dict(self._bot_user), new),
            }
        })

    def _resolve_message(self, user: FakeUser, message: Any, chat: Any, *, strict: bool) -> JSON | None:
        if isinstance(message, dict) and "raw" in message:
            rec = message
            c = self.chat(rec["chat_id"])
        else:
            if isinstance(message, dict):
                cid, mid = message["chat"]["id"], message["message_id"]
            else:
                cid, mid = self._cid(chat if chat is not None else user), int(message)
            c = self.chat(cid)
            rec = c._messages.get(mid)
        if rec is not None:
            rec = c._messages.get(rec["message_id"], rec)
        if strict and (rec is None or rec["deleted"]):
            raise AssertionError(f"message {message!r} does not exist (or was deleted) in chat {c.id}")
        return rec

    @staticmethod
    def _member_dict(user: JSON, status: str) -> JSON:
        d: JSON = {"status": status, "user": user}
        if status == "creator":
            d["is_anonymous"] = False
        elif status == "administrator":
            d.update(
                can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                can_delete_messages=True, can_manage_video_chats=True,
                can_restrict_members=True, can_promote_members=False, can_change_info=True,
                can_invite_users=True, can_post_stories=False, can_edit_stories=False,
                can_delete_stories=False, can_send_welcome_messages=False,
                can_pin_messages=True,
            )
        elif status == "restricted":
            d.update(
                is_member=True, can_send_messages=False, can_send_audios=False,
                can_send_documents=False, can_send_photos=False, can_send_videos=False,
                can_send_video_notes=False, can_send_voice_notes=False, can_send_polls=False,
                can_send_other_messages=False, can_add_web_page_previews=False,
                can_react_to_messages=False, can_edit_tag=False, can_change_info=False,
                can_invite_users=False, can_pin_messages=False, can_manage_topics=False,
                until_date=0,
            )
        elif status == "kicked":
            d["until_date"] = 0
        return d

    # ---- HTTP layer
    async def _http_method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.stats[method] += 1
        if request.match_info["token"] != self.token:
            return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        params, files = await self._read_params(request)
        if self._holding and self._applies(self._held_methods, method.lower()):
            held = asyncio.get_running_loop().create_future()
            self._held.append(held)
            if not await held:  # dropped: as if the connection was cut before it arrived
                return web.Response(status=502, text="dropped")
        status, payload = await self._process(method, params, files)
        if isinstance(payload, str):
            return web.Response(status=status, text=payload, content_type="text/html")
        return self._json(status, payload)

    @staticmethod
    def _json(status: int, payload: Any) -> web.Response:
        try:
            body = json.dumps(payload, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: only JSON's \uXXXX escape can carry it
            body = json.dumps(payload).encode()
        return web.Response(status=status, body=body, content_type="application/json")

    async def _http_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        for f in self.files.values():
            if f.file_path == path:
                return web.Response(body=f.data, content_type=f.mime_type or "application/octet-stream")
        return web.Response(status=404, text="Not Found")

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        params: JSON = {}
        files: dict[str, UploadedFile] = {}
        items: Iterable[tuple[str, Any]]
        if request.method == "GET" or not request.can_read_body:
            items = request.query.items()
        elif request.content_type == "application/json":
            body = await request.json()
            items = body.items() if isinstance(body, dict) else ()
        else:
            items = (await request.post()).items()
        for key, value in items:
            if isinstance(value, web.FileField):
                files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
            elif isinstance(value, str):
                params[key] = _decode_value(key, value)
            else:
                params[key] = value
        return params, files

    async def _run_webhook_reply(self, resp: aiohttp.ClientResponse) -> None:
        ctype = resp.content_type
        params: JSON = {}
        files: dict[str, UploadedFile] = {}
        if ctype.startswith("multipart/"):
            reader = aiohttp.MultipartReader.from_response(resp)
            while True:
                part = await reader.next()
                if part is None:
                    break
                assert isinstance(part, aiohttp.BodyPartReader)
                data = await part.read(decode=True)
                if part.filename:
                    files[part.name or ""] = UploadedFile(
                        part.filename, part.headers.get("Content-Type"), bytes(data))
                else:
                    params[part.name or ""] = _decode_value(part.name or "", data.decode())
        elif ctype == "application/json":
            try:
                body = await resp.json()
            except ValueError:
                return
            if isinstance(body, dict):
                params = {k: _decode_value(k, v) if isinstance(v, str) else v
                          for k, v in body.items()}
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self._process(method, params, files, via="webhook-reply")

    # ---- processing
    async def _process(
        self, method: str, params: JSON, files: dict[str, UploadedFile], via: str = "http"
    ) -> tuple[int, Any]:
        key = method.lower()
        record = key != "getupdates"
        now = time.monotonic()
        call = Call(len(self.sent), method, params, files, now, via=via)
        try:
            handler = self._handlers.get(key)
            if handler is None and key not in _ACCEPT_TRUE:
                raise _ApiError(404, "Not Found")
            self._check_faults(key, params, now)
            if handler is None:
                result: Any = True
            elif key == "getupdates":
                result = await handler(params, files)
            else:
                result = handler(params, files, call)
            call.result = result
            payload: Any = {"ok": True, "result": result}
        except _ApiError as e:
            call.status = e.code
            call.description = e.description
            call.retry_after = e.retry_after
            payload = {"ok": False, "error_code": e.code, "description": e.description}
            if e.retry_after is not None:
                payload["parameters"] = {"retry_after": e.retry_after}
            if e.migrate_to_chat_id is not None:
                payload["parameters"] = {"migrate_to_chat_id": e.migrate_to_chat_id}
        except _RawFailure as e:
            call.status = e.status
            call.description = e.body[:80]
            payload = e.body
        if record:
            self._record(call)
        if self._slow_seconds and self._applies(self._slow_methods, key):
            await self._sleep(self._slow_seconds)
        return call.status, payload

    async def _sleep(self, seconds: float) -> None:
        if self._closing is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._closing), seconds)
        except asyncio.TimeoutError:
            pass

    def _record(self, call: Call) -> None:
        self.sent.append(call)
        if self._call_waiters:
            for pred, fut in list(self._call_waiters):
                if not fut.done() and _safe(pred, call):
                    fut.set_result(call)

    def _check_faults(self, key: str, params: JSON, now: float) -> None:
        if self._throttle_until and self._applies(self._throttle_methods, key):
            left = self._throttle_until - now
            if left > 0:
                self.count_429 += 1
                ra = self._throttle_retry_after or max(1, math.ceil(left))
                raise _ApiError(429, f"Too Many Requests: retry after {ra}", retry_after=ra)
            self._throttle_until = 0.0
        if self._fail_left > 0 and self._applies(self._fail_methods, key):
            self._fail_left -= 1
            if self._fail_body is not None:
                raise _RawFailure(self._fail_status, self._fail_body)
            desc = self._fail_description or _DEFAULT_ERROR_TEXT.get(self._fail_status, "Error")
            raise _ApiError(self._fail_status, desc)
        if self._limits is not None and key in LIMITED_METHODS:
            if key in EDIT_METHODS and not self._limits["edits"]:
                return
            if key in EDIT_METHODS and not self._limits["own_taps"] and self._answers_press(params.get("chat_id"), now):
                self.own_tap_edits += 1
                return
            self._check_limits(params.get("chat_id"), now)

    def _answers_press(self, chat_id: Any, now: float) -> bool:
        """An edit of ``chat_id`` answers a press there still unanswered within the window
        (and uses it up)."""
        try:
            presses = self._presses.get(int(chat_id))
        except (TypeError, ValueError):
            return False
        if not presses:
            return False
        window = self._limits["own_tap_window"] if self._limits else 0.0
        while presses and presses[0] < now - window:
            presses.popleft()
        if not presses:
            return False
        presses.popleft()
        return True

    def _check_limits(self, chat_id: Any, now: float) -> None:
        lim = self._limits
        assert lim is not None
        checks: list[tuple[deque[float], int, float]] = []
        if lim["global"]:
            checks.append((self._global_times, lim["global"], 1.0))
        if chat_id is not None:
            if lim["chat"]:
                checks.append((self._chat_times.setdefault(chat_id, deque()), lim["chat"], 1.0))
            is_group = isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)
            if is_group and lim["group"]:
                checks.append((self._group_times.setdefault(chat_id, deque()), lim["group"], 60.0))
        for times, limit, window in checks:
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= limit:
                self.count_429 += 1
                ra = max(1, math.ceil(times[0] + window - now))
                raise _ApiError(429, f"Too Many Requests: retry after {ra}", retry_after=ra)
        for times, _, _ in checks:
            times.append(now)

    # ---- chat access for the bot
    def _target_chat(self, params: JSON, *, sending: bool = True) -> FakeChat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for c in self._chats.values():
                if c.username and c.username.lower() == raw[1:].lower():
                    break
            else:
                raise _bad("chat not found")
        else:
            c = self._chats.get(_as_int(raw, "chat_id"))
            if c is None:
                raise _bad("chat not found")
        if sending:
            self._check_can_write(c)
        return c

    @staticmethod
    def _check_can_write(c: FakeChat) -> None:
        if c.type == "private":
            assert c.user is not None
            if c.user.blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if not c.user.started:
                raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            return
        if c.migrated_to is not None:
            raise _ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                            migrate_to_chat_id=c.migrated_to)
        if c.bot_status == "kicked":
            raise _ApiError(403, f"Forbidden: bot was kicked from the {c.type} chat")
        if c.bot_status not in ("member", "administrator", "creator"):
            raise _ApiError(403, f"Forbidden: bot is not a member of the {c.type} chat")

    def _lookup_bot_message(self, params: JSON, missing: str) -> tuple[FakeChat, JSON]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        c = self._target_chat(params, sending=False)
        mid = params.get("message_id")
        if mid is None:
            raise _bad("message identifier is not specified")
        rec = c._messages.get(_as_int(mid, "message_id"))
        if rec is None or rec["deleted"]:
            raise _bad(missing)
        if not rec["from_bot"]:
            raise _bad("message can't be edited")
        return c, rec

    def _new_bot_message(self, c: FakeChat, call: Call, params: JSON, **content: Any) -> JSON:
        mid = c._new_message_id()
        now = int(time.time())
        raw: JSON = {"message_id": mid, "from": self._bot_user, "chat": c.to_dict(), "date": now}
        reply_to = params.get("reply_to_message_id")
        rp = params.get("reply_parameters")
        allow_missing = _as_bool(params.get("allow_sending_without_reply", False))
        if isinstance(rp, dict):
            reply_to = rp.get("message_id")
            allow_missing = allow_missing or _as_bool(rp.get("allow_sending_without_reply", False))
        if reply_to is not None:
            target = c._messages.get(_as_int(reply_to, "reply_to_message_id"))
            if target is None or target["deleted"]:
                if not allow_missing:
                    raise _bad("message to be replied not found")
            else:
                raw["reply_to_message"] = {k: v for k, v in target["raw"].items()
                                           if k != "reply_to_message"}
        if params.get("message_thread_id"):
            raw["message_thread_id"] = params["message_thread_id"]
        for k, v in content.items():
            if v:
                raw[k] = v
        markup = content.get("_markup")
        raw.pop("_markup", None)
        if _inline(markup):
            raw["reply_markup"] = markup
        rec: JSON = {
            "message_id": mid, "chat_id": c.id, "from_bot": True, "kind": "text",
            "text": None, "caption": None, "entities": [], "source": None,
            "parse_mode": params.get("parse_mode"), "reply_markup": markup,
            "photo": None, "document": None, "filename": None, "mime_type": None,
            "file_id": None, "edits": 0, "deleted": False, "date": now, "raw": raw,
            "call": call.index,
        }
        c._messages[mid] = rec
        c._bot_messages.append(rec)
        call.message = rec
        return rec

    @staticmethod
    def _formatted(params: JSON, key: str, limit: int, *, entities_key: str) -> tuple[str, list[JSON]]:
        src = params.get(key) or ""
        if not isinstance(src, str):
            src = str(src)
        explicit = params.get(entities_key)
        if explicit:
            plain, ents = src, list(explicit)
        else:
            plain, ents = parse_formatted(src, params.get("parse_mode"))
        if len(plain) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return plain, ents

    def _resolve_file(self, params: JSON, files: dict[str, UploadedFile], key: str) -> tuple[bytes, str | None, str | None]:
        value = params.get(key)
        if value is None and key in files:
            f = files[key]
            return f.data, f.filename, f.content_type
        if not value:
            raise _bad(f"there is no {key} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://"):]
            if name not in files:
                raise _bad(f"wrong remote file identifier specified: can't find {value}")
            f = files[name]
            return f.data, f.filename, f.content_type
        if isinstance(value, str) and value in self.files:
            sf = self.files[value]
            return sf.data, sf.filename, sf.mime_type
        if isinstance(value, str) and re.match(r"https?://", value):
            return b"", value.rsplit("/", 1)[-1], None
        raise _bad("wrong file identifier/HTTP URL specified")

    def _store_file(self, data: bytes, folder: str, ext: str, prefix: str,
                    filename: str | None = None, mime: str | None = None) -> _StoredFile:
        n = next(self._file_counter)
        sf = _StoredFile(
            file_id=f"{prefix}AgADfake{self.bot_id}_{n:06d}",
            file_unique_id=f"AQADfake{n:06d}",
            data=data, file_path=f"{folder}/file_{n}.{ext}", filename=filename, mime_type=mime,
        )
        self.files[sf.file_id] = sf
        return sf

    def _store_photo(self, data: bytes) -> list[JSON]:
        w, h = _image_size(data)
        sizes: list[JSON] = []
        longest = max(w, h, 1)
        for side in (90, 320, 800, 1280):
            if longest > side:
                k = side / longest
                sf = self._store_file(data, "photos", "jpg", "AgAC", mime="image/jpeg")
                sizes.append({"file_id": sf.file_id, "file_unique_id": sf.file_unique_id,
                              "file_size": max(1, int(len(data) * k * k)),
                              "width": max(1, round(w * k)), "height": max(1, round(h * k))})
        sf = self._store_file(data, "photos", "jpg", "AgAC", mime="image/jpeg")
        sizes.append({"file_id": sf.file_id, "file_unique_id": sf.file_unique_id,
                      "file_size": len(data), "width": w, "height": h})
        return sizes

    # ================================================================= Bot API methods
    # Each handler: (params, files, call) -> result, raising _ApiError on failure.

    def _m_getme(self, params: JSON, files: Any, call: Call) -> JSON:
        return {
            **self._bot_user, "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getupdates(self, params: JSON, files: Any) -> list[JSON]:
        if self.webhook_url:
            raise _ApiError(409, _GETUPDATES_WEBHOOK_CONFLICT)
        offset = params.get("offset")
        limit = max(1, min(100, _as_int(params.get("limit", 100), "limit")))
        timeout = max(0.0, float(params.get("timeout", 0) or 0))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        # A new getUpdates terminates a concurrent one, like Telegram.
        self._wake_pollers("conflict")
        if offset is not None:
            self._confirm(_as_int(offset, "offset"))
        items = self._take(limit)
        if items or timeout <= 0 or (self._closing is not None and self._closing.done()):
            return items
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._poll_waiters.add(fut)
        try:
            done, _ = await asyncio.wait({fut}, timeout=timeout)
        finally:
            self._poll_waiters.discard(fut)
        if done and fut.result() == "conflict":
            raise _ApiError(409, _GETUPDATES_CONFLICT)
        if done and fut.result() == "webhook":
            raise _ApiError(409, "Conflict: terminated by setWebhook request")
        if done and fut.result() == "closing":
            return []
        return self._take(limit)

    def _m_sendmessage(self, params: JSON, files: Any, call: Call) -> JSON:
        c = self._target_chat(params)
        text, ents = self._formatted(params, "text", 4096, entities_key="entities")
        if not text.strip():
            raise _bad("message text is empty")
        markup = _validate_markup(params.get("reply_markup"))
        rec = self._new_bot_message(c, call, params, text=text, entities=ents, _markup=markup)
        rec.update(text=text, entities=ents, source=params.get("text"))
        call.text = text
        return rec["raw"]

    def _send_media(self, kind: str, params: JSON, files: dict[str, UploadedFile], call: Call) -> JSON:
        c = self._target_chat(params)
        data, filename, mime = self._resolve_file(params, files, kind)
        caption, ents = self._formatted(params, "caption", 1024, entities_key="caption_entities")
        markup = _validate_markup(params.get("reply_markup"))
        if kind == "photo":
            media: Any = self._store_photo(data)
            file_id = media[-1]["file_id"]
        else:
            ext = (filename or "file.bin").rsplit(".", 1)[-1] if filename and "." in filename else "bin"
            sf = self._store_file(data, "documents", ext, "BQAC", filename=filename,
                                  mime=mime or "application/octet-stream")
            media = {"file_id": sf.file_id, "file_unique_id": sf.file_unique_id,
                     "file_size": len(data)}
            if filename:
                media["file_name"] = filename
            media["mime_type"] = sf.mime_type
            file_id = sf.file_id
        rec = self._new_bot_message(c, call, params, **{kind: media}, caption=caption,
                                    caption_entities=ents, _markup=markup)
        rec.update(kind=kind, caption=caption or None, entities=ents,
                   source=params.get("caption"), file_id=file_id, mime_type=mime,
                   filename=filename)
        rec[kind] = data
        call.text = caption or None
        return rec["raw"]

    def _m_sendphoto(self, params: JSON, files: dict[str, UploadedFile], call: Call) -> JSON:
        return self._send_media("photo", params, files, call)

    def _m_senddocument(self, params: JSON, files: dict[str, UploadedFile], call: Call) -> JSON:
        return self._send_media("document", params, files, call)

    def _m_editmessagetext(self, params: JSON, files: Any, call: Call) -> JSON:
        c, rec = self._lookup_bot_message(params, "message to edit not found")
        if rec["kind"] != "text":
            raise _bad("there is no text in the message to edit")
        text, ents = self._formatted(params, "text", 4096, entities_key="entities")
        if not text.strip():
            raise _bad("message text is empty")
        markup = _validate_markup(params.get("reply_markup"))
        if markup is not None and not _inline(markup):
            raise _bad("inline keyboard expected")
        if text == rec["text"] and ents == rec["entities"] and markup == _inline(rec["reply_markup"]):
            raise _bad(_NOT_MODIFIED)
        raw = {k: v for k, v in rec["raw"].items() if k not in ("entities", "reply_markup")}
        raw["text"] = text
        if ents:
            raw["entities"] = ents
        if markup:
            raw["reply_markup"] = markup
        raw["edit_date"] = int(time.time())
        rec.update(text=text, entities=ents, source=params.get("text"), reply_markup=markup,
                   parse_mode=params.get("parse_mode"), raw=raw, edits=rec["edits"] + 1)
        call.message, call.text = rec, text
        return raw

    def _m_editmessagecaption(self, params: JSON, files: Any, call: Call) -> JSON:
        c, rec = self._lookup_bot_message(params, "message to edit not found")
        if rec["kind"] == "text":
            raise _bad("there is no caption in the message to edit")
        caption, ents = self._formatted(params, "caption", 1024, entities_key="caption_entities")
        markup = _validate_markup(params.get("reply_markup"))
        if (caption or None) == rec["caption"] and ents == rec["entities"] and markup == _inline(rec["reply_markup"]):
            raise _bad(_NOT_MODIFIED)
        raw = {k: v for k, v in rec["raw"].items()
               if k not in ("caption", "caption_entities", "reply_markup")}
        if caption:
            raw["caption"] = caption
        if ents:
            raw["caption_entities"] = ents
        if markup:
            raw["reply_markup"] = markup
        raw["edit_date"] = int(time.time())
        rec.update(caption=caption or None, entities=ents, source=params.get("caption"),
                   reply_markup=markup, raw=raw, edits=rec["edits"] + 1)
        call.message, call.text = rec, caption or None
        return raw

    def _m_editmessagereplymarkup(self, params: JSON, files: Any, call: Call) -> JSON:
        c, rec = self._lookup_bot_message(params, "message to edit not found")
        markup = _validate_markup(params.get("reply_markup"))
        if markup is not None and not _inline(markup):
            raise _bad("inline keyboard expected")
        if markup == _inline(rec["reply_markup"]):
            raise _bad(_NOT_MODIFIED)
        raw = {k: v for k, v in rec["raw"].items() if k != "reply_markup"}
        if markup:
            raw["reply_markup"] = markup
        raw["edit_date"] = int(time.time())
        rec.update(reply_markup=markup, raw=raw, edits=rec["edits"] + 1)
        call.message, call.text = rec, rec["text"] or rec["caption"]
        return raw

    def _m_deletemessage(self, params: JSON, files: Any, call: Call) -> bool:
        c = self._target_chat(params, sending=False)
        rec = c._messages.get(_as_int(params.get("message_id"), "message_id"))
        if rec is None or rec["deleted"]:
            raise _bad("message to delete not found")
        if not rec["from_bot"] and c.is_group and c.bot_status not in ("administrator", "creator"):
            raise _bad("message can't be deleted")
        rec["deleted"] = True
        call.message = rec
        return True

    def _m_answercallbackquery(self, params: JSON, files: Any, call: Call) -> bool:
        cb_id = params.get("callback_query_id")
        if not isinstance(cb_id, str) or cb_id not in self._open_callbacks:
            raise _bad(_QUERY_TOO_OLD)
        if self.callback_expiry is not None and time.monotonic() - self._open_callbacks[cb_id] > self.callback_expiry:
            raise _bad(_QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        del self._open_callbacks[cb_id]
        chat = self._press_chats.pop(cb_id, None)
        if chat is not None:  # an edit of that chat now answers the press (enforce_limits)
            self._presses.setdefault(chat, deque()).append(time.monotonic())
        self.callback_answers[cb_id] = {
            "text": text, "show_alert": _as_bool(params.get("show_alert", False)),
            "url": params.get("url"), "cache_time": params.get("cache_time"),
        }
        return True

    def _m_sendchataction(self, params: JSON, files: Any, call: Call) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    def _m_setmycommands(self, params: JSON, files: Any, call: Call) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        for cmd in commands:
            name = cmd.get("command", "") if isinstance(cmd, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(cmd.get("description", "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    def _m_getmycommands(self, params: JSON, files: Any, call: Call) -> list[JSON]:
        return self.commands.get(self._commands_key(params), [])

    def _m_deletemycommands(self, params: JSON, files: Any, call: Call) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_setwebhook(self, params: JSON, files: Any, call: Call) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if url and not re.match(r"https?://\S+\Z", url):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        if _as_bool(params.get("drop_pending_updates", False)):
            self._queue.clear()
            self._redeliveries.clear()
        self.webhook_url = url
        self.webhook_secret = secret if url else None
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.webhook_allowed_updates = allowed
            self._allowed_updates = frozenset(allowed) if allowed else None
        if url:
            self._wake_pollers("webhook")
        return True

    def _m_deletewebhook(self, params: JSON, files: Any, call: Call) -> bool:
        if _as_bool(params.get("drop_pending_updates", False)):
            self._queue.clear()
            self._redeliveries.clear()
        self.webhook_url = ""
        self.webhook_secret = None
        return True

    def _m_getwebhookinfo(self, params: JSON, files: Any, call: Call) -> JSON:
        info: JSON = {"url": self.webhook_url, "has_custom_certificate": False,
                      "pending_update_count": self.pending()}
        if self.webhook_url:
            info["max_connections"] = 40
            if self.webhook_allowed_updates is not None:
                info["allowed_updates"] = self.webhook_allowed_updates
        return info

    def _m_getchat(self, params: JSON, files: Any, call: Call) -> JSON:
        c = self._target_chat(params, sending=False)
        info = {
            **c.to_dict(), "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                    "unique_gifts": False, "premium_subscription": False,
                                    "gifts_from_channels": False},
        }
        return info

    def _m_getchatmember(self, params: JSON, files: Any, call: Call) -> JSON:
        c = self._target_chat(params, sending=False)
        uid = _as_int(params.get("user_id"), "user_id")
        if uid == self.bot_id:
            return self._member_dict(dict(self._bot_user), c.bot_status)
        user = self._users.get(uid)
        if user is None:
            raise _bad("user not found")
        return self._member_dict(user.to_dict(), c.member_status.get(uid, "member"))

    def _m_getchatadministrators(self, params: JSON, files: Any, call: Call) -> list[JSON]:
        c = self._target_chat(params, sending=False)
        out = [self._member_dict(self._users[uid].to_dict(), st)
               for uid, st in c.member_status.items()
               if st in ("creator", "administrator") and uid in self._users]
        if c.bot_status == "administrator":
            out.append(self._member_dict(dict(self._bot_user), "administrator"))
        return out

    def _m_getfile(self, params: JSON, files: Any, call: Call) -> JSON:
        sf = self.files.get(params.get("file_id") or "")
        if sf is None:
            raise _bad("wrong file_id or the file is temporarily unavailable")
        return {"file_id": sf.file_id, "file_unique_id": sf.file_unique_id,
                "file_size": len(sf.data), "file_path": sf.file_path}


_FAST_SESSION: type | None = None


def _fast_close_session_class() -> type:
    global _FAST_SESSION
    if _FAST_SESSION is None:
        from aiogram.client.session.aiohttp import AiohttpSession

        class FastCloseAiohttpSession(AiohttpSession):
            """AiohttpSession whose close() does not sleep 0.25 s (plain HTTP only)."""

            async def close(self) -> None:
                if self._session is not None and not self._session.closed:
                    await self._session.close()

        _FAST_SESSION = FastCloseAiohttpSession
    return _FAST_SESSION


class _RawFailure(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(body)
        self.status = status
        self.body = body


def _safe(pred: Callable[[Call], bool], call: Call) -> bool:
    try:
        return bool(pred(call))
    except Exception:  # noqa: BLE001 - a predicate that cannot judge a call means "no"
        return False
