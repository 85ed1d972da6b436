"""Cycles in the database: an existing database's data becomes cycle 1, and every table keyed by
community is either part of a cycle (archived with it) or of the community across cycles."""

from __future__ import annotations

import pytest

from bot.storage import cycles, problems
from bot.storage.communities import get as get_community
from bot.storage.db import Database, migrations
from tests.stores import db  # noqa: F401  (on SQLite, and on PostgreSQL when QATYSU_TEST_PG is set)


def before_cycles() -> int:
    """The last migration before the one that brings cycles (whatever number the lead gives it)."""
    return next(number for number, name, _ in migrations() if name.endswith("_cycles.sql")) - 1


async def test_an_existing_database_becomes_cycle_1_and_moves_on(tmp_path):
    db = await Database(str(tmp_path / "old.db")).open(migrate_to=before_cycles())
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO members (id, locale, name, consent_at, created_at)"
                             " VALUES (1, 'kk', 'A', 'x', 'x')")
            await tx.execute("INSERT INTO communities (id, name, place, tz, locale, join_code, step, created_by,"
                             " created_at) VALUES (1, 'V', 'P', 'Asia/Almaty', 'kk', 'ABC123', 7, 1, ?)",
                             ("2026-03-02T05:00:00+00:00",))
            await tx.execute("INSERT INTO memberships VALUES (1, 1, 'facilitator', 0, 'x')")
            for number, text in ((1, "Roads"), (2, "Water")):
                await tx.execute("INSERT INTO problems (community_id, number, text, norm, created_by, created_at)"
                                 " VALUES (1, ?, ?, ?, 1, 'x')", (number, text, text.lower()))
            await tx.execute("INSERT INTO step1_choices VALUES (1, 2, 1, 'x')")
        await db.migrate()
        async with db.transaction() as tx:
            (cycle,) = await cycles.history(tx, 1)
            assert (cycle.number, cycle.started_at, cycle.ended_at, cycle.data_id) == (
                1, "2026-03-02T05:00:00+00:00", None, 1)
            community = await get_community(tx, 1)
            finished, new = await cycles.start_next(tx, community, 1, "2026-12-06T05:00:00+00:00")
            assert (finished.number, finished.ended_at, new.number) == (1, "2026-12-06T05:00:00+00:00", 2)
            assert [p.text for p in await problems.listed(tx, 1)] == ["Roads"]
            assert [p.text for p in await problems.listed(tx, finished.data_id)] == ["Roads", "Water"]
            assert await cycles.is_archive(tx, finished.data_id) and not await cycles.is_archive(tx, 1)
    finally:
        await db.close()


async def test_a_new_community_starts_in_cycle_1(db):
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO communities (id, name, place, tz, locale, join_code, created_at)"
                         " VALUES (5, 'V', 'P', 'Asia/Almaty', 'kk', 'ABC123', '2026-01-01T00:00:00+00:00')")
        assert [(c.number, c.started_at) for c in await cycles.history(tx, 5)] == [(1, "2026-01-01T00:00:00+00:00")]


@pytest.mark.sqlite_only  # it reads SQLite's catalog; tests/test_pg_schema.py holds PostgreSQL's to the same tables
async def test_every_table_keyed_by_community_is_of_a_cycle_or_of_the_community(db):
    """A table added later with a community_id must be placed: archived with its cycle
    (cycles.CYCLE_TABLES, and guarded in the migration) or kept across cycles."""
    async with db.transaction() as tx:
        tables = [r[0] for r in await tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        keyed = {t for t in tables if any(c[1] == "community_id" for c in await tx.all(f"PRAGMA table_info({t})"))}
    assert keyed == set(cycles.CYCLE_TABLES) | set(cycles.COMMUNITY_TABLES)
