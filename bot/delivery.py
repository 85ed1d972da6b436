"""Delivering the flows' messages through a channel's sender, after the transaction commits.

Charts are rendered here, in the drawing process (``bot.drawing``), once for all the
recipients of a post (a result fanned out to a thousand WhatsApp members is drawn once, not a
thousand times). Views that many people change at once (a ballot's counts in a group) are redrawn
at most once every ``edit_interval`` seconds per view, from the database as it is then, so a burst
of taps costs one edit and one read, not one per tap.

A member's own view (the next question of a private ballot, their stickers marked) is coalesced
per chat: while a state of a view waits for its chat's slot, a newer state of the same view
replaces it, so a member who taps five times quickly gets one up-to-date view, not five redraws
(an edit on Telegram, one fresh message on WhatsApp). The handler does not wait for it: the tap
is acknowledged at once (Telegram's toast, which is no chat message and takes no slot), and the
person's next message is handled while their view waits for its slot.

An edit of a member's private view that answers their own tap (the next question of a private
ballot, shown by editing the message they tapped) is interactive feedback, not a bulk
notification: it takes no slot of the channel's overall rate and does not wait for the chat's
interval (``bot.pacing``, ``own``). It stays coalesced as above — at most one edit in flight per
chat, a newer state replacing the one waiting — and goes out as soon as the chat's previous edit
is answered; a 429 still holds it. Which edits those are: the outcome of a tap in a private
chat names that chat (``Outcome.tapped``); its edits of views in that chat, sent within
``OWN_TAP_WINDOW`` of the tap, are the member's own. Everything else (an edit someone else's
action or the scheduler caused, a group's counts, new messages) takes its slots as before.

**Several workers on one PostgreSQL database** share what one process keeps in memory on SQLite:
the channel's slots and a chat's interval and holds (``bot.pacing``, ``shared``), the redraw of a
view at most once every ``edit_interval`` by all of them (``EditThrottle``, ``claims``), and what a
message shows. That last one is a digest in ``message_refs.shown``, not this process's memory:
another worker may have edited the message since, so a memory of what this worker drew last could
skip an edit back to it (a vote taken back) while the message shows something else. Noting a
drawing as the newest (``updates.view_target``, in the unit of work that already reads the row)
notes its digest too, before the edit leaves: an identical drawing after it is not sent, whichever
worker drew it. An edit that fails forgets the digest (what the message shows is not known: the
next drawing is sent), and one that sent a newer state in its place (``latest``) notes that one's.
A process that dies between the noting and Telegram's answer may leave a digest of an edit that
never arrived: the view's next identical drawing is then skipped, its next change is not.
``Delivery.shared`` says which store it is; the code is otherwise one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.messages import Chart, Message, Outcome, View
from bot.pacing import OWN_TAP_WINDOW, Busy, Pacer
from bot.storage import members, outbox, pace, updates
from bot.storage.db import Busy as DatabaseBusy, Database
from bot.storage.pg import PgDatabase

log = logging.getLogger(__name__)
OUT_OF_REACH_RETRY = 1.0  # seconds before a redraw's claim is tried again when the database was out of reach


class RetryLater(Exception):
    """The channel asks us to wait (Telegram's 429 ``retry_after``) before sending to that chat."""

    def __init__(self, seconds: float, everywhere: bool = False) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds
        self.everywhere = everywhere


class Undeliverable(Exception):
    """The message can never be delivered (the person blocked the bot, the chat is gone)."""


class Blocked(Undeliverable):
    """The person blocked the bot: their private chat takes nothing until they write again."""


class NotShownYet(Undeliverable):
    """An edit of a message that was never sent, or still waits in the outbox."""


class Moved(Undeliverable):
    """The chat lives on under another id (Telegram upgraded the group to a supergroup)."""

    def __init__(self, to: str) -> None:
        super().__init__(f"the chat moved to {to}")
        self.to = to


class Sender(Protocol):
    """One channel's way of putting a message on a screen.

    ``send`` and ``edit`` raise ``RetryLater`` when the channel limits us, ``Undeliverable``
    when it never will accept the message; other exceptions are failures worth retrying.
    """

    rate: float  # messages per second overall

    def min_interval(self, chat_id: str) -> float:
        """Seconds between two messages to one chat (Telegram: 1 s, 3 s for groups)."""

    async def send(self, message: Message, image: bytes | None) -> str | None:
        """Send; return the channel's id of the new message (None when it has none)."""

    async def edit(self, message: Message, message_id: str) -> None:
        """Replace the text and buttons of a message sent earlier."""


@dataclass
class _Pending:
    last: float = float("-inf")
    latest: Callable[[], Awaitable[None]] | None = None
    task: asyncio.Task | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one redraw of a view at a time, in order
    since: float | None = None  # shared: the server's time of the first claim tried after the latest request


class Claims(Protocol):
    """Redraw claims shared by several workers (``bot.storage.pace.claim_view``)."""

    def __call__(self, key: str, interval: float) -> Awaitable["pace.Claim"]: ...


@dataclass
class EditThrottle:
    """At most one redraw of a view every ``interval`` seconds; the latest request wins, and a
    request that arrives while a redraw runs gets one after it (so the last state is drawn).

    **Across workers** (``claims``: several workers on one PostgreSQL database), a redraw is drawn
    by the worker that claims it in the database (``bot.storage.pace.claim_view``: nobody claimed
    the view within ``interval``), so the view is redrawn at most once every ``interval`` by all
    of them together. A worker asked to redraw (after the change that asked committed) tries to
    claim; the winner draws from the database as it is after its claim. A loser tries again when
    the claim it lost to runs out, and is done as soon as it sees a claim made after its first
    try: that claim was made after the loser's change committed (the change committed before the
    loser asked, and it asked before its first try), so the drawing that follows it, read after
    the claim, shows the change. A claim older than the first try might have been drawn from a
    read before the change, so it does not count: the loser waits it out and tries again — then
    either it wins, or the claim it loses to is newer than its first try (a claim stands for
    ``interval``, and the first try saw the old one still standing). So the last state is always
    drawn, by someone, at most ``interval`` (plus a redraw) after the last change. Times are the
    server's clock, so workers' clocks need not agree."""

    interval: float = 3.0
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, _Pending] = field(default_factory=dict)
    claims: Claims | None = None

    async def submit(self, key: str, edit: Callable[[], Awaitable[None]]) -> None:
        pending = self._keys.setdefault(key, _Pending())
        if self.claims is not None:
            pending.latest, pending.since = edit, None  # a change after every claim seen so far
            if pending.task is None and not pending.lock.locked():  # a first try at once, as below
                async with pending.lock:
                    await self._try(key, pending)
            if pending.latest is not None and pending.task is None:
                pending.task = asyncio.create_task(self._claimed(key, pending))
            return
        if pending.task is None and not pending.lock.locked() and self.clock() - pending.last >= self.interval:
            async with pending.lock:
                pending.last = self.clock()
                await edit()
            return
        pending.latest = edit
        if pending.task is None:
            pending.task = asyncio.create_task(self._later(key, pending))

    async def _later(self, key: str, pending: _Pending) -> None:
        try:
            async with pending.lock:  # after the redraw in progress, if any
                await asyncio.sleep(max(0.0, pending.last + self.interval - self.clock()))
                pending.task = None  # from here on, a new request schedules its own redraw
                edit, pending.latest = pending.latest, None
                pending.last = self.clock()
                if edit is not None:
                    await edit()
        except Exception:
            log.exception("delayed redraw of %s failed", key)
        finally:
            if pending.task is asyncio.current_task():
                pending.task = None

    async def _try(self, key: str, pending: _Pending) -> float:
        """One try at the latest request (under ``pending.lock``): draw it if this worker claims
        the view, forget it if a claim newer than the first try after it stands (see the class's
        docstring); the seconds until the next try (when ``pending.latest`` is still set)."""
        assert self.claims is not None
        if (wait := pending.last + self.interval - self.clock()) > 0:  # this worker's last redraw
            return wait
        claim = await self.claims(str(key), self.interval)
        if claim.won:
            edit, pending.latest, pending.since = pending.latest, None, None
            pending.last = self.clock()
            if edit is not None:
                await edit()  # it reads the database after the claim
            return self.interval
        if pending.since is not None and claim.claimed_at > pending.since:
            pending.latest = pending.since = None  # the drawing after that claim shows the change
            return 0.0
        if pending.since is None:
            pending.since = claim.now
        return max(0.0, claim.claimed_at + self.interval - claim.now)

    async def _claimed(self, key: str, pending: _Pending) -> None:
        """Try until the latest request is drawn, here or by another worker (``_try``)."""
        try:
            async with pending.lock:
                while pending.latest is not None:
                    try:
                        wait = await self._try(key, pending)
                    except DatabaseBusy:  # the database out of reach a while (logged where it is noted): again
                        wait = OUT_OF_REACH_RETRY
                    if pending.latest is not None and wait > 0:
                        await asyncio.sleep(wait)
        except Exception:
            log.exception("the redraw of %s failed; it is tried again at the next change or start", key)
        finally:
            if pending.task is asyncio.current_task():
                pending.task = None

    @property
    def busy(self) -> bool:
        """A redraw is waiting or being drawn."""
        return any(p.task is not None or p.lock.locked() for p in self._keys.values())

    async def flush(self) -> None:
        """Wait until every requested redraw has been drawn (tests, shutdown)."""
        while self.busy:
            await asyncio.sleep(0.01)

    async def cancel(self) -> None:
        """Drop the redraws still waiting (a stop that cannot wait for them: the scheduler asks
        for them again at the next start, ``redraw_pending``)."""
        waiting = [p.task for p in self._keys.values() if p.task is not None]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


async def _no_redraw(view: View) -> Outcome:
    raise RuntimeError(f"nothing can redraw {view!r}: set Delivery.redraw")


@dataclass
class _ChatViews:
    """The views waiting to be shown in one chat: the newest state of each, in the order they
    were first asked for; one task shows them, one slot of the chat each."""

    waiting: dict[str, Message] = field(default_factory=dict)  # tag → newest state
    tapped: dict[str, float] = field(default_factory=dict)  # tag → when the member's latest tap asked for it
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


def _newer(waiting: Message | None, new: Message) -> Message:
    """What goes out in place of ``waiting`` once ``new`` is asked for: the newer drawing; a fresh
    message (not yet sent) stays a fresh message, with the newer content."""
    if waiting is None:
        return new
    if new.drawn_at < waiting.drawn_at:  # drawn before the one waiting (a replay): never shown over it
        new = waiting
    return new if waiting.edit or not new.edit else replace(new, edit=False)


def _coalesced(message: Message) -> bool:
    """A view's state that answers an action and is not kept (a durable one goes through the
    outbox): only its newest state needs to reach the chat."""
    return message.tag is not None and not message.durable


@dataclass
class _Shown:
    content: tuple | None = None  # (text, buttons) the channel accepted last
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Delivery:
    """Sends replies at once; what cannot be sent now goes to the outbox, which retries."""

    SHOWN_MAX = 10_000
    CHARTS_KEPT = 8  # charts drawn lately, reused by the rest of their post's recipients

    def __init__(self, db: Database, senders: dict[str, Sender], *, edit_interval: float = 3.0,
                 redraw: Callable[[View], Awaitable[Outcome]] | None = None) -> None:
        self.db = db
        self.senders = senders
        # Several workers may share a PostgreSQL database: rate limits, redraws and what a message
        # shows are kept there (bot/storage/pace.py); SQLite's one process keeps them in memory.
        self.shared = isinstance(db, PgDatabase)
        self.throttle = EditThrottle(edit_interval, claims=(
            (lambda key, interval: pace.claim_view(db, key, interval)) if self.shared else None))
        self.wake_outbox: Callable[[], None] = lambda: None
        self.redraw = redraw or _no_redraw  # the engine's: runs a view's refresher
        self._shown: dict[tuple[str, str, str], _Shown] = {}  # tagged messages, most recent last
        self._charts: OrderedDict[tuple, asyncio.Future[bytes]] = OrderedDict()  # most recent last
        self._pacers: dict[str, Pacer] = {}
        self._views: dict[tuple[str, str], _ChatViews] = {}  # (channel, chat) → views waiting there

    def pacer(self, channel: str) -> Pacer:
        """The channel's one pacer: the answers sent here and the outbox take their slots from it."""
        pacer = self._pacers.get(channel)
        if pacer is None:
            sender = self.senders[channel]
            pacer = self._pacers[channel] = Pacer(sender.rate, sender.min_interval, shared=(
                pace.SharedPace(self.db, channel) if self.shared else None))
        return pacer

    async def deliver_outcome(self, outcome: Outcome) -> None:
        """Send what handling an event answered. Views are handed to their chat's queue and not
        waited for (see the module's docstring): ``shown`` waits for them."""
        await self.deliver(outcome.messages, wait=False, tapped=outcome.tapped)
        if outcome.queued:
            self.wake_outbox()
        for view in sorted(outcome.refresh, key=lambda v: v.order):
            await self.throttle.submit(self._claim_key(view) if self.shared else view,
                                       lambda view=view: self._redraw(view))

    def _claim_key(self, view: View) -> str:
        """The view's redraw claim, shared by the workers that send through the same channels: a
        worker of one channel only (a WhatsApp app in a process of its own) draws only its
        channel's messages, so its claim must not stand for another channel's workers."""
        return f"{','.join(sorted(self.senders))} {view.to_json()}"

    async def _redraw(self, view: View) -> None:
        try:
            outcome = await self.redraw(view)
        except Exception:  # one view that cannot be drawn must not keep the others from it
            log.exception("redrawing %s failed; it is tried again at the next change or start", view)
            return
        await self.deliver(outcome.messages)

    async def deliver(self, messages: list[Message], *, wait: bool = True,
                      tapped: tuple[str, str] | None = None) -> None:
        """Send ``messages`` in order, each chat's after the views waiting there; what cannot go
        now goes to the outbox. A view's state joins its chat's queue (coalesced); ``wait``: return
        once those views are shown too. ``tapped``: the (channel, chat) of the private chat whose
        member's tap these messages answer: the edits of views there are the member's own."""
        later: list[Message] = []
        wait_for: dict[tuple[str, str], float] = {}  # what a chat's 429 asked for: the outbox does not try before
        handed: list[_ChatViews] = []
        for message in messages:
            sender = self.senders.get(message.channel)
            if sender is None:
                log.warning("no sender for channel %s; message to %s dropped", message.channel, message.chat_id)
                continue
            if any(m.channel == message.channel and m.chat_id == message.chat_id for m in later):
                later.append(message)  # behind the one that failed, not ahead of it
                continue
            if _coalesced(message):
                own = message.edit and tapped == (message.channel, message.chat_id)
                handed.append(self._show(sender, message, own))
                continue
            views = self._views.get((message.channel, message.chat_id))
            if views is not None:  # the views asked for before it, first
                await views.done.wait()
            queue, seconds = await self._attempt(sender, message)
            if queue:
                later.append(message)
                if seconds is not None:
                    wait_for[message.channel, message.chat_id] = seconds
        if later:
            await self._queue(later, wait_for)
        if wait:
            for views in handed:
                await views.done.wait()

    def _show(self, sender: Sender, message: Message, own: bool = False) -> _ChatViews:
        """Put ``message`` in its chat's queue of views, over an older state of the same view;
        ``own``: it answers the member's own tap (which the state waiting, if any, then answers too)."""
        chat = (message.channel, message.chat_id)
        views = self._views.get(chat)
        if views is None:
            views = self._views[chat] = _ChatViews()
            views.task = asyncio.create_task(self._show_views(sender, chat, views))
        assert message.tag is not None
        views.waiting[message.tag] = _newer(views.waiting.get(message.tag), message)
        if own:
            views.tapped[message.tag] = self.pacer(message.channel).clock()
        return views

    async def _show_views(self, sender: Sender, chat: tuple[str, str], views: _ChatViews) -> None:
        """Show a chat's waiting views: once the chat may get its next message, the first view
        waits for its overall slot, and what goes out in that slot is the newest state of the view
        by then (a member's taps while it waited are one redraw). What cannot go now goes to the
        outbox with what waits behind it. An edit answering the member's own tap (see the module's
        docstring) waits for neither the chat's interval nor an overall slot, only for the edit
        before it in this chat (this task sends one at a time) and a 429's hold."""
        pacer = self.pacer(chat[0])

        def own(tag: str) -> bool:
            tapped = views.tapped.get(tag)
            return tapped is not None and pacer.clock() - tapped <= OWN_TAP_WINDOW

        try:
            while views.waiting:
                tag = next(iter(views.waiting))  # the first stays first: only this task takes views out
                try:
                    await pacer.chat_turn(chat[1], own=own(tag))
                except Busy as exc:  # the chat waits out a 429: the outbox sends them when it may
                    waiting, views.waiting = list(views.waiting.values()), {}
                    views.tapped.clear()  # from the outbox, an ordinary message
                    await self._queue(waiting, {chat: exc.seconds})
                    continue
                picked: list[Message] = []

                def latest(drawn: Message, tag: str = tag, picked: list[Message] = picked) -> Message:
                    state = views.waiting.pop(tag, drawn)
                    if (state.edit, state.chart, state.document) != (drawn.edit, drawn.chart, drawn.document):
                        views.waiting[tag] = state  # not sent in this one's place: it goes next
                        state = drawn
                    else:
                        views.tapped.pop(tag, None)  # a tap from now on asks for the next edit
                    picked.append(state)
                    return state

                drawn = views.waiting[tag]
                queue, seconds = await self._attempt(sender, drawn, latest, own=own(tag))
                message = picked[0] if picked else drawn
                if not picked and views.waiting.get(tag) is drawn:  # else a newer state came meanwhile: next
                    del views.waiting[tag]
                if tag not in views.waiting:
                    views.tapped.pop(tag, None)
                if queue:
                    waiting, views.waiting = [message, *views.waiting.values()], {}
                    views.tapped.clear()
                    await self._queue(waiting, {} if seconds is None else {chat: seconds})
        except Exception:
            log.exception("showing the views of %s:%s failed", *chat)
        finally:
            if self._views.get(chat) is views:
                del self._views[chat]
            views.done.set()

    async def _attempt(self, sender: Sender, message: Message, latest: Callable[[Message], Message] | None = None,
                       *, own: bool = False) -> tuple[bool, float | None]:
        """Send one message now (``latest``, ``own``: see ``send_one``). (True, seconds) when it must
        go to the outbox instead, not before ``seconds`` (None: as soon as it may); (False, None)
        when it is done with."""
        try:
            await self.send_one(sender, message, urgent=True, latest=latest, own=own)
        except Busy as exc:  # the chat waits out a 429: the outbox sends it when it may
            return True, exc.seconds
        except NotShownYet:
            # what it edits waits in the outbox (a new group post): after it
            return await self.db.atomic(lambda tx: outbox.holds(tx, message.channel, message.chat_id)), None
        except Undeliverable as exc:
            log.info("%s:%s does not accept messages: %s", message.channel, message.chat_id, exc)
        except Exception as exc:
            log.warning("sending to %s:%s failed (%s); the outbox will retry", message.channel,
                        message.chat_id, exc)
            return True, exc.seconds if isinstance(exc, RetryLater) else None
        return False, None

    async def _queue(self, messages: list[Message], wait: dict[tuple[str, str], float]) -> None:
        now = datetime.now(timezone.utc)
        not_before = {chat: now.timestamp() + seconds for chat, seconds in wait.items()}
        await self.db.atomic(lambda tx: outbox.add(tx, messages, now.isoformat(timespec="seconds"), not_before))
        self.wake_outbox()

    async def shown(self) -> None:
        """Wait until every view handed over so far has been shown (or queued in the outbox)."""
        while self._views:
            await asyncio.gather(*(views.done.wait() for views in list(self._views.values())))

    async def flush(self) -> None:
        """Wait until every requested redraw and every view handed over has been shown."""
        while True:
            await self.throttle.flush()
            await self.shown()
            if not self._views and not self.throttle.busy:
                return

    async def cancel(self) -> None:
        """Drop the redraws and views still waiting (a stop that cannot wait for them: the
        scheduler asks for the redraws again at the next start; a member's view is drawn again
        at their next tap)."""
        await self.throttle.cancel()
        tasks = [views.task for views in self._views.values() if views.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def send_one(self, sender: Sender, message: Message, *, urgent: bool = False,
                       latest: Callable[[Message], Message] | None = None, own: bool = False) -> None:
        """Send (or edit) one message in a slot of its channel's pacer: ``urgent`` for an answer
        to what a member just did, which goes before the outbox's broadcast; a 429 holds the chat
        (or the channel) for both. ``latest``: called once the slot is taken, with the message,
        it gives the state to send in its place (a newer drawing of the same view; what is
        looked up in the database is looked up before the slot, so the request leaves at once).
        ``own``: an edit that answers the member's own tap takes no slot (``Pacer.take``); a new
        message never is one."""
        pacer = self.pacer(message.channel)
        try:
            await self._send_one(sender, message, pacer, urgent, latest or (lambda m: m), own)
        except Busy as exc:
            if urgent:
                raise
            # another worker's send to the chat or a 429 it saw (shared pacing): the outbox waits
            raise RetryLater(exc.seconds) from None
        except RetryLater as exc:
            await pacer.report(message.chat_id, exc.seconds, exc.everywhere)
            raise

    async def _send_one(self, sender: Sender, message: Message, pacer: Pacer, urgent: bool,
                        latest: Callable[[Message], Message], own: bool = False) -> None:
        if message.edit and message.tag:
            drawn_at = message.drawn_at
            showing = pace.digest(message.text, message.buttons) if self.shared else None
            # noted as the newest drawing, what it shows not known (NULL) until the channel accepts
            # the edit: a crash in between leaves the next identical redraw to be sent, not skipped
            message_id, newest, shown_there = await self.db.atomic(lambda tx: updates.view_target(
                tx, message.channel, message.chat_id, message.tag, drawn_at, None))
            if message_id is None:
                raise NotShownYet(f"nothing shown under {message.tag!r} yet")
            if not newest:
                return  # drawn before one already shown (it waited out a 429, or came with a replay)
            shown = self._shown_as((message.channel, message.chat_id, message_id))
            async with shown.lock:  # edits of one message in the order of their drawing
                # What the message shows: this process's memory on SQLite (one process sends); on
                # PostgreSQL what the database says (another worker may have edited it since).
                if self.shared:
                    unchanged = shown_there == showing
                else:
                    unchanged = shown.content == (message.text, message.buttons)
                if not unchanged:
                    await pacer.take(message.chat_id, urgent=urgent, own=own)
                    message = latest(message)
                    await sender.edit(message, message_id)
                    await pacer.done(message.chat_id)
                    shown.content = (message.text, message.buttons)
                    if self.shared:  # what it shows now (a newer state may have gone in its place: ``latest``)
                        await pace.note_shown(self.db, message.channel, message.chat_id, message.tag, message_id,
                                              drawn_at, pace.digest(message.text, message.buttons))
            return
        image = None if message.chart is None else await self._image(message.chart)
        if isinstance(message.document, Chart):  # a document made now, off the event loop (the report)
            from bot.charts import render

            made = message.document
            message = replace(message, document=(made.filename, await render(made.render, *made.args, **made.kwargs)))
        await pacer.take(message.chat_id, urgent=urgent)
        message = latest(message)
        try:
            message_id = await sender.send(message, image)
            await pacer.done(message.chat_id)
        except Blocked:
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            await self.db.atomic(lambda tx: members.mark_unreachable(tx, message.channel, message.chat_id, now))
            raise
        except Moved as moved:  # sent before the bot saw the group's upgrade
            if message.tag:
                raise  # a live view: the flows post it again where the group is now, once they see the move
            await pacer.take(moved.to, urgent=urgent)
            message_id = await sender.send(replace(message, chat_id=moved.to), image)
        if message.tag and message_id is not None:
            showing = pace.digest(message.text, message.buttons) if self.shared else None
            await self.db.atomic(lambda tx: updates.remember_message(
                tx, message.channel, message.chat_id, message.tag, message_id, message.drawn_at, showing))
            self._shown_as((message.channel, message.chat_id, message_id)).content = (message.text,
                                                                                      message.buttons)

    async def _image(self, chart: Chart) -> bytes:
        """The chart's PNG. A renderer draws only its arguments, so the same renderer and
        arguments give the same image: drawn once (in the drawing process) and reused by every
        recipient of the post, including those whose send waits for the first drawing."""
        key = (chart.render, repr(chart.args), repr(chart.kwargs))
        drawing = self._charts.get(key)
        if drawing is None:
            from bot.charts import render

            drawing = self._charts[key] = asyncio.ensure_future(render(chart.render, *chart.args, **chart.kwargs))
            while len(self._charts) > self.CHARTS_KEPT:
                self._charts.popitem(last=False)
        else:
            self._charts.move_to_end(key)
        try:
            return await asyncio.shield(drawing)
        except Exception:
            if self._charts.get(key) is drawing:  # a failed drawing is tried again by the next send
                del self._charts[key]
            raise

    def _shown_as(self, key: tuple[str, str, str]) -> "_Shown":
        """What a tagged message shows, so an identical redraw is not sent (Telegram refuses it,
        and it would spend the group's 20 messages a minute). Bounded: the least recently used
        idle entry is forgotten (then one redraw too many at worst)."""
        shown = self._shown.pop(key, None) or _Shown()
        self._shown[key] = shown
        if len(self._shown) > self.SHOWN_MAX:
            idle = next((k for k, v in self._shown.items() if not v.lock.locked()), None)
            if idle is not None and idle != key:
                del self._shown[idle]
        return shown
