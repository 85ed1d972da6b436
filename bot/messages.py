"""The message contract: what the flows answer (``Outcome``: messages, a toast, views to redraw)
and what storage keeps of it (the outbox, answers kept for a replay), as versioned JSON.

It lives below the flows: storage and delivery import it, not ``bot.flows`` (which re-exports it).
Nothing is pickled. A stored payload is a JSON object with the schema version ``v``; a reader
ignores the fields it does not know (a newer version wrote them) and gives the ones missing their
defaults (an older version wrote the row), so two versions of the code read each other's rows
during a rolling deploy. A field added later gets a default that is right for rows written
before it (``metadata["stored_before"]`` when the usual default is not).

A change that an older reader would misread, not merely miss (a field whose meaning changes), also
writes ``"needs": SCHEMA`` in the payload, the first schema that reads it right: a version whose
``SCHEMA`` is below it raises ``TooNew`` and leaves the row alone for a version that can read it
(the outbox holds the message back, a redraw waits, a kept answer is not given again; README,
"A rolling deploy"; tests/test_rolling_deploy.py). No payload of this schema needs one.

A text (``Message.text``, ``Toast.text``) is the neutral markup of ``bot.markup``; a link (a
button's, a toast's, one in a text) is a ``bot.links.Link``, stored as its address. Rows of
schema 1 held Telegram's URLs (``https://t.me/<bot>?start=…``) instead: they are read as the
links they meant.

A chart is kept as its renderer's registered name and its arguments in a typed encoding of plain
JSON (see ``bot.charts.registry``): numbers, text, lists, dicts with text keys, and
``{"$t": NAME, "v": ...}`` for a tuple, a date or a registered row type. A name read back is only
ever looked up in those registries, never imported: one this version does not know makes the
payload ``Unreadable``, and nothing of it is used.

Two layers of output. The flows say **to whom** and **which view** (a ``Post``: an audience —
``Here``, ``Private``, ``Person``, ``Group``, ``Community`` — a ``View`` to show or update, and
a function that builds the text in a reader's language); ``bot.audiences`` resolves a post, in
the handling transaction, into addressed ``Message``s, one per chat, by the channel profiles
(which channels have groups, which edit a view). A ``Message`` is what is sent and stored:
its ``tag`` and ``edit`` are the channel's rendering of a view (remember the message under the
view's tag; edit the one remembered) and only the resolver writes them, so the flows never name
a chat nor know which channel has groups. A ``Post`` is never stored.
"""

from __future__ import annotations

import base64
import functools
import json
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from typing import Any, TypeVar

from bot.links import Link, from_telegram, text_from_telegram

SCHEMA = 2  # the version this code writes; it reads every version (see above)
NEUTRAL_LINKS = 2  # the first version whose links are ``Link`` addresses, not Telegram URLs
T = TypeVar("T")


class Unreadable(ValueError):
    """A stored payload this version cannot read: not JSON, or it names a chart renderer or
    argument type this version does not have (a newer version may)."""


class TooNew(Unreadable):
    """A stored payload that ``needs`` a later schema than this version's to be read right."""


@dataclass(frozen=True)
class Button:
    """One choice a flow offers: its label (``text``) and its stable id (``data``, a typed
    payload). Each channel lays the choices out within its limits and maps back a press, and,
    where it takes typed answers (WhatsApp), a typed number or the choice's own text."""

    text: str
    data: str | None = None      # a payload that comes back as Event.button
    link: Link | None = None     # or a link (into the private chat, a web page, ...)
    # or a request for the person's own phone number (Telegram's ``request_contact``, shown under
    # the input field); a channel that knows the number already (WhatsApp) leaves the button out
    contact: bool = False
    # The number the flow shows members for this choice ("3 · The road", "✅ Confirm #3", a score
    # "2"): a typed "3" means the choice numbered 3. None: the flow numbers nothing, and a typed
    # number means the choice at that position. Stored only when set (rows before it had none).
    number: int | None = None


@dataclass(frozen=True)
class Chart:
    """A file rendered after the transaction commits, off the event loop: an image (a message's
    ``chart``) or a document (its ``document``, e.g. the printed report). ``render`` is one of
    the renderers of ``bot.charts.registry``, ``args`` and ``kwargs`` what it draws (plain
    values and the registered row types): that is what is stored."""

    render: Callable[..., bytes]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    filename: str = "chart.png"


@dataclass(frozen=True)
class Message:
    channel: str
    chat_id: str
    text: str                    # bot.markup: <b>, <i>, links; everything a user typed is escaped
    buttons: tuple[tuple[Button, ...], ...] = ()
    chart: Chart | None = None   # sent as a photo with ``text`` as its caption
    # (filename, content), or a Chart whose renderer makes the file (named by its filename)
    document: tuple[str, bytes] | Chart | None = None
    tag: str | None = None       # remember where this message went, to edit it later
    edit: bool = False           # edit the message remembered under ``tag`` instead of sending
    durable: bool = False        # True: written to the outbox with the action, sent even after a crash
    # At most once (a reminder): a crash between its send and the outbox's record of it does not
    # send it again; better one reminder missed than the same one twice. Otherwise at least once.
    once: bool = False
    # When it was drawn: an edit older than the one shown last is not sent (it waited in the
    # outbox meanwhile). One stored before this field existed counts as drawn long ago.
    drawn_at: float = field(default_factory=time.time, compare=False, metadata={"stored_before": 0.0})

    def to_json(self) -> str:
        return _dumps({"v": SCHEMA, **_message(self)})

    @classmethod
    def from_json(cls, text: str | bytes) -> Message:
        return _reading(lambda: _read_message(_loads(text)))


@dataclass(frozen=True)
class Toast:
    """The short answer to what a person did (a callback toast on Telegram, a short reply on
    WhatsApp unless a message to them says what comes next)."""

    text: str
    alert: bool = False          # to be read before going on (Telegram: an alert, not a toast)
    link: Link | None = None     # a link the client opens (e.g. the private chat, to join)

    def as_message(self, channel: str, chat_id: str) -> Message:
        """Said as a message, where there is no toast to show (its link as a "→" button)."""
        return Message(channel, chat_id, self.text, ((Button("→", link=self.link),),) if self.link else ())


# --- to whom and which view (resolved by bot.audiences) ------------------------------------------
@dataclass(frozen=True)
class Here:
    """The chat the event came from: the person's private chat, or the group they wrote in."""


@dataclass(frozen=True)
class Private:
    """The private chat, on the event's channel, of the person behind the event (from a group too)."""


@dataclass(frozen=True)
class Person:
    """Every private chat of a member (one per channel they use), in the member's language."""

    member_id: int


@dataclass(frozen=True)
class Group:
    """One group chat linked to a community, in the community's language."""

    channel: str
    chat_id: str


@dataclass(frozen=True)
class Community:
    """A community announcement: every group chat linked to it (seen by all who are in it), and,
    one to one in their own language, each member holding at least ``least_role`` ("member",
    "kmut", "facilitator") whose channels have no group (WhatsApp). A member with an identity on
    a channel that has groups reads it there, and gets no copy."""

    community_id: int
    least_role: str = "member"


Audience = Here | Private | Person | Group | Community


@dataclass(frozen=True)
class View:
    """A message that stands for something that changes (a ballot): shown once, then updated.
    ``tag`` is the key a channel remembers the message under ("b12" for ballot 12).

    It is also what a flow asks to have redrawn (``Outcome.refresh``): the refresher registered
    for its ``name`` draws it. Stored (views waiting for a redraw, kept answers) as versioned
    JSON (``to_json``); a key of the form stored before, ``"name:id"`` ("b:12"), reads as the
    same view."""

    name: str
    id: int | str

    def to_json(self) -> str:
        return _dumps({"v": SCHEMA, **self._stored()})

    def _stored(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id}

    @classmethod
    def from_json(cls, text: str) -> View:
        """A stored view: versioned JSON, or a key as stored before ("b:12" → View("b", 12))."""
        if isinstance(text, str) and not text.lstrip().startswith("{"):
            return cls._of_key(text)
        return _reading(lambda: cls._read(_loads(text)))

    @classmethod
    def _read(cls, stored: Any) -> View:
        if isinstance(stored, str):  # in a kept answer written before views were JSON
            return cls._of_key(stored)
        if not isinstance(stored, Mapping) or not isinstance(stored.get("name"), str) \
                or not isinstance(stored.get("id"), int | str) or isinstance(stored.get("id"), bool):
            raise Unreadable(f"not a stored view: {stored!r:.80}")
        return cls(stored["name"], stored["id"])

    @classmethod
    def _of_key(cls, key: str) -> View:
        name, _, rest = key.partition(":")
        return cls(name, int(rest) if rest.isascii() and rest.isdigit() else rest)

    @property
    def order(self) -> tuple[str, str]:
        """A key to sort views by (their ids may be numbers or text)."""
        return self.name, str(self.id)

    @property
    def tag(self) -> str:
        return f"{self.name}{self.id}"

    @classmethod
    def of_tag(cls, tag: str) -> View:
        """The view a stored tag stands for ("b12" → View("b", 12))."""
        name = tag.rstrip("0123456789")
        number = tag[len(name):]
        return cls(name, int(number) if number else "")


Build = Callable[[Any], tuple[str, Any]]  # a Translator → (text, rows of Buttons) in its language


@dataclass(frozen=True)
class Post:
    """What a flow says, before it is addressed: ``build`` is called once per language (and role)
    of the audience's readers.

    ``view``: the message stands for that view; with ``update`` it replaces the one shown. How an
    update appears is the channel's (see ``bot.audiences.PROFILES``): Telegram edits the message;
    a channel that does not edit (WhatsApp) sends it afresh to the person who asked for it (the
    event's own chat), or to everyone when it ``matters`` (a closed ballot with no result after
    it), and otherwise not at all — a group's live counts never flood the members one by one.
    ``others``: for a ``Community`` with a ``least_role``, what the one-to-one readers below that
    role get instead (None: nothing); the groups and those holding the role get ``build``.
    ``durable``: written to the outbox with the action (None: yes, unless it answers the event)."""

    audience: Audience
    build: Build
    view: View | None = None
    update: bool = False
    matters: bool = False
    chart: Chart | None = None
    document: tuple[str, bytes] | Chart | None = None
    durable: bool | None = None
    others: Build | None = None


@dataclass
class Outcome:
    """What handling one event answered. Its messages, toast and views to redraw are what is
    kept for a replay (``to_json``); the flags are about this handling only."""

    messages: list[Message] = field(default_factory=list)
    toast: Toast | None = None
    duplicate: bool = False
    queued: bool = False         # durable messages were written to the outbox
    queued_to: set[tuple[str, str]] = field(default_factory=set)  # (channel, chat_id) of each of them
    refresh: set[View] = field(default_factory=set)  # views to redraw soon, coalesced (see flows.registry.refresher)
    replayable: bool = True      # kept with the update id for a retry (False: it holds personal data, as
                                 # /mydata's export, or goes to a person just erased)
    # (channel, chat_id) of the private chat whose member's tap this handling answers: the edits of
    # views there answer that tap (bot.delivery: interactive feedback, no slot of the overall rate)
    tapped: tuple[str, str] | None = None

    def to_json(self) -> str:
        """The kept answer: the messages, the toast and the views to redraw."""
        return _dumps({"v": SCHEMA, "messages": [_message(m) for m in self.messages],
                       "toast": None if self.toast is None else _linked(self.toast),
                       "refresh": [v._stored() for v in sorted(self.refresh, key=lambda v: v.order)]})

    @classmethod
    def from_json(cls, text: str | bytes) -> Outcome:
        """A kept answer read back (its flags at their defaults)."""
        def read() -> Outcome:
            kept = _loads(text)
            toast, version = kept.get("toast"), _version(kept)
            return cls(messages=[_read_message(m, version) for m in kept.get("messages") or ()],
                       toast=None if toast is None else read_linked(Toast, toast, version),
                       refresh={View._read(v) for v in kept.get("refresh") or ()})

        return _reading(read)


# --- writing ------------------------------------------------------------------------------------

def _dumps(value: dict) -> str:
    # NaN and infinities are written as Python's json reads them back (a chart may draw one)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@functools.cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _reading_plan(cls: type) -> tuple[tuple[str, bool, Any], ...]:
    """Per field: its name, whether a row must have it, and what a row without it gets
    (``MISSING``: the dataclass's own default)."""
    return tuple((f.name, f.default is MISSING and f.default_factory is MISSING and "stored_before" not in f.metadata,
                  f.metadata.get("stored_before", MISSING)) for f in fields(cls))


def _flat(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in _names(type(item))}


def _linked(item: Button | Toast) -> dict[str, Any]:
    values = _flat(item)
    if item.link is not None:
        values["link"] = item.link.address
    return values


def _button(b: Button) -> dict[str, Any]:
    values = _flat(b) if b.link is None else _linked(b)
    if b.number is None:  # rows without it read as before
        del values["number"]
    return values


def _message(m: Message) -> dict[str, Any]:
    return {"channel": m.channel, "chat_id": m.chat_id, "text": m.text,
            "buttons": [[_button(b) for b in row] for row in m.buttons],
            "chart": None if m.chart is None else _chart(m.chart),
            "document": None if m.document is None else {"chart": _chart(m.document)} if isinstance(m.document, Chart)
            else {"filename": m.document[0], "content": base64.b64encode(m.document[1]).decode("ascii")},
            "tag": m.tag, "edit": m.edit, "durable": m.durable, "drawn_at": m.drawn_at,
            **({"once": True} if m.once else {})}  # rows without it read as before


def _chart(chart: Chart) -> dict[str, Any]:
    from bot.charts import registry

    name = registry.name_of(chart.render)
    return {"renderer": name, "args": [_plain(a) for a in chart.args],
            "kwargs": {str(k): _plain(v) for k, v in chart.kwargs.items()}, "filename": chart.filename}


_AS_IS = (str, int, float, bool)


def _plain(value: Any) -> Any:
    """A chart argument as plain JSON, typed where JSON has no type of its own."""
    if value is None or type(value) in _AS_IS:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": "tuple", "v": [_plain(v) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value) or "$t" in value:
            raise TypeError(f"a chart argument's dict needs text keys other than '$t': {list(value)[:5]!r}")
        return {k: _plain(v) for k, v in value.items()}
    if type(value) is date:
        return {"$t": "date", "v": value.isoformat()}
    from bot.charts import registry

    name = registry.type_name(type(value))
    return {"$t": name, "v": {field: _plain(getattr(value, field)) for field in _names(type(value))}}


# --- reading ------------------------------------------------------------------------------------

def _reading(read: Callable[[], T]) -> T:
    try:
        return read()
    except Unreadable:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a shape no version writes
        raise Unreadable(f"a stored payload does not have the expected shape: {exc!r}") from None


def _loads(text: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, TypeError) as exc:  # bytes that are not UTF-8 JSON (a pickle, say)
        raise Unreadable(f"not a JSON payload: {exc}") from None
    if not isinstance(value, dict):
        raise Unreadable(f"not a JSON object: {type(value).__name__}")
    needs = value.get("needs", 0)
    if not isinstance(needs, int) or needs > SCHEMA:
        raise TooNew(f"written by a newer version: it needs schema {needs!r}, this version reads up to {SCHEMA}")
    return value


def from_fields(cls: type[T], values: Mapping[str, Any]) -> T:
    """A ``cls`` from what was stored: fields it does not have are ignored, the missing ones get
    their ``stored_before`` value or their default."""
    if not isinstance(values, Mapping):
        raise Unreadable(f"a {cls.__name__} must be an object, got {values!r:.80}")
    known = {}
    for name, required, stored_before in _reading_plan(cls):
        if name in values:
            known[name] = values[name]
        elif stored_before is not MISSING:
            known[name] = stored_before
        elif required:
            raise Unreadable(f"a stored {cls.__name__} has no {name!r}")
    try:
        return cls(**known)
    except (TypeError, ValueError) as exc:  # a row type's own checks
        raise Unreadable(f"a stored {cls.__name__} is not valid: {exc}") from None


def _version(stored: Mapping[str, Any]) -> int:
    version = stored.get("v", 1)
    return version if isinstance(version, int) else 1


def read_linked(cls: type[T], stored: Mapping[str, Any], version: int = SCHEMA) -> T:
    """A stored ``Button`` or ``Toast``: its link read from its address, or, in a row of a
    version before neutral links, from the Telegram URL it held (``url``)."""
    if not isinstance(stored, dict):  # (from_fields refuses what is no object)
        return from_fields(cls, stored)
    if version < NEUTRAL_LINKS:
        url = stored.get("url")
        stored = {**stored, "link": from_telegram(url) if isinstance(url, str) else None}
    elif stored.get("link") is not None:
        stored = {**stored, "link": Link.parse(stored["link"])}
    return from_fields(cls, stored)


def _read_message(stored: Mapping[str, Any], version: int | None = None) -> Message:
    if not isinstance(stored, Mapping):
        raise Unreadable(f"a Message must be an object, got {stored!r:.80}")
    values = dict(stored)
    version = _version(stored) if version is None else version
    if version < NEUTRAL_LINKS and isinstance(values.get("text"), str):
        values["text"] = text_from_telegram(values["text"])
    values["buttons"] = tuple(tuple(read_linked(Button, b, version) for b in row)
                              for row in values.get("buttons") or ())
    if values.get("chart") is not None:
        values["chart"] = _read_chart(values["chart"])
    if values.get("document") is not None:
        document = values["document"]
        values["document"] = (_read_chart(document["chart"]) if "chart" in document
                              else (document["filename"], base64.b64decode(document["content"])))
    return from_fields(Message, values)


def _read_chart(stored: Mapping[str, Any]) -> Chart:
    from bot.charts import registry

    return from_fields(Chart, {**stored, "render": registry.renderer(stored.get("renderer")),
                          "args": tuple(_typed(a) for a in stored.get("args") or ()),
                          "kwargs": {k: _typed(v) for k, v in (stored.get("kwargs") or {}).items()}})


def _typed(value: Any) -> Any:
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$t" not in value:
        return {k: _typed(v) for k, v in value.items()}
    name, inner = value["$t"], value.get("v")
    if name == "tuple":
        return tuple(_typed(v) for v in inner)
    if name == "date":
        return date.fromisoformat(inner)
    from bot.charts import registry

    return from_fields(registry.row_type(name), {k: _typed(v) for k, v in inner.items()})

