"""WhatsApp messages → ``Event`` → engine → messages back, one person's messages in order.

A stored message (as the webhook wrote it to the inbox) becomes an ``Event``: text (``/start x``
typed is a command), a tapped reply button or list row (checked against the options of the
message it was tapped under), a typed "2" (the option the flow numbered 2, else the second) or
an option's text in any case (when the last interactive message offered options; see
``render.typed_answer``), a contact card (the sender's own number, else ``foreign_contact``).
Other kinds get a short answer (how to answer: type or tap), reactions none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from dataclasses import replace
from datetime import datetime, timezone

from bot.delivery import Delivery
from bot.domain.text import clean
from bot.flows.engine import STALE_BUTTON, Engine, NotHandled
from bot.flows.types import Event, Message, Outcome
from bot.i18n import LOCALES, N_, translator
from bot.storage import inbox, updates, whatsapp as store
from bot.storage.db import Busy, Database
from bot.whatsapp.ingest import GroupCommit, NotStored, Turns
from bot.whatsapp.render import MORE, START, NoSuchOption, as_options, typed_answer
from bot.whatsapp.sender import CHANNEL, WhatsAppSender

log = logging.getLogger(__name__)
UNKNOWN_KIND = N_("I can read only text and taps. Please type your answer or tap an option.")
NO_SUCH_OPTION = N_("There is no option {number}. Type a number from 1 to {count}, or tap an option.")
NO_SUCH_NUMBER = N_("There is no option {number}. Type one of the numbers {numbers}, or tap an option.")
SILENT_KINDS = {"reaction"}  # answering these would be noise
BUSY_BACKOFF_CAP = 30.0
_COMMAND = re.compile(r"/([A-Za-z0-9_]+)(?:@\S+)?(?:\s+(.*))?", re.DOTALL)


class WhatsAppChannel:
    """``defer_max``: how long a stored message may wait while the webhook takes a burst of POSTs
    (see ``bot/whatsapp/ingest.py``); ``quiet``: the pause in POSTs after which they are handled."""

    def __init__(self, engine: Engine, delivery: Delivery, sender: WhatsAppSender, db: Database, *,
                 default_locale: str = "kk", retry_delay: float = 1.0, defer_max: float = 0.5,
                 quiet: float = 0.02) -> None:
        self.engine, self.delivery, self.sender, self.db = engine, delivery, sender, db
        self.default_locale = default_locale
        self.retry_delay = retry_delay
        self.defer_max = defer_max
        rate = sender.rate if 0 < sender.rate < float("inf") else 80.0
        self.turns = Turns(quiet, busy_rate=2 * rate)  # the webhook tells it when POSTs arrive
        self._handled = GroupCommit(db, _done, name="the handled messages' clean-up")
        # each person's messages one after another: those after the one in hand (or waiting for its turn)
        self._behind: dict[str, deque[tuple[str, str, bool, float]]] = {}
        self._tasks: set[asyncio.Task] = set()  # messages being handled
        self._unfinished = 0  # messages submitted and not yet handled
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    # --- scheduling -------------------------------------------------------------------------------
    def submit(self, message_id: str, stored: str, retry: bool = False, wa_id: str | None = None) -> None:
        """Handle a stored message after the ones before it from the same person (``wa_id``, else
        read from the message), when the webhook gives it a turn (``bot/whatsapp/ingest.py``)."""
        if self._stopping:
            return  # stays in the inbox: handled at the next start
        if wa_id is None:
            try:
                wa_id = str(json.loads(stored)["message"]["from"])
            except (ValueError, KeyError, TypeError):
                wa_id = ""
        self._unfinished += 1
        self._idle.clear()
        item = (message_id, stored, retry, asyncio.get_running_loop().time() + self.defer_max)
        behind = self._behind.get(wa_id)
        if behind is not None:  # the person's message before it is in hand, or waits for its turn
            behind.append(item)
            return
        self._behind[wa_id] = deque()
        self.turns.add(item[3], lambda: self._start(wa_id, item))

    def _start(self, wa_id: str, item: tuple[str, str, bool, float]) -> None:
        task = asyncio.create_task(self._handle_stored(wa_id, *item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_stored(self, wa_id: str, message_id: str, stored: str, retry: bool, deadline: float) -> None:
        try:
            await self._handle_once(message_id, stored, retry)
        finally:
            self._unfinished -= 1
            behind = self._behind.get(wa_id)
            if behind and not self._stopping:
                after = behind.popleft()
                # the person's next message goes next: their quick taps make one view, not one each
                self.turns.add(min(deadline, after[3]), lambda: self._start(wa_id, after))
            else:
                self._behind.pop(wa_id, None)
            if self._unfinished <= 0:
                self._idle.set()

    async def _handle_once(self, message_id: str, stored: str, retry: bool) -> None:
        delay = self.retry_delay
        while True:
            try:
                await self.handle(message_id, json.loads(stored), retry)
            except (NotHandled, Busy) as exc:  # the database stayed locked or out of reach: nothing done, tried again
                log.warning("WhatsApp message %s waits: the database is busy (%s)", message_id, exc)
                await asyncio.sleep(delay)
                delay, retry = min(delay * 2, BUSY_BACKOFF_CAP), True
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("WhatsApp message %s failed", message_id)
            break
        try:
            await self._handled.write(message_id)  # with those handled meanwhile: one transaction
        except NotStored:  # left in the inbox: at the next start the engine sees it was handled
            log.warning("WhatsApp message %s was handled but stays in the inbox", message_id)

    @property
    def busy(self) -> bool:
        """Messages submitted and not handled yet."""
        return self._unfinished > 0

    async def drain(self) -> None:
        """Wait until every message submitted so far is handled and its views shown (tests, shutdown)."""
        while self._unfinished > 0:
            await self._idle.wait()
            await self.delivery.shown()
        await self.delivery.shown()

    async def stop(self, grace: float = 10.0) -> None:
        """Handle what was submitted within ``grace`` seconds; the rest stays in the inbox."""
        try:
            async with asyncio.timeout(grace):
                while self._unfinished > 0:
                    await self._idle.wait()
        except TimeoutError:
            pass
        self._stopping = True
        self.turns.clear()
        self._behind.clear()
        for task in set(self._tasks):  # left in the inbox: handled at the next start
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._unfinished = 0
        self._idle.set()

    # --- one message ------------------------------------------------------------------------------
    async def handle(self, message_id: str, stored: dict, retry: bool = False) -> None:
        message = stored["message"]
        wa_id = str(message["from"])
        kind = message.get("type")
        try:
            self.sender.heard(wa_id, min(float(message.get("timestamp")), time.time()))
        except (TypeError, ValueError):
            pass
        received = stored.get("received")  # absent in rows an earlier version stored: the time it is handled
        base = dict(channel=CHANNEL, user_id=wa_id, chat_id=wa_id, update_id=message_id, retry=retry,
                    user_name=clean(str(stored.get("name") or ""))[:64], own_number=wa_id,
                    pressed_at=float(received) if isinstance(received, (int, float)) else None)
        if kind == "text":
            text = clean(str((message.get("text") or {}).get("body", "")))
            await self._text(base, wa_id, text)
        elif kind == "interactive":
            reply = message.get("interactive") or {}
            chosen = reply.get(reply.get("type", "")) or {}
            context = (message.get("context") or {}).get("id")
            await self._tapped(base, wa_id, str(chosen.get("id", "")), context)
        elif kind == "button":  # a template's quick reply: as if its text were typed
            await self._text(base, wa_id, clean(str((message.get("button") or {}).get("text", ""))))
        elif kind == "contacts":
            phones = [p for c in message.get("contacts") or [] for p in c.get("phones") or []]
            own = next((p for p in phones if str(p.get("wa_id", "")) == wa_id and p.get("phone")), None)
            await self._run(Event(**base, phone=str(own["phone"])) if own else Event(**base, foreign_contact=True))
        elif kind == "image" and (message.get("image") or {}).get("id"):  # evidence at a check-in, say
            image = message["image"]
            await self._run(Event(**base, text=clean(str(image.get("caption") or "")), photo=str(image["id"])))
        elif kind in ("document", "video"):  # refused where a photo is asked for: "send it as a photo"
            media = message.get(kind) or {}
            await self._run(Event(**base, text=clean(str(media.get("caption") or "")), attachment="document"))
        elif kind in SILENT_KINDS:
            await self.db.atomic(lambda tx: updates.claim(tx, CHANNEL, message_id, _now()))
        else:
            await self._say(base, wa_id, UNKNOWN_KIND)

    async def _text(self, base: dict, wa_id: str, text: str) -> None:
        command = _COMMAND.fullmatch(text.strip())
        if command is not None:
            await self._run(Event(**base, command=command.group(1).lower()[:64], args=(command.group(2) or "").strip()))
            return
        options = as_options(await self.db.atomic(lambda tx: store.last_options(tx, wa_id)))
        chosen = typed_answer(options, text)
        if isinstance(chosen, NoSuchOption):
            if chosen.numbers is None:
                await self._say(base, wa_id, NO_SUCH_OPTION, number=chosen.number, count=chosen.count)
            else:
                await self._say(base, wa_id, NO_SUCH_NUMBER, number=chosen.number,
                                numbers=", ".join(map(str, chosen.numbers)))
        elif chosen is not None:
            await self._run(_chosen(base, chosen))
        else:
            await self._run(Event(**base, text=text))

    async def _tapped(self, base: dict, wa_id: str, option_id: str, context: str | None) -> None:
        sent = await self.db.atomic(lambda tx: store.sent(tx, context)) if context else None
        if sent is None or sent.wa_id != wa_id:  # under a message we do not know (forgotten, or forged)
            await self._say(base, wa_id, STALE_BUTTON)
            return
        if option_id == MORE:
            if await self.db.atomic(lambda tx: updates.claim(tx, CHANNEL, base["update_id"], _now())):
                await self.sender.send_page(wa_id, sent, sent.page + 1)
            return
        if all(option_id != o[0] for o in sent.options):  # a row id never sent
            await self._say(base, wa_id, STALE_BUTTON)
            return
        await self._run(_chosen(base, option_id))

    async def _run(self, event: Event) -> None:
        outcome = for_whatsapp(await self.engine.handle(event), event)
        await self.delivery.deliver_outcome(outcome)

    async def _say(self, base: dict, wa_id: str, text: str, **values: object) -> None:
        """A short answer from the channel itself, once per message id."""
        locale = await self.db.atomic(lambda tx: store.locale_of(tx, wa_id))
        tr = translator(locale if locale in LOCALES else self.default_locale)
        if not await self.db.atomic(lambda tx: updates.claim(tx, CHANNEL, base["update_id"], _now())):
            return  # answered before
        await self.delivery.deliver([Message(CHANNEL, wa_id, tr.t(text, **values))])

    async def replay(self) -> int:
        """Hand what the inbox still holds (received before the last stop) to the handlers."""
        left = await self.db.atomic(lambda tx: inbox.pending(tx, CHANNEL))
        for message_id, stored in left:
            self.submit(message_id, stored, retry=True)
        return len(left)


def _chosen(base: dict, option_id: str) -> Event:
    """The event of a chosen option: its button, or the link it stands for ("Open the ballot")."""
    if option_id.startswith(START):
        return Event(**base, command="start", args=option_id[len(START):])
    return Event(**base, button=option_id)


def for_whatsapp(outcome: Outcome, event: Event) -> Outcome:
    """What the engine answered, as WhatsApp shows it: the person's own chat gets a fresh message
    where Telegram would edit one (they asked for it: the next question of a ballot).

    The acknowledgement (``outcome.toast``; WhatsApp has no toasts) is the channel's one rule: it
    becomes a short reply (its link as an option) unless a message to this person in the same
    outcome, sent now or queued, already says what comes next."""
    here = (event.channel, event.chat_id)
    mine = lambda m: (m.channel, m.chat_id) == here  # noqa: E731
    outcome.messages = [replace(m, edit=False) if m.edit and mine(m) else m for m in outcome.messages]
    toast, outcome.toast = outcome.toast, None
    if toast is not None and here not in outcome.queued_to and not any(mine(m) for m in outcome.messages):
        outcome.messages.append(toast.as_message(*here))
    return outcome


async def _done(tx, message_ids: list[str]) -> list[None]:
    """Handled: out of the inbox, and the answers kept for a replay no longer kept."""
    await inbox.done(tx, CHANNEL, message_ids)
    await updates.delivered(tx, CHANNEL, message_ids)
    return [None] * len(message_ids)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


