"""One scheduler among the workers on one PostgreSQL database (``bot/leader.py``): the first
worker takes the lock and runs it, the others stand by; a holder that loses its lock's
connection stops its scheduler at once and commits nothing more as the scheduler, and another
worker takes over within its retry interval."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from bot.leader import Leadership, LostLeadership
from bot.storage import leader as locks
from bot.storage.leader import LockSession
from bot.storage.pg import PgDatabase
from tests.stores import drop_pg_database, new_pg_database, pg_url, needs_server  # noqa: F401  (fixtures)





class Seat:
    """What a worker's scheduler does when it leads and when it is halted, with the times."""

    def __init__(self, url: str, retry: float = 0.3, *, failing: bool = False) -> None:
        self.led: list[float] = []
        self.halted: list[float] = []
        self.failing = failing  # its scheduler's start fails (its first sweep, say)
        self.leadership = Leadership(url, self.lead, self.halt, retry=retry)

    async def lead(self) -> None:
        self.led.append(time.monotonic())
        if self.failing:
            raise RuntimeError("the first sweep failed")

    def halt(self) -> None:
        self.halted.append(time.monotonic())

    async def stop(self) -> None:
        async def nothing() -> None:
            pass

        await self.leadership.stop(nothing)


async def until(condition, timeout: float = 5.0) -> float:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.01)
    return time.monotonic()


async def terminate(url: str, pid: int) -> None:
    """The server ends that session (as a restart, or an operator's pg_terminate_backend, does)."""
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


@needs_server
async def test_one_worker_runs_the_scheduler_and_another_takes_over_when_its_connection_ends(pg_url):
    first, second = Seat(pg_url), Seat(pg_url)
    await first.leadership.start()
    await second.leadership.start()
    try:
        assert first.leadership.leading and len(first.led) == 1
        assert not second.leadership.leading and not second.led
        await asyncio.sleep(1.0)  # the one standing by tries again and again in vain
        assert not second.led and not first.halted

        cut = time.monotonic()
        await terminate(pg_url, first.leadership.session.pid)
        halted = await until(lambda: first.halted, 2.0)
        assert halted - cut < 2.0, "the holder must stop sweeping as soon as its lock's connection ends"
        assert not first.leadership.leading
        took = await until(lambda: second.led, 5.0)
        assert took - cut < 5.0  # retry 0.3 s; within 30 s is the promise (5 s by default)
        await asyncio.sleep(1.0)  # the first reconnects and stands by: never two
        assert second.leadership.leading and not first.leadership.leading and len(first.led) == 1
        assert first.leadership.session.open
    finally:
        await first.stop()
        await second.stop()


@needs_server
async def test_the_schedulers_transactions_are_refused_once_its_lock_is_gone(pg_url):
    """The fence: each of the scheduler's transactions asks ``pg_locks`` whether the lock is still
    held by the session that took it, so a worker cut off from its lock commits nothing more as
    the scheduler even before it notices."""
    session = LockSession(pg_url)
    await session.connect(lambda: None)
    db = await PgDatabase(pg_url).open()
    try:
        assert await session.try_scheduler()
        assert await db.atomic(lambda tx: locks.held(tx, session.pid))
        other = LockSession(pg_url)
        await other.connect(lambda: None)
        try:
            assert not await other.try_scheduler()  # one holder at a time
            assert not await db.atomic(lambda tx: locks.held(tx, other.pid))
        finally:
            await other.close()
        await terminate(pg_url, session.pid)
        await asyncio.sleep(0.2)
        assert not await db.atomic(lambda tx: locks.held(tx, session.pid))

        seat = Seat(pg_url)  # and a Leadership's guard refuses once its session is gone
        await seat.leadership.start()
        try:
            await db.atomic(seat.leadership.guard())
            await terminate(pg_url, seat.leadership.session.pid)
            with pytest.raises(LostLeadership):
                await db.atomic(seat.leadership.guard())
        finally:
            await seat.stop()
    finally:
        await db.close()
        await session.close()


@needs_server
async def test_the_workers_of_another_database_on_the_server_are_not_this_ones(pg_url):
    """Advisory locks belong to a database, but pg_locks lists every database's: a worker of
    another Qatysu database on the same server is neither alive here nor this one's scheduler."""
    elsewhere = await new_pg_database()
    session = LockSession(elsewhere)
    try:
        await session.connect(lambda: None)
        worker = await session.take_worker_id()
        assert await session.try_scheduler()
        async with PgDatabase(elsewhere) as there, PgDatabase(pg_url) as here:
            assert worker in await there.atomic(locks.live_workers)
            assert await there.atomic(lambda tx: locks.held(tx, session.pid))
            assert worker not in await here.atomic(locks.live_workers)
            assert not await here.atomic(lambda tx: locks.held(tx, session.pid))
    finally:
        await session.close()
        await drop_pg_database(elsewhere)


@needs_server
async def test_a_worker_whose_scheduler_fails_to_start_gives_the_lock_up(pg_url):
    """Its first sweep failed (the database refused it): holding the lock without running the
    scheduler would leave the community with none; another worker takes it."""
    failing, other = Seat(pg_url, failing=True), Seat(pg_url)
    await failing.leadership.start()
    await other.leadership.start()
    try:
        assert failing.led and failing.halted and not failing.leadership.leading
        await until(lambda: other.led, 5.0)
        await asyncio.sleep(1.0)  # the failed one is back and stands by
        assert other.leadership.leading and not failing.leadership.leading and len(failing.led) == 1
        assert failing.leadership.session.open
    finally:
        await failing.stop()
        await other.stop()
