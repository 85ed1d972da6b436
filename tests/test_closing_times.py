"""A ballot opened with a closing time closes on the minute, in whatever zone its community lives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.scheduler import close_due_ballots
from bot.storage import ballots
from bot.storage.db import Database
from tests.conftest import build_community


async def _with_problems(sim, n_members):
    c = await build_community(sim, n_members)
    for text in ("Жол жөндеу керек", "Балалар алаңы жоқ"):
        await c.members[0].send(f"/propose {text}")
    return c


async def _status(sim, ballot_id=1):
    async with sim.engine.db.transaction() as tx:
        return (await ballots.get(tx, ballot_id)).status


@pytest.mark.parametrize("tz, utc_hour", [("Asia/Almaty", 13), ("Europe/Moscow", 15)])
async def test_a_clock_time_closes_on_the_minute_in_the_communitys_zone(sim, clock, tz, utc_hour):
    c = await _with_problems(sim, 2)
    async with sim.engine.db.transaction() as tx:
        await tx.execute("UPDATE communities SET tz = ?", (tz,))
    clock.now = datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc)  # 10:00 in Almaty, 08:00 in Moscow
    await c.facilitator.send("/poll dots 18:00", c.group)
    assert "18:00" in sim.messages(c.group.id)[-1].text  # shown in the community's time
    closes = datetime(2026, 3, 2, utc_hour, 0, tzinfo=timezone.utc)

    clock.now = closes - timedelta(seconds=70)  # each reading adds 2 s
    await sim.engine.run_system(close_due_ballots)
    assert await _status(sim) == "open"
    clock.now = closes
    await sim.engine.run_system(close_due_ballots)
    assert await _status(sim) == "closed"


async def test_a_duration_closes_on_the_minute(sim, clock):
    c = await _with_problems(sim, 1)
    await c.facilitator.send("/poll matrix 2h", c.group)
    opened = clock.now
    clock.now = opened + timedelta(hours=2) - timedelta(seconds=70)
    await sim.engine.run_system(close_due_ballots)
    assert await _status(sim) == "open"
    clock.now = opened + timedelta(hours=2)
    await sim.engine.run_system(close_due_ballots)
    assert await _status(sim) == "closed"


async def test_closing_times_stored_with_an_offset_are_read_as_instants_after_the_upgrade(tmp_path):
    path = str(tmp_path / "old.db")
    db = await Database(path).open(migrate_to=14)
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO communities (id, name, place, tz, locale, join_code, created_at) "
                             "VALUES (1, 'V', 'P', 'Asia/Almaty', 'kk', 'ABC123', '2026-03-02T05:00:00+00:00')")
            await tx.execute("INSERT INTO members (id, locale, name, consent_at, created_at) VALUES (1, 'kk', 'A', '2026', '2026')")
            await tx.execute("INSERT INTO ballots (community_id, kind, visibility, closes_at, opened_by, opened_at) "
                             "VALUES (1, 'dots', 'live', '2026-03-02T18:00:00+05:00', 1, '2026-03-02T05:00:00+00:00')")
        await db.migrate()
        async with db.transaction() as tx:
            (ballot,) = await ballots.open_with_deadline(tx)
    finally:
        await db.close()
    assert ballot.closes_at == "2026-03-02T13:00:00+00:00"
