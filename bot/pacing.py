"""One channel's sending slots, shared by everything that sends through it.

Telegram counts every message and edit the bot sends against the same limits (about 30 a second
overall, one a second in a chat, 20 a minute in a group), whether it answers a member or drains
a digest from the outbox. So both take their slot from one ``Pacer`` per channel:

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
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

PACE = 0.95  # of the channel's rate: room for requests that arrive a little late or early
MARGIN = 1.05  # of a chat's interval: for a request that arrives a little later than the next
CATCH_UP = 0.25  # seconds of missed slots that may still be used (a short burst, under the cap)
LONGEST_WAIT = 5.0  # seconds an interactive send waits for its chat; longer, it goes to the outbox


class Busy(Exception):
    """The chat (or the channel) is held longer than an answer should wait: queue it instead."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"busy for {seconds:.1f}s")
        self.seconds = seconds


class Pacer:
    def __init__(self, rate: float, interval: Callable[[str], float], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spacing = 1.0 / (rate * PACE) if rate > 0 else 0.0
        self.cap = max(1, int(rate * PACE)) if math.isfinite(rate) else None  # sends in any one second
        self.interval = interval
        self.clock = clock
        self._next = float("-inf")      # the next overall slot
        self._recent: deque[float] = deque()  # when the slots of the last second were taken
        self._chat: dict[str, float] = {}  # chat → when it may get its next message
        self._paused_until = float("-inf")  # the channel said to wait, for every chat
        self._urgent = 0                  # interactive sends waiting for an overall slot
        self._broadcast = asyncio.Lock()  # one broadcast send waits for a slot at a time
        self._interactive = asyncio.Lock()  # one interactive send waits for the overall slot at a time
        self.taken = 0
        self.missed = 0.0  # slots gone unused beyond CATCH_UP (the sender came late, or had nothing to send)

    def chat_wait(self, chat_id: str) -> float:
        """Seconds before ``chat_id`` may get a message (0: now)."""
        now = self.clock()
        return max(0.0, self._chat.get(chat_id, float("-inf")) - now, self._paused_until - now)

    def paused(self) -> float:
        """Seconds the whole channel still waits out a 429 (0: none)."""
        return max(0.0, self._paused_until - self.clock())

    def hold(self, chat_id: str, seconds: float, everywhere: bool = False) -> None:
        """A 429: nothing to ``chat_id`` (or, ``everywhere``, to any chat) for ``seconds``."""
        until = self.clock() + seconds
        self._chat[chat_id] = max(self._chat.get(chat_id, float("-inf")), until)
        if everywhere:
            self._paused_until = max(self._paused_until, until)

    async def take(self, chat_id: str, *, urgent: bool) -> None:
        """See ``_take``; broadcast sends wait for their slots one at a time, in the order they came."""
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
                    break
                # after the interactive sends waiting, if any
                await asyncio.sleep(max(slot_wait, self.spacing if self._urgent else 0.0, 0.001))
                continue
            self._urgent += 1
            try:
                async with self._interactive:
                    while (slot_wait := self._slot_wait(self.clock())) > 0:
                        await asyncio.sleep(slot_wait)
                    if self.chat_wait(chat_id) <= 0:  # else another send to it (or a 429) came first
                        self._book(chat_id)
                        return
            finally:
                self._urgent -= 1
        self._book(chat_id)

    async def chat_turn(self, chat_id: str, urgent: bool = True) -> None:
        """Wait until ``chat_id`` may get a message (``Busy`` for an urgent one held too long)."""
        while (chat_wait := self.chat_wait(chat_id)) > 0:
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
        self._chat[chat_id] = max(self._chat.get(chat_id, float("-inf")), now + self.interval(chat_id) * MARGIN)
        self.taken += 1
        if len(self._chat) > 50_000:  # forget chats whose interval is long past
            self._chat = {c: t for c, t in self._chat.items() if t > now}

    def done(self, chat_id: str) -> None:
        """A message to ``chat_id`` has arrived (its request was answered): the chat's next one
        waits the interval from now too, as a request that took long reached Telegram late."""
        self._chat[chat_id] = max(self._chat.get(chat_id, float("-inf")),
                                  self.clock() + self.interval(chat_id) * MARGIN)

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
