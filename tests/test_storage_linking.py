"""Two members made one in storage: what the database otherwise freezes (a closed ballot's votes,
a plan being voted on, an estimate, a nomination) passes to the kept member, and only then."""

from __future__ import annotations

import sqlite3

import pytest

from bot.storage import linking
from tests.stores import db  # noqa: F401  (on SQLite, and on PostgreSQL when QATYSU_TEST_PG is set)
from tests.test_db_guards import NOW, TASK, open_ballot, world  # noqa: F401  (world is a fixture)


async def test_merge_moves_what_the_guards_freeze_and_only_while_merging(db, world):  # noqa: F811
    w = world
    keep, other = w.members[0], w.members[1]
    async with db.transaction() as tx:
        for member in (keep, other):
            await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                             " VALUES (?, ?, 'member', ?)", (w.community, member, NOW))
        orgs = [await tx.insert("INSERT INTO orgs (community_id, number, name, norm, created_at)"
                                " VALUES (?, ?, ?, ?, ?)", (w.community, n, f"org {n}", f"org {n}", NOW)) for n in (1, 2)]
        await tx.execute("INSERT INTO org_ratings VALUES (?, ?, 3, 3)", (orgs[0], keep))
        await tx.execute("INSERT INTO org_ratings VALUES (?, ?, 1, 1)", (orgs[0], other))
        await tx.execute("INSERT INTO org_ratings VALUES (?, ?, 2, 1)", (orgs[1], other))
        task = await tx.insert(TASK, (w.community, w.problems[0], 1, "Dig", "dig", None, None, NOW))
        await tx.execute("UPDATE tasks SET owner_id = ? WHERE id = ?", (other, task))
        dots = await open_ballot(tx, w, "dots", w.problems[:3])
        await tx.execute("INSERT INTO dot_votes VALUES (?, ?, ?, 1)", (dots, other, w.problems[1]))
        await tx.execute("UPDATE ballots SET status = 'closed' WHERE id = ?", (dots,))
        plan = await open_ballot(tx, w, "plan", [])
        await tx.execute("INSERT INTO plan_votes VALUES (?, ?, 1)", (plan, other))
        nomination = await tx.insert("INSERT INTO nominations (community_id, member_id, category, status, created_at)"
                                     " VALUES (?, ?, 'activist', 'accepted', ?)", (w.community, other, NOW))

    async with db.transaction() as tx:
        merged = await linking.merge(tx, keep, other)
        assert merged.removed == [] and merged.closed == []
        assert await tx.scalar("SELECT COUNT(*) FROM member_merges") == 0
        assert [tuple(r) for r in await tx.all("SELECT org_id, importance FROM org_ratings WHERE member_id = ?"
                                               " ORDER BY org_id", (keep,))] == [(orgs[0], 3), (orgs[1], 2)]
        assert await tx.scalar("SELECT owner_id FROM tasks WHERE id = ?", (task,)) == keep  # plan voted on: still
        assert await tx.scalar("SELECT member_id FROM dot_votes WHERE ballot_id = ?", (dots,)) == keep  # closed
        assert await tx.scalar("SELECT turnout FROM ballots WHERE id = ?", (dots,)) == 1
        assert await tx.scalar("SELECT member_id FROM plan_votes WHERE ballot_id = ?", (plan,)) == keep
        assert await tx.scalar("SELECT member_id FROM nominations WHERE id = ?", (nomination,)) == keep
        assert await tx.scalar("SELECT COUNT(*) FROM memberships WHERE member_id = ?", (other,)) == 0
        assert await tx.scalar("SELECT consent_at FROM members WHERE id = ?", (other,)) == ""

    # outside a merge the guards hold as before
    for sql in ("UPDATE plan_votes SET member_id = ? WHERE ballot_id = ?",
                "UPDATE dot_votes SET member_id = ? WHERE ballot_id = ?"):
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute(sql, (w.members[2], plan if "plan" in sql else dots))
