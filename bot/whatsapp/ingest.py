"""How WhatsApp's webhook keeps up with a burst: its writes go in groups, and the handling of
stored messages waits for a quiet moment.

Meta waits for each POST's 200 and delivers again what got none, so the webhook answers as soon
as the POST is durable in the inbox, and does nothing else on its path:

* ``GroupCommit``: the POSTs that arrive together are written in one transaction (one
  ``BEGIN IMMEDIATE … COMMIT`` and one WAL append for all of them, not one each); each POST is
  answered only once the transaction holding its rows has committed, and when that transaction
  fails, every POST in it is answered 503 (Meta delivers them again).
* ``Turns``: handling a stored message (the engine's transaction, the member's view) costs
  several times what taking a POST does, and both run on the one event loop. While POSTs keep
  arriving (one in hand, or one within ``quiet`` seconds), stored messages wait until their
  deadline (``WhatsAppChannel.defer_max`` after they arrived), then start at ``busy_rate`` a
  second: a long flood is answered a little at a time, still twice as fast as the Cloud API takes
  the answers (~80 a second: handling faster would only queue more views for it). When the POSTs
  pause, they start ``per_round`` per round of the event loop, so POSTs that arrive meanwhile
  are read between them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.storage.db import Database, Tx

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")


class NotStored(Exception):
    """The transaction holding this item failed: nothing of it was kept."""


class GroupCommit(Generic[Item, Result]):
    """``await write(item)`` returns once ``work(tx, items)`` has committed the item with those
    that arrived with it (in the same round of the event loop, or while the group before it was
    being written); ``work`` returns one result per item, in order; ``then(result)`` is called once
    the item is committed, even when the one who waited for it is gone (a POST cancelled). At most
    ``largest`` items a transaction."""

    def __init__(self, db: Database, work: Callable[[Tx, list[Item]], Awaitable[list[Result]]], *,
                 largest: int = 500, name: str = "a group") -> None:
        self.db, self.work, self.largest, self.name = db, work, largest, name
        self._waiting: list[tuple[Item, asyncio.Future, Callable[[Result], None] | None]] = []
        self._writer: asyncio.Task | None = None
        self._writing = 0  # items in the transaction being written
        self.groups = 0  # transactions committed (for tests and benchmarks)
        self.items = 0   # items in them

    @property
    def pending(self) -> int:
        """Items not committed yet: waiting, or in the transaction being written."""
        return len(self._waiting) + self._writing

    async def write(self, item: Item, then: Callable[[Result], None] | None = None) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future, then))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        group: list[tuple[Item, asyncio.Future, Callable[[Result], None] | None]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:self.largest], self._waiting[self.largest:]
                items = [item for item, _, _ in group]
                self._writing = len(group)
                try:
                    results = await self.db.atomic(lambda tx: self.work(tx, items))
                except Exception as exc:
                    log.exception("writing %s of %d failed; none of it is kept", self.name, len(group))
                    for _, future, _ in group:
                        if not future.done():
                            future.set_exception(NotStored(str(exc)))
                else:
                    self.groups += 1
                    self.items += len(group)
                    for (_, future, then), result in zip(group, results, strict=True):
                        if then is not None:
                            try:
                                then(result)
                            except Exception:
                                log.exception("after writing %s", self.name)
                        if not future.done():
                            future.set_result(result)
                group = []
        except BaseException:  # cancelled (the loop closing): no item is told it was written
            for _, future, _ in group + self._waiting:
                if not future.done():
                    future.set_exception(NotStored("cancelled"))
            self._waiting = []
            raise
        finally:
            self._writer, self._writing = None, 0


class Turns:
    """Stored messages wait here for their turn to be handled, behind the webhook's POSTs: each is
    a callback (``add``) that starts its handling, called in the order of the deadlines."""

    def __init__(self, quiet: float = 0.02, per_round: int = 2, busy_rate: float = 160.0) -> None:
        self.quiet, self.per_round, self.busy_rate = quiet, per_round, busy_rate
        self._busy_next = float("-inf")         # loop time the next start is due while POSTs arrive
        self._in_hand = 0                       # POSTs being taken now
        self._last = float("-inf")              # loop time the last POST began or ended
        self._waiting: list[tuple[float, int, Callable[[], None]]] = []  # a heap: the earliest deadline first
        self._order = itertools.count()
        self._wake: asyncio.TimerHandle | asyncio.Handle | None = None
        self._wake_at = float("inf")

    def __len__(self) -> int:
        return len(self._waiting)

    # --- the webhook's side ---------------------------------------------------------------------------
    def arriving(self) -> None:
        """A POST is being taken: stored messages wait (those past their deadline excepted)."""
        self._in_hand += 1
        self._last = asyncio.get_running_loop().time()

    def arrived(self) -> None:
        """The POST was answered: the turns go on once ``quiet`` seconds pass without another."""
        self._in_hand -= 1
        self._last = asyncio.get_running_loop().time()
        if self._waiting and self._in_hand == 0:
            self._schedule(self._last + self.quiet)

    # --- the handlers' side ---------------------------------------------------------------------------
    def add(self, deadline: float, start: Callable[[], None]) -> None:
        """Call ``start()`` when POSTs have paused for ``quiet`` seconds, ``per_round`` per round
        of the event loop; while they arrive, once ``deadline`` (loop time) has passed, at most
        ``busy_rate`` a second: the handling of a long flood goes on, a little at a time."""
        heapq.heappush(self._waiting, (deadline, next(self._order), start))
        self._schedule(min(deadline, self._quiet_at()) if self.busy() else 0.0)

    def clear(self) -> None:
        """Start nothing more (the channel stopping): what waits stays in the inbox."""
        self._waiting.clear()
        if self._wake is not None:
            self._wake.cancel()
            self._wake, self._wake_at = None, float("inf")

    def busy(self) -> bool:
        return self._in_hand > 0 or asyncio.get_running_loop().time() < self._last + self.quiet

    def _quiet_at(self) -> float:
        return float("inf") if self._in_hand else self._last + self.quiet

    def _schedule(self, when: float) -> None:
        """Run ``_release`` at loop time ``when`` (0: in the next round), unless it runs before."""
        if self._wake is not None:
            if self._wake_at <= when:
                return
            self._wake.cancel()
        loop = asyncio.get_running_loop()
        self._wake_at = when
        self._wake = loop.call_soon(self._release) if when <= loop.time() else loop.call_at(when, self._release)

    def _release(self) -> None:
        self._wake, self._wake_at = None, float("inf")
        now = asyncio.get_running_loop().time()
        busy = self.busy()
        for _ in range(self.per_round):
            if not self._waiting or busy and (self._waiting[0][0] > now or self._busy_next > now):
                break
            if busy:
                self._busy_next = max(now, self._busy_next) + 1.0 / self.busy_rate
            _, _, start = heapq.heappop(self._waiting)
            try:
                start()
            except Exception:
                log.exception("starting the handling of a stored message failed")
        if not self._waiting:
            return
        if not busy:
            self._schedule(0.0)  # the next ones in the next round, after the POSTs read meanwhile
        else:  # when the POSTs pause (``arrived`` asks again when they stop), or the next may start anyway
            self._schedule(min(self._quiet_at(), max(self._waiting[0][0], self._busy_next)))
