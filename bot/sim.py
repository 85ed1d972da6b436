"""A channel with no network: simulated people talk to the real engine, storage and charts.

Used by ``qatysu demo`` and by the flow tests. Every message the bot sends is kept per chat, so a
person can press a button they were shown, exactly as on a phone. A person may also be on
WhatsApp (``sim.person(..., channel="whatsapp")``): what they get goes through WhatsApp's channel
rules (each message rendered as the Cloud API messages the real channel sends — options as reply
buttons or a list within WhatsApp's limits, images with captions — the group's posts one to one,
nothing redrawn in place, toasts as short messages), and they can tap only what they were shown.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from bot.delivery import Delivery
from bot.handlers.telegram import text as telegram_text
from bot.flows.engine import Engine
from bot.flows.types import Button, Event, Message, Outcome, Toast
from bot.i18n import LOCALES, translator
from bot.outbox import OutboxWorker
from bot.storage import whatsapp as wa_store
from bot.whatsapp.channel import for_whatsapp
from bot.whatsapp.render import Links, Part, render

CHANNEL = "demo"
WHATSAPP = "whatsapp"
WHATSAPP_NUMBER = "77001234567"  # the community's WhatsApp number, in the links the channel builds


@dataclass
class Shown:
    """A message as the person sees it (after edits)."""

    id: str
    chat_id: str
    text: str
    buttons: tuple[tuple[Button, ...], ...]
    image: bytes | None = None
    document: tuple[str, bytes] | None = None
    parts: tuple[Part, ...] = ()  # on WhatsApp: the Cloud API messages it became


@dataclass
class SimSender:
    """Telegram's stand-in: texts as Telegram shows them (its links to ``username``)."""

    username: str = "qatysu_bot"
    chats: dict[str, list[Shown]] = field(default_factory=dict)
    log: list[tuple[str, Shown, bool]] = field(default_factory=list)  # (chat, message, edited)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    rate = float("inf")

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message: Message, image: bytes | None) -> str | None:
        shown = Shown(str(next(self._ids)), message.chat_id, telegram_text(message, self.username), message.buttons,
                      image, message.document)
        self.chats.setdefault(message.chat_id, []).append(shown)
        self.log.append((message.chat_id, shown, False))
        return shown.id

    async def edit(self, message: Message, message_id: str) -> None:
        for shown in self.chats.get(message.chat_id, []):
            if shown.id == message_id:
                shown.text, shown.buttons = telegram_text(message, self.username), message.buttons
                self.log.append((message.chat_id, shown, True))


@dataclass
class SimWhatsApp:
    """WhatsApp without the network, writing into the same chats and log as ``SimSender``."""

    base: SimSender
    db: object
    default_locale: str = "kk"

    rate = float("inf")

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message: Message, image: bytes | None) -> str | None:
        locale = await self.db.atomic(lambda tx: wa_store.locale_of(tx, message.chat_id))
        tr = translator(locale if locale in LOCALES else self.default_locale)
        parts = tuple(render(message, image, tr, Links(WHATSAPP_NUMBER)))
        shown = Shown(str(next(self.base._ids)), message.chat_id, message.text, message.buttons, image,
                      message.document, parts)
        self.base.chats.setdefault(message.chat_id, []).append(shown)
        self.base.log.append((message.chat_id, shown, False))
        return shown.id

    async def edit(self, message: Message, message_id: str) -> None:
        return None  # as the real channel: a view is not redrawn in place on WhatsApp


class Sim:
    def __init__(self, engine: Engine, *, edit_interval: float = 0.0) -> None:
        self.engine = engine
        self.sender = SimSender(engine.bot_username)
        self.whatsapp = SimWhatsApp(self.sender, engine.db, engine.default_locale)
        self.delivery = Delivery(engine.db, {CHANNEL: self.sender, WHATSAPP: self.whatsapp},
                                 edit_interval=edit_interval, redraw=engine.redraw)
        self.outbox = OutboxWorker(self.delivery)
        self._updates = itertools.count(1)
        self._users = itertools.count(1001)
        self.toasts: list[tuple[str, Toast]] = []
        self.on_event = None  # optional callback(person, description, outcome) for transcripts

    def person(self, name: str, lang: str = "kk", channel: str = CHANNEL, *, number: str | None = None) -> "Person":
        """Someone on the demo channel (Telegram's stand-in), or on WhatsApp (known by ``number``)."""
        if number is not None:
            return Person(self, number, name, lang, WHATSAPP)
        user_id = str(next(self._users))
        return Person(self, f"7701{user_id:0>7}" if channel == WHATSAPP else user_id, name, lang, channel)

    def group(self, chat_id: str = "-1001", title: str = "Ауыл тобы") -> "Group":
        return Group(chat_id, title)

    async def handle(self, person: "Person", description: str, **fields) -> Outcome:
        fields.setdefault("chat_id", person.id)
        on_whatsapp = person.channel == WHATSAPP  # WhatsApp tells no language, but the number
        event = Event(channel=person.channel, user_id=person.id, update_id=str(next(self._updates)),
                      user_name=person.name, user_lang=None if on_whatsapp else person.lang,
                      own_number=person.id if on_whatsapp else None, **fields)
        outcome = await self.engine.handle(event)
        if on_whatsapp:
            outcome = for_whatsapp(outcome, event)
        if outcome.toast:
            self.toasts.append((person.id, outcome.toast))
        await self.delivery.deliver_outcome(outcome)
        await self.delivery.shown()  # the views it answered with (coalesced, sent beside the handler)
        await self.outbox.drain()  # group posts and notifications, at once (no rate limits here)
        if self.on_event:
            self.on_event(person, event, description, outcome)
        return outcome

    def messages(self, chat_id: str) -> list[Shown]:
        return self.sender.chats.get(chat_id, [])


@dataclass(frozen=True)
class Group:
    id: str
    title: str


@dataclass
class Person:
    sim: Sim
    id: str
    name: str
    lang: str
    channel: str = CHANNEL

    def _in(self, group: Group | None) -> Group | None:
        """Where the person acts: a WhatsApp member has no group; its posts reach their own chat."""
        return None if self.channel == WHATSAPP else group

    async def send(self, text: str, group: Group | None = None) -> Outcome:
        group = self._in(group)
        where = dict(chat_id=group.id, is_group=True, chat_title=group.title) if group else {}
        match = re.match(r"^/(\w+)(?:@\w+)?\s*(.*)$", text, re.S)
        if match:
            return await self.sim.handle(self, text, command=match.group(1).lower(), args=match.group(2), **where)
        return await self.sim.handle(self, text, text=text, **where)

    async def send_photo(self, file_id: str, caption: str = "") -> Outcome:
        return await self.sim.handle(self, f"[photo {file_id}] {caption}", text=caption, photo=file_id)

    async def send_document(self, caption: str = "") -> Outcome:
        return await self.sim.handle(self, f"[document] {caption}", text=caption, attachment="document")

    async def press(self, label: str, group: Group | None = None, *, contains: str | None = None) -> Outcome:
        """Press the newest button whose text contains ``label`` in this person's chat (or the group)."""
        group = self._in(group)
        chat = group.id if group else self.id
        for shown in reversed(self.sim.messages(chat)):
            if contains and contains not in shown.text:
                continue
            for row in shown.buttons:
                for b in row:
                    if label in b.text and b.data:
                        return await self.press_data(b.data, group)
        raise LookupError(f"{self.name} sees no button {label!r} in chat {chat}")

    async def press_data(self, data: str, group: Group | None = None) -> Outcome:
        group = self._in(group)
        if self.channel == WHATSAPP and not any(o[0] == data for shown in self.inbox() for part in shown.parts
                                               for o in part.options):
            raise LookupError(f"{self.name} was offered no option {data!r} on WhatsApp")
        where = dict(chat_id=group.id, is_group=True) if group else {}
        return await self.sim.handle(self, f"[{data}]", button=data, **where)

    async def share_contact(self, phone: str, owner: "Person | None" = None) -> Outcome:
        """Share their own contact card (as the client's button does), or ``owner``'s."""
        if owner is not None and owner is not self:
            return await self.sim.handle(self, f"[contact of {owner.name}]", foreign_contact=True)
        return await self.sim.handle(self, f"[contact {phone}]", phone=phone)

    def last(self) -> Shown:
        return self.sim.messages(self.id)[-1]

    def inbox(self) -> list[Shown]:
        return self.sim.messages(self.id)
