"""Several workers on one PostgreSQL database: who runs the scheduler, and who is alive.

``qatysu run --webhook`` may run in N processes (or containers) on one PostgreSQL database: any
of them takes any update, and exactly one runs the scheduler (closing ballots on time, reminders,
pruning). ``Leadership`` holds, on a connection of its own (``bot/storage/leader.py``):

* the worker's lock, for as long as it lives: the WhatsApp messages it stored name it, and every
  ``retry`` seconds each worker takes those of a worker gone for two looks in a row and handles
  them (``WhatsAppApp.adopt``, ``bot/storage/inbox.py``'s ``adopt``);
* the scheduler lock, when it can get it. At start and then every ``retry`` seconds a worker
  standing by tries to take it; the one that does logs "scheduler: this worker runs it" and
  starts the scheduler, whose start sweeps what fell due meanwhile and asks again for the
  redraws a crash cut off. When the holder dies (SIGKILL too) PostgreSQL ends its session and
  frees the lock: another worker takes over within ``retry`` seconds.

A holder whose lock's connection ends (the server restarted, the network failed, it did not
answer ``SELECT 1`` within ``retry`` seconds) halts its scheduler at once, before anything else,
and stands by again once reconnected; and each of the scheduler's transactions first checks in
``pg_locks`` that the lock is still held by this session (``Scheduler``'s ``guard``): a holder
cut off without knowing it commits nothing more as the scheduler. So there are never two.

On SQLite there is one process (``qatysu run`` refuses a second on the same file), and it runs
the scheduler as before: ``Leadership`` is for PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.storage import leader as locks
from bot.storage.db import Tx

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

log = logging.getLogger("bot.run")

RETRY = 5.0  # seconds between a standing-by worker's tries (a holder's checks of its connection)


class LostLeadership(Exception):
    """This worker no longer holds the scheduler lock: the scheduler's transaction is rolled back."""


class Leadership:
    """``start()`` returns once the worker holds its worker lock and has tried the scheduler
    lock once (a worker alone runs the scheduler from its start, as on SQLite). ``lead()``
    starts the scheduler; ``halt()`` stops it at once (a synchronous call: nothing of it runs
    after); ``stop()`` ends it all, the locks with the session."""

    def __init__(self, url: str, lead: Callable[[], Awaitable[None]], halt: Callable[[], None],
                 *, retry: float = RETRY) -> None:
        self.session = locks.LockSession(url)
        self._lead, self._halt = lead, halt
        self.retry = retry
        self.leading = False
        self.worker: int | None = None
        self._task: asyncio.Task | None = None
        self._leading_task: asyncio.Task | None = None
        self._lost = asyncio.Event()
        self._said_standing_by = False
        self._not_before = 0.0  # monotonic time before which it does not try to lead (it just lost the lock)

    async def start(self) -> None:
        await self._connect()
        await self._try_to_lead()
        if self._leading_task is not None:  # the first sweep (what fell due meanwhile) before serving, as on SQLite
            await asyncio.wait({self._leading_task})  # it may end cancelled (the lock lost meanwhile): then standing by
        self._task = asyncio.create_task(self._watch())

    async def _connect(self) -> None:
        self._lost.clear()
        await self.session.connect(self._on_lost)
        self.worker = await self.session.take_worker_id(self.worker)

    def _on_lost(self) -> None:
        """The lock's connection ended: no sweep may go on."""
        if self.leading:
            log.warning("scheduler: this worker lost its lock's connection; its scheduler stops now")
            self._stop_leading()
        self._lost.set()

    def _stop_leading(self) -> None:
        self.leading = False
        self._not_before = time.monotonic() + 2 * self.retry  # the others, whose session is whole, go first
        if self._leading_task is not None:
            self._leading_task.cancel()
            self._leading_task = None
        self._halt()

    async def _try_to_lead(self) -> None:
        if not self.leading and time.monotonic() < self._not_before:
            return
        if self.leading or not await self.session.try_scheduler():
            if not self.leading and not self._said_standing_by:
                log.info("scheduler: standing by (another worker runs it; trying every %g s)", self.retry)
                self._said_standing_by = True
            return
        self.leading = True
        self._said_standing_by = False
        log.info("scheduler: this worker runs it (worker %s)", self.worker)
        self._leading_task = asyncio.create_task(self._start_leading())

    async def _start_leading(self) -> None:
        try:
            await self._lead()
        except asyncio.CancelledError:
            raise
        except Exception:  # it runs no scheduler: it must not keep the lock from the others
            log.exception("scheduler: starting it failed; this worker gives the lock up and stands by")
            self._leading_task = None
            self._stop_leading()
            self.session.drop()
            self._lost.set()

    def guard(self) -> Callable[[Tx], Awaitable[None]]:
        """What each of the scheduler's transactions runs first: is the lock still this session's?"""
        async def check(tx: Tx) -> None:
            pid = self.session.pid
            if not self.leading or pid is None or not await locks.held(tx, pid):
                raise LostLeadership("this worker does not hold the scheduler lock")

        return check

    async def _watch(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.retry):
                    await self._lost.wait()
            except TimeoutError:
                pass
            try:
                if not self.session.open or self._lost.is_set():
                    await self._reconnect()
                elif not await self.session.alive(self.retry):
                    log.warning("scheduler: the lock's connection does not answer; dropping it")
                    if self.leading:
                        self._stop_leading()
                    self.session.drop()
                    await self._reconnect()
                else:
                    await self._try_to_lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server is away: tried again at the next round
                if self.leading:
                    self._stop_leading()
                self.session.drop()
                log.warning("scheduler: cannot reach the database for its lock (%s: %s); trying again in %.0f s",
                            type(exc).__name__, exc, self.retry)

    async def _reconnect(self) -> None:
        if self.leading:
            self._stop_leading()
        self.session.drop()
        await self._connect()
        log.info("scheduler: reconnected for its lock (worker %s)", self.worker)
        self._said_standing_by = False
        await self._try_to_lead()

    async def stop(self, stop_scheduler: Callable[[], Awaitable[None]]) -> None:
        """Stop watching; let the scheduler stop cleanly (``stop_scheduler``), then free the locks."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._leading_task is not None:
            self._leading_task.cancel()
            await asyncio.gather(self._leading_task, return_exceptions=True)
            self._leading_task = None
        try:
            await stop_scheduler()
        finally:
            self.leading = False
            await self.session.close()


class SchedulerSeat:
    """This process's scheduler: on SQLite run from the start, as always; on PostgreSQL run while
    this worker holds the scheduler lock (``Leadership``), a new ``Scheduler`` each time it
    takes the lock. ``make(guard)`` builds one."""

    def __init__(self, db, make: Callable[..., "Scheduler"], *, retry: float = RETRY) -> None:
        from bot.storage.pg import PgDatabase

        self.make = make
        self.retry = retry
        self.current: Scheduler | None = None
        self.leadership: Leadership | None = None
        if isinstance(db, PgDatabase):
            self.leadership = Leadership(db.url, self._lead, self._halt, retry=retry)

    @property
    def worker(self) -> int | None:
        """This worker's id on PostgreSQL (None on SQLite: one process)."""
        return None if self.leadership is None else self.leadership.worker

    async def start(self) -> None:
        if self.leadership is None:
            self.current = self.make(None)
            await self.current.start()
        else:
            await self.leadership.start()

    async def _lead(self) -> None:
        assert self.leadership is not None
        self.current = self.make(self.leadership.guard())
        await self.current.start()

    def _halt(self) -> None:
        if self.current is not None:
            self.current.halt()
            self.current = None

    async def sweep(self) -> None:
        """One sweep now (tests): this worker's scheduler's, if it runs one."""
        if self.current is not None:
            await self.current.sweep()

    async def stop(self, grace: float = 0.0) -> None:
        async def stop_current() -> None:
            current, self.current = self.current, None
            if current is not None:
                await current.stop(grace)

        if self.leadership is None:
            await stop_current()
        else:
            await self.leadership.stop(stop_current)
