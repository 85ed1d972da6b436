"""PostgreSQL's units of work under a burst: one process runs them in turn (as SQLite does), so a
burst of taps on one ballot does not conflict with itself; two processes still conflict, and
PostgreSQL's retry keeps every count exact. Connections go back to the pool without asyncpg's
reset query, so what a unit of work or a script takes (a transaction, an advisory lock) must be
given back by the code itself: these tests say it is. (bench/workers_burst.py measures the burst.)"""

from __future__ import annotations

import asyncio

import pytest

from bot.storage.pg import PgDatabase
from tests.stores import PG, drop_pg_database, new_pg_database

pytestmark = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")


@pytest.fixture
async def url():
    url = await new_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


async def _counter(db: PgDatabase) -> None:
    await db.atomic(lambda tx: tx.execute("CREATE TABLE tally (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
    await db.atomic(lambda tx: tx.execute("INSERT INTO tally VALUES (1, 0)"))


async def _count_one(tx) -> None:
    """What a vote does to its ballot's counts: read the count, write it one higher."""
    n = await tx.scalar("SELECT n FROM tally WHERE id = 1")
    await tx.execute("UPDATE tally SET n = ? WHERE id = 1", (n + 1,))


async def test_a_burst_in_one_process_runs_in_turn_without_a_conflict(url):
    db = await PgDatabase(url).open()
    try:
        await _counter(db)
        await asyncio.gather(*(db.atomic(_count_one) for _ in range(40)))  # 40 taps at once, one worker
        assert await db.scalar("SELECT n FROM tally WHERE id = 1") == 40
        assert db.retries == 0  # side by side, nearly every one failed with 40001 and ran again
    finally:
        await db.close()


async def test_two_processes_conflicting_still_count_every_vote_once(url):
    first, second = await PgDatabase(url).open(), await PgDatabase(url).open()  # two workers' stores
    try:
        await _counter(first)
        await asyncio.gather(*(db.atomic(_count_one) for _ in range(30) for db in (first, second)))
        assert await first.scalar("SELECT n FROM tally WHERE id = 1") == 60
    finally:
        await first.close()
        await second.close()


async def test_a_failed_script_transaction_gives_its_lock_back_to_the_other_workers(url):
    first, second = await PgDatabase(url).open(), await PgDatabase(url).open()
    try:
        await _counter(first)
        with pytest.raises(RuntimeError):
            async with first.transaction() as tx:
                await tx.execute("UPDATE tally SET n = 5 WHERE id = 1")
                raise RuntimeError("the script failed")

        async def other_script() -> int:
            async with second.transaction() as tx:  # waits for the first's advisory lock, if kept
                return await tx.scalar("SELECT n FROM tally WHERE id = 1")

        assert await asyncio.wait_for(other_script(), 5) == 0  # rolled back, and the lock released
        assert await first.atomic(lambda tx: tx.scalar("SELECT n FROM tally WHERE id = 1")) == 0
    finally:
        await first.close()
        await second.close()


async def test_a_unit_of_work_that_fails_leaves_its_connection_clean_for_the_next(url):
    db = await PgDatabase(url, pool_size=1).open()  # one connection: the next unit of work gets the same
    try:
        await _counter(db)

        async def fails(tx):
            await tx.execute("UPDATE tally SET n = 7 WHERE id = 1")
            raise ValueError("the flow failed")

        with pytest.raises(ValueError):
            await db.atomic(fails)
        assert await db.atomic(lambda tx: tx.scalar("SELECT n FROM tally WHERE id = 1")) == 0
        async with db.pool.acquire() as conn:
            assert not conn.is_in_transaction()
    finally:
        await db.close()
