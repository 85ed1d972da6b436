"""One channel's sending slots, shared by everything that sends through it.

Telegram documents about 30 messages a second overall ("bulk notifications to multiple users"),
one a second in a chat and 20 a minute in a group, and counts a message the same whether it
answers a member or drains a digest from the outbox. So both take their slot from one ``Pacer``
per channel:

* overall, messages are spaced evenly a little under the channel's rate, and no second ever
  holds more than that rate allows (``cap``): a slot missed because the event loop was busy (a
  scheduler pass, a chart) is made up for within ``CATCH_UP``, never beyond the cap;
* in one chat, a message goes no sooner than the channel's interval after the previous one;
* a 429's ``retry_after`` holds that chat (or the whole channel) for every sender alike.

Interactive traffic (a member's answer, the edit of a view they changed) comes first: a broadcast
takes an overall slot only when no interactive send is waiting for one, so a digest to 10,000
members delays a member's answer by one slot at most, never by its queue. Interactive sends wait
for the overall slot one at a time, in the order they came (a thousand members' views waiting
do not all wake at every slot).

**An edit answering the member's own tap** (``own=True``: the edit of their private view, made
within ``OWN_TAP_WINDOW`` of the tap in that chat; the lead's decision, issue 12) is interactive
feedback, not a bulk notification: it takes no overall slot, and it does not wait for the
chat's interval either — a member answering ten questions quickly does not wait a second each.
What bounds it is the member: it follows a tap of theirs, and ``bot.delivery`` keeps one edit in
flight per chat, a newer state replacing the one waiting. It does wait out a 429's hold of its
chat or of the channel (and one held longer than ``LONGEST_WAIT`` goes to the outbox, where it
is an ordinary message), and it sets the chat's interval for what comes after it (a new message,
a reminder), as any message does. Everything else — sends to groups, broadcasts, reminders, new
messages, and edits nobody's tap in that chat asked for (a group's counts, a redraw someone
else caused, a closed ballot) — takes its slots as before.

**Several workers on one PostgreSQL database** (``shared``, ``bot.storage.pace``): the limits
hold across them, not per worker. Each worker's pacer still orders its own sends (interactive
before broadcast, one of each waiting for a slot at a time) and keeps its own even spacing and
cap; once it has a local slot for a send, it reserves the send's slot in the database with one
statement that books the channel's next overall slot (evenly spaced at ``PACE`` of the rate, the
cap on any 1.05 s, ``CATCH_UP``) and the chat's next message (its interval after the slot) at
once, and waits until that time. A chat that is not ready by the channel's next slot (another
worker sent to it lately, or a 429 holds it) gets no reservation: the pacer learns how long the
chat waits and waits (an interactive send raises ``Busy`` beyond ``LONGEST_WAIT`` as before; a
broadcast's raises ``Busy`` at once, so the outbox goes on with other chats). A 429 one worker
sees is written there too (``report``), so every worker waits it out. An own-tap edit reserves
no overall slot and ignores the chat's interval there too, but waits out a 429's hold that any
worker wrote, and sets the chat's interval for what comes after it. So across N workers the
channel's sends keep to its rate, and a chat's to its interval; an interactive send waits behind
at most the slots already reserved, about two a worker (one broadcast, one interactive), not
behind another worker's queue. SQLite runs one process: ``shared`` is None there, and nothing
above changes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

PACE = 0.95  # of the channel's rate: room for requests that arrive a little late or early
MARGIN = 1.05  # of a chat's interval: for a request that arrives a little later than the next
CATCH_UP = 0.25  # seconds of missed slots that may still be used (a short burst, under the cap)
LONGEST_WAIT = 5.0  # seconds an interactive send waits for its chat; longer, it goes to the outbox
OWN_TAP_WINDOW = 5.0  # seconds after a member's tap in which the edit answering it is their own (see above)


class Busy(Exception):
    """The chat (or the channel) is held longer than an answer should wait: queue it instead."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"busy for {seconds:.1f}s")
        self.seconds = seconds


class Reserved(Protocol):
    slot: float | None  # seconds until the slot reserved; None: none was
    chat_next: float  # seconds the chat's interval still runs
    chat_held: float  # seconds a 429 still holds the chat
    paused: float  # seconds a 429 still holds the whole channel


class Shared(Protocol):
    """The slots of one channel shared by several workers (``bot.storage.pace.SharedPace``)."""

    def take(self, chat_id: str, *, interval: float, spacing: float, cap: int | None, catch_up: float,
             own: bool) -> Awaitable[Reserved]: ...

    def hold(self, chat_id: str, seconds: float, everywhere: bool = False) -> Awaitable[None]: ...

    def done(self, chat_id: str, interval: float) -> Awaitable[None]: ...


class Pacer:
    def __init__(self, rate: float, interval: Callable[[str], float], *,
                 clock: Callable[[], float] = time.monotonic, shared: Shared | None = None) -> None:
        self.spacing = 1.0 / (rate * PACE) if rate > 0 else 0.0
        self.cap = max(1, int(rate * PACE)) if math.isfinite(rate) else None  # sends in any one second
        self.interval = interval
        self.clock = clock
        self._next = float("-inf")      # the next overall slot
        self._recent: deque[float] = deque()  # when the slots of the last second were taken
        self._chat: dict[str, float] = {}  # chat → when it may get its next message
        self._held: dict[str, float] = {}  # chat → until when a 429 holds it (for an own-tap edit too)
        self._paused_until = float("-inf")  # the channel said to wait, for every chat
        self._urgent = 0                  # interactive sends waiting for an overall slot
        self._broadcast = asyncio.Lock()  # one broadcast send waits for a slot at a time
        self._interactive = asyncio.Lock()  # one interactive send waits for the overall slot at a time
        self.taken = 0
        self.own = 0  # edits answering a member's own tap: no overall slot taken (see above)
        self.missed = 0.0  # slots gone unused beyond CATCH_UP (the sender came late, or had nothing to send)
        self.shared = shared  # several workers: the slots reserved in the database too (see above)
        self._reserved: dict[str, float] = {}  # chat → when its last shared slot came (for ``done``)
        self.deferred = 0  # shared reservations refused: the chat or the channel was not ready

    def chat_wait(self, chat_id: str, own: bool = False) -> float:
        """Seconds before ``chat_id`` may get a message (0: now); ``own``: an edit answering the
        member's own tap, which waits out a 429's hold only, not the chat's interval."""
        now = self.clock()
        held = max(self._held.get(chat_id, float("-inf")), self._paused_until)
        if not own:
            held = max(held, self._chat.get(chat_id, float("-inf")))
        return max(0.0, held - now)

    def paused(self) -> float:
        """Seconds the whole channel still waits out a 429 (0: none)."""
        return max(0.0, self._paused_until - self.clock())

    def hold(self, chat_id: str, seconds: float, everywhere: bool = False) -> None:
        """A 429: nothing to ``chat_id`` (or, ``everywhere``, to any chat) for ``seconds``."""
        until = self.clock() + seconds
        self._held[chat_id] = max(self._held.get(chat_id, float("-inf")), until)
        if everywhere:
            self._paused_until = max(self._paused_until, until)

    async def take(self, chat_id: str, *, urgent: bool, own: bool = False) -> None:
        """See ``_take``; broadcast sends wait for their slots one at a time, in the order they came.
        ``own``: an edit answering the member's own tap (see the module's docstring) waits out a
        429's hold only (``Busy`` beyond ``LONGEST_WAIT``) and takes no overall slot."""
        if own:
            await self.chat_turn(chat_id, own=True)
            while self.shared is not None and not await self._reserve(chat_id, own=True):
                await self.chat_turn(chat_id, own=True)
            self._next_in_chat(chat_id, self.clock())
            self.own += 1
            return
        if urgent:
            await self._take(chat_id, urgent=True)
        else:
            async with self._broadcast:
                await self._take(chat_id, urgent=False)

    async def _take(self, chat_id: str, *, urgent: bool) -> None:
        """Wait for a slot for one message to ``chat_id`` and take it. An ``urgent`` (interactive)
        send goes before any broadcast waiting; one that would wait more than ``LONGEST_WAIT`` for
        its chat raises ``Busy`` (the caller queues it in the outbox). Interactive sends whose chat
        is ready wait for the overall slot one at a time, in the order they came: a thousand of
        them waiting do not all wake at every slot (that cost a core during a private-ballot burst)."""
        while True:
            await self.chat_turn(chat_id, urgent)
            if not urgent:
                slot_wait = self._slot_wait(self.clock())
                if slot_wait <= 0 and self._urgent == 0:
                    if self.shared is None or await self._reserve(chat_id):
                        break
                    # another worker's send or 429: the outbox goes on with other chats meanwhile
                    # (``Delivery.send_one`` makes it a RetryLater)
                    raise Busy(max(self.chat_wait(chat_id), 0.01))
                # after the interactive sends waiting, if any
                await asyncio.sleep(max(slot_wait, self.spacing if self._urgent else 0.0, 0.001))
                continue
            self._urgent += 1
            try:
                async with self._interactive:
                    while (slot_wait := self._slot_wait(self.clock())) > 0:
                        await asyncio.sleep(slot_wait)
                    if self.chat_wait(chat_id) <= 0:  # else another send to it (or a 429) came first
                        if self.shared is None or await self._reserve(chat_id):
                            self._book(chat_id)
                            return
            finally:
                self._urgent -= 1
        self._book(chat_id)

    async def _reserve(self, chat_id: str, own: bool = False) -> bool:
        """Reserve the send's slot in the database (``shared``) and wait for it; False when none
        was reserved: what the chat (or the channel) waits for is learnt, for ``chat_wait``."""
        assert self.shared is not None
        interval = self.interval(chat_id) * MARGIN
        got = await self.shared.take(chat_id, interval=interval, spacing=self.spacing, cap=self.cap,
                                     catch_up=CATCH_UP, own=own)
        now = self.clock()
        if got.slot is None:
            self.deferred += 1
            if got.chat_held > 0:
                self._held[chat_id] = max(self._held.get(chat_id, float("-inf")), now + got.chat_held)
            if got.paused > 0:
                self._paused_until = max(self._paused_until, now + got.paused)
            if got.chat_next > 0 and not own:
                self._chat[chat_id] = max(self._chat.get(chat_id, float("-inf")), now + got.chat_next)
            return False
        if got.slot > 0:
            await asyncio.sleep(got.slot)
        self._reserved[chat_id] = self.clock()
        if len(self._reserved) > 10_000:  # sends whose answer never came (they failed): forgotten
            self._reserved.clear()
        return True

    async def report(self, chat_id: str, seconds: float, everywhere: bool = False) -> None:
        """A 429 seen here: ``hold``, and (``shared``) written for every worker."""
        self.hold(chat_id, seconds, everywhere)
        if self.shared is not None:
            await self.shared.hold(chat_id, seconds, everywhere)

    async def chat_turn(self, chat_id: str, urgent: bool = True, own: bool = False) -> None:
        """Wait until ``chat_id`` may get a message (``Busy`` for an urgent one held too long);
        ``own``: an edit answering the member's own tap waits out a 429's hold only."""
        while (chat_wait := self.chat_wait(chat_id, own)) > 0:
            if urgent and chat_wait > LONGEST_WAIT:
                raise Busy(chat_wait)
            await asyncio.sleep(chat_wait)

    def _book(self, chat_id: str) -> None:
        now = self.clock()
        if self.spacing and now - CATCH_UP > self._next > float("-inf"):
            self.missed += (now - CATCH_UP - self._next) / self.spacing
        self._next = max(self._next, now - CATCH_UP) + self.spacing
        if self.cap is not None:
            self._recent.append(now)
        self._next_in_chat(chat_id, now)
        self.taken += 1

    def _next_in_chat(self, chat_id: str, now: float) -> None:
        """``chat_id``'s next message waits the chat's interval from ``now``."""
        self._chat[chat_id] = max(self._chat.get(chat_id, float("-inf")), now + self.interval(chat_id) * MARGIN)
        if len(self._chat) > 50_000:  # forget chats whose interval is long past
            self._chat = {c: t for c, t in self._chat.items() if t > now}
            self._held = {c: t for c, t in self._held.items() if t > now}

    async def done(self, chat_id: str) -> None:
        """A message to ``chat_id`` has arrived (its request was answered): the chat's next one
        waits the interval from now too, as a request that took long reached Telegram late. With
        ``shared``, every worker learns it when the answer took longer than ``MARGIN`` covers."""
        now = self.clock()
        self._next_in_chat(chat_id, now)
        reserved = self._reserved.pop(chat_id, None)
        if self.shared is not None and reserved is not None:
            interval = self.interval(chat_id)
            if now - reserved > interval * (MARGIN - 1):
                await self.shared.done(chat_id, interval * MARGIN)

    def _slot_wait(self, now: float) -> float:
        """Seconds until the next overall slot: the even spacing (with missed slots made up
        for within ``CATCH_UP``) and the cap on any one second."""
        wait = max(self._next, now - CATCH_UP) - now
        if self.cap is not None:
            recent = self._recent
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= self.cap:
                wait = max(wait, recent[0] + 1.0 - now)
        return wait
