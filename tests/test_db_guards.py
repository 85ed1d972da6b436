"""The database's own guards, tried with plain SQL that bypasses the flows.

Each forbidden write must be refused by the schema (a trigger or a key), whatever the code above
it does; the allowed writes next to it must go through.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from bot.storage import audit, problems, stores
from bot.storage.db import Database, Tx
from tests.stores import db  # noqa: F401  (each test on SQLite, and on PostgreSQL when QATYSU_TEST_PG is set)

NOW = "2026-03-02T05:00:00+00:00"
NOT_OPEN = "ballot is not open"
LIMIT = "sticker limit"
NOT_OPTION = "not an option of this ballot"
FROZEN = "ballot options cannot change while it is open"


@dataclass
class World:
    community: int
    members: list[int]
    problems: list[int]  # problems[0] is #1 ... problems[5] is #6


@pytest.fixture
async def world(db) -> World:
    async with db.transaction() as tx:
        members = [await tx.insert("INSERT INTO members (name, locale, consent_at, created_at)"
                                   " VALUES (?, 'en', ?, ?)", (f"m{i}", NOW, NOW)) for i in range(3)]
        community = await tx.insert(
            "INSERT INTO communities (name, place, tz, locale, join_code, created_at)"
            " VALUES ('Aul', 'Aul', 'Asia/Almaty', 'en', 'GUARD1', ?)", (NOW,))
        ids = [await tx.insert("INSERT INTO problems (community_id, number, text, norm, created_at)"
                               " VALUES (?, ?, ?, ?, ?)", (community, n, f"problem {n}", f"problem {n}", NOW))
               for n in range(1, 7)]
    return World(community, members, ids)


async def open_ballot(tx: Tx, w: World, kind: str, options: list[int], *, stickers: int = 3,
                      per_option: int = 1) -> int:
    """A ballot opened the way ballots.open_ballot does it: the open ballot first, then its options."""
    ballot = await tx.insert("INSERT INTO ballots (community_id, kind, stickers, per_option, opened_at)"
                             " VALUES (?, ?, ?, ?, ?)", (w.community, kind, stickers, per_option, NOW))
    for problem in options:
        await tx.execute("INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (ballot, problem))
    return ballot


async def new_ballot(db: Database, w: World, kind: str, options: list[int], **rules: int) -> int:
    async with db.transaction() as tx:
        return await open_ballot(tx, w, kind, options, **rules)


async def allowed(db: Database, sql: str, params: tuple = ()) -> None:
    async with db.transaction() as tx:
        await tx.execute(sql, params)


async def refused(db: Database, sql: str, params: tuple = (), match: str | None = None) -> None:
    with pytest.raises(sqlite3.IntegrityError, match=match):
        async with db.transaction() as tx:
            await tx.execute(sql, params)


async def dot(db: Database, ballot: int, member: int, problem: int, count: int = 1) -> None:
    await allowed(db, "INSERT INTO dot_votes (ballot_id, member_id, problem_id, count) VALUES (?, ?, ?, ?)",
                  (ballot, member, problem, count))


DOT = "INSERT INTO dot_votes (ballot_id, member_id, problem_id, count) VALUES (?, ?, ?, ?)"
MATRIX = "INSERT INTO matrix_votes (ballot_id, member_id, problem_id, a, b) VALUES (?, ?, ?, 2, 3)"
PAIR = "INSERT INTO pairwise_votes (ballot_id, member_id, low_id, high_id, winner_id) VALUES (?, ?, ?, ?, ?)"


async def scalar(db: Database, sql: str, params: tuple = ()):
    async with db.transaction() as tx:
        return await tx.scalar(sql, params)


async def stickers(db: Database, ballot: int) -> dict[int, dict[int, int]]:
    async with db.transaction() as tx:
        rows = await tx.all("SELECT member_id, problem_id, count FROM dot_votes WHERE ballot_id = ?", (ballot,))
    found: dict[int, dict[int, int]] = {}
    for member, problem, count in rows:
        found.setdefault(member, {})[problem] = count
    return found


async def option_rows(db: Database, ballot: int) -> dict[int, int]:
    async with db.transaction() as tx:
        rows = await tx.all("SELECT problem_id, online FROM ballot_options WHERE ballot_id = ?", (ballot,))
    return {r[0]: r[1] for r in rows}


# --- votes ------------------------------------------------------------------------------------
async def test_a_member_cannot_place_more_stickers_than_the_ballot_gives(db, world):
    w, (p1, p2, p3, *_) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2, p3], stickers=3, per_option=2)
    m = w.members[0]
    await dot(db, ballot, m, p1, 2)
    await dot(db, ballot, m, p2, 1)  # 3 of 3
    await refused(db, DOT, (ballot, m, p3, 1), LIMIT)
    await refused(db, "UPDATE dot_votes SET count = 2 WHERE ballot_id = ? AND member_id = ? AND problem_id = ?",
                  (ballot, m, p2), LIMIT)
    await allowed(db, "UPDATE dot_votes SET count = 1 WHERE ballot_id = ? AND member_id = ? AND problem_id = ?",
                  (ballot, m, p1))
    await dot(db, ballot, m, p3, 1)  # the freed sticker can go elsewhere
    await dot(db, ballot, w.members[1], p3, 2)  # the limit is each member's own
    assert await stickers(db, ballot) == {m: {p1: 1, p2: 1, p3: 1}, w.members[1]: {p3: 2}}


async def test_a_member_cannot_place_more_on_one_problem_than_the_ballot_allows(db, world):
    w, (p1, p2, *_) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2], stickers=5, per_option=2)
    m = w.members[0]
    await refused(db, DOT, (ballot, m, p1, 3), LIMIT)
    await dot(db, ballot, m, p1, 2)
    await refused(db, "UPDATE dot_votes SET count = 3 WHERE ballot_id = ? AND member_id = ? AND problem_id = ?",
                  (ballot, m, p1), LIMIT)
    assert await stickers(db, ballot) == {m: {p1: 2}}


async def test_no_vote_changes_on_a_closed_ballot(db, world):
    w, (p1, p2, p3, *_) = world, world.problems
    m0, m1 = w.members[:2]
    dots = await new_ballot(db, w, "dots", [p1, p2], per_option=2)
    matrix = await new_ballot(db, w, "matrix", [p1, p2])
    pairwise = await new_ballot(db, w, "pairwise", [p1, p2, p3])
    await dot(db, dots, m0, p1)
    await allowed(db, MATRIX, (matrix, m0, p1))
    await allowed(db, PAIR, (pairwise, m0, p1, p2, p1))
    for ballot in (dots, matrix, pairwise):
        await allowed(db, "UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?", (NOW, ballot))
    await refused(db, DOT, (dots, m1, p2, 1), NOT_OPEN)
    await refused(db, "UPDATE dot_votes SET count = 2 WHERE ballot_id = ? AND member_id = ?", (dots, m0), NOT_OPEN)
    await refused(db, "DELETE FROM dot_votes WHERE ballot_id = ? AND member_id = ?", (dots, m0), NOT_OPEN)
    await refused(db, MATRIX, (matrix, m1, p2), NOT_OPEN)
    await refused(db, PAIR, (pairwise, m1, p1, p3, p3), NOT_OPEN)
    assert await stickers(db, dots) == {m0: {p1: 1}}
    assert await option_rows(db, dots) == {p1: 1, p2: 0}


async def test_no_vote_for_a_problem_the_ballot_does_not_offer(db, world):
    w, (p1, p2, p3, *_) = world, world.problems
    m = w.members[0]
    dots = await new_ballot(db, w, "dots", [p1, p2])
    matrix = await new_ballot(db, w, "matrix", [p1, p2])
    pairwise = await new_ballot(db, w, "pairwise", [p1, p2])
    await refused(db, DOT, (dots, m, p3, 1), NOT_OPTION)
    await refused(db, MATRIX, (matrix, m, p3), NOT_OPTION)
    await refused(db, PAIR, (pairwise, m, p1, p3, p1), NOT_OPTION)
    await refused(db, PAIR, (pairwise, m, p2, p3, p2), NOT_OPTION)
    await dot(db, dots, m, p2)
    await allowed(db, MATRIX, (matrix, m, p2))
    await allowed(db, PAIR, (pairwise, m, p1, p2, p2))


async def test_a_vote_goes_only_to_a_ballot_of_its_kind(db, world):
    w, (p1, p2, *_) = world, world.problems
    m = w.members[0]
    dots = await new_ballot(db, w, "dots", [p1, p2])
    matrix = await new_ballot(db, w, "matrix", [p1, p2])
    await refused(db, DOT, (matrix, m, p1, 1), "not a sticker ballot")
    await refused(db, MATRIX, (dots, m, p1), "not a matrix ballot")
    await refused(db, PAIR, (dots, m, p1, p2, p1), "not a pairwise ballot")


async def test_twenty_identical_concurrent_vote_writes_leave_one_row(db, world):
    """The same tap written twenty times at once, each by its own connection: the key keeps one."""
    w, (p1, p2, *_) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2], stickers=20, per_option=1)  # limits would allow 20
    vote = (ballot, w.members[0], p1, 1)

    async def write(writer: Database) -> None:
        async with writer.transaction() as tx:
            await tx.execute(DOT, vote)

    async with AsyncExitStack() as stack:
        writers = [await stack.enter_async_context(stores.database(db.path)) for _ in range(20)]
        outcomes = await asyncio.gather(*(write(writer) for writer in writers), return_exceptions=True)
    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 19
    assert all(isinstance(f, sqlite3.IntegrityError) and "UNIQUE" in str(f) for f in failures), failures
    assert await stickers(db, ballot) == {w.members[0]: {p1: 1}}
    assert await option_rows(db, ballot) == {p1: 1, p2: 0}
    assert await scalar(db, "SELECT turnout FROM ballots WHERE id = ?", (ballot,)) == 1


# --- a ballot's rules -------------------------------------------------------------------------
@pytest.mark.parametrize("change", ["stickers = 5", "per_option = 2", "kind = 'matrix'", "visibility = 'closed'",
                                    "community_id = community_id"])
async def test_a_ballots_rules_cannot_change(db, world, change):
    w, (p1, p2, *_) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2])
    await refused(db, f"UPDATE ballots SET {change} WHERE id = ?", (ballot,), "ballot rules cannot change")
    await allowed(db, "UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?", (NOW, ballot))
    await refused(db, f"UPDATE ballots SET {change} WHERE id = ?", (ballot,), "ballot rules cannot change")


async def test_an_open_ballot_may_get_a_deadline_and_paper_count_and_close_once(db, world):
    w, (p1, p2, *_) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2])
    await allowed(db, "UPDATE ballots SET closes_at = ?, paper_present = 12 WHERE id = ?", (NOW, ballot))
    await allowed(db, "UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?", (NOW, ballot))
    await refused(db, "UPDATE ballots SET status = 'open' WHERE id = ?", (ballot,), "cannot be reopened")


# --- a ballot's options -----------------------------------------------------------------------
RECORDED = {
    "a sticker": ("dots", DOT, lambda b, m, p: (b, m, p[0], 1)),
    "a matrix score": ("matrix", MATRIX, lambda b, m, p: (b, m, p[0])),
    "a pairwise answer": ("pairwise", PAIR, lambda b, m, p: (b, m, p[0], p[1], p[0])),
    "a pairwise plan": ("pairwise", "INSERT INTO pairwise_plans (ballot_id, member_id, pairs) VALUES (?, ?, '[]')",
                        lambda b, m, p: (b, m)),
    "a paper tally": ("dots", "INSERT INTO paper_tallies (ballot_id, problem_id, count) VALUES (?, ?, 4)",
                      lambda b, m, p: (b, p[0])),
}


@pytest.mark.parametrize("first", list(RECORDED))
async def test_an_open_ballots_options_are_frozen_once_anything_is_recorded(db, world, first):
    w, (p1, p2, p3, p4, *_) = world, world.problems
    kind, sql, params = RECORDED[first]
    ballot = await new_ballot(db, w, kind, [p1, p2, p3])  # options go in while it is being opened
    await allowed(db, "INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (ballot, p4))
    await allowed(db, sql, params(ballot, w.members[0], [p1, p2]))
    await refused(db, "INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (ballot, p4 + 1), FROZEN)
    await refused(db, "DELETE FROM ballot_options WHERE ballot_id = ? AND problem_id = ?", (ballot, p3), FROZEN)
    await refused(db, "UPDATE ballot_options SET problem_id = ? WHERE ballot_id = ? AND problem_id = ?",
                  (p4 + 1, ballot, p3), FROZEN)
    other = await new_ballot(db, w, kind, [p1, p2])
    await refused(db, "UPDATE ballot_options SET ballot_id = ? WHERE ballot_id = ? AND problem_id = ?",
                  (other, ballot, p3), FROZEN)
    assert sorted(await option_rows(db, ballot)) == [p1, p2, p3, p4]


async def test_an_open_ballots_options_are_frozen_once_its_opening_is_audited(db, world):
    w, (p1, p2, p3, *_) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2])
    other = await new_ballot(db, w, "dots", [p1, p2])
    async with db.transaction() as tx:
        await audit.append(tx, NOW, "ballot.opened", community_id=w.community, ballot=ballot, options=[p1, p2])
    await refused(db, "INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (ballot, p3), FROZEN)
    await allowed(db, "INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (other, p3))


async def test_an_open_ballot_gains_only_the_problem_an_option_was_merged_into(db, world):
    w, (p1, p2, p3, p4, p5, p6) = world, world.problems
    ballot = await new_ballot(db, w, "dots", [p1, p2])
    await dot(db, ballot, w.members[0], p1)
    insert = "INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)"
    await refused(db, insert, (ballot, p3), FROZEN)  # p1 is not merged yet
    await allowed(db, "UPDATE problems SET status = 'merged', merged_into = ? WHERE id = ?", (p3, p1))
    await refused(db, insert, (ballot, p4), FROZEN)  # not what p1 was merged into
    await allowed(db, "UPDATE problems SET status = 'hidden' WHERE id = ?", (p5,))
    await allowed(db, "UPDATE problems SET status = 'merged', merged_into = ? WHERE id = ?", (p5, p2))
    await refused(db, insert, (ballot, p5), FROZEN)  # merged into a hidden problem
    await allowed(db, "UPDATE problems SET status = 'merged', merged_into = ? WHERE id = ?", (p6, p4))
    await refused(db, insert, (ballot, p6), FROZEN)  # p4 was merged into p6, but p4 is no option
    await allowed(db, insert, (ballot, p3))
    await refused(db, "DELETE FROM ballot_options WHERE ballot_id = ? AND problem_id = ?", (ballot, p1), FROZEN)
    assert sorted(await option_rows(db, ballot)) == [p1, p2, p3]


# --- merging duplicates in open ballots -------------------------------------------------------
async def merge(db: Database, source: int, target: int) -> None:
    async with db.transaction() as tx:
        await problems.merge(tx, source, target)


async def test_merge_into_a_problem_the_ballot_lacks_carries_the_stickers_over(db, world):
    w, (p1, p2, p3, *_) = world, world.problems
    m0, m1, m2 = w.members
    ballot = await new_ballot(db, w, "dots", [p1, p2], stickers=3, per_option=2)
    await dot(db, ballot, m0, p1, 2)
    await dot(db, ballot, m0, p2, 1)
    await dot(db, ballot, m1, p1, 1)
    await dot(db, ballot, m2, p2, 1)
    async with db.transaction() as tx:
        await audit.append(tx, NOW, "ballot.opened", community_id=w.community, ballot=ballot, options=[p1, p2])
    await merge(db, p1, p3)
    assert await stickers(db, ballot) == {m0: {p2: 1, p3: 2}, m1: {p3: 1}, m2: {p2: 1}}
    assert await option_rows(db, ballot) == {p1: 0, p2: 2, p3: 3}  # p1 stays, counted as p3
    assert await scalar(db, "SELECT turnout FROM ballots WHERE id = ?", (ballot,)) == 3


async def test_merge_into_a_problem_the_ballot_offers_keeps_the_per_problem_limit(db, world):
    w, (p1, p2, p3, *_) = world, world.problems
    m0, m1, _ = w.members
    ballot = await new_ballot(db, w, "dots", [p1, p2, p3], stickers=3, per_option=1)
    await dot(db, ballot, m0, p1)
    await dot(db, ballot, m0, p2)
    await dot(db, ballot, m1, p2)
    matrix = await new_ballot(db, w, "matrix", [p2, p3])
    await allowed(db, MATRIX, (matrix, m0, p2))
    await merge(db, p2, p1)
    assert await stickers(db, ballot) == {m0: {p1: 1}, m1: {p1: 1}}  # m0's second sticker returns
    assert await option_rows(db, ballot) == {p1: 2, p2: 0, p3: 0}
    assert sorted(await option_rows(db, matrix)) == [p1, p2, p3]  # p2's score stays, counted as p1
    await merge(db, p1, p3)  # and on: p2, merged into p1, now counts as p3 too
    assert await stickers(db, ballot) == {m0: {p3: 1}, m1: {p3: 1}}
    assert await option_rows(db, ballot) == {p1: 0, p2: 0, p3: 2}


# --- the audit log ----------------------------------------------------------------------------
async def test_the_audit_log_takes_new_entries_and_refuses_edits_and_deletions(db):
    async with db.transaction() as tx:
        for n in range(3):
            await audit.append(tx, NOW, "test.entry", n=n)
    await refused(db, "UPDATE audit_log SET detail = '{}' WHERE id = 2", (), "append-only")
    await refused(db, "DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)", (), "append-only")
    await refused(db, "DELETE FROM audit_log", (), "append-only")
    async with db.transaction() as tx:
        await audit.append(tx, NOW, "test.entry", n=3)
        assert await tx.scalar("SELECT COUNT(*) FROM audit_log") == 4
        assert await audit.verify(tx) is None


# --- step 2: nominations and the election ----------------------------------------------------
NOMINATE = ("INSERT INTO nominations (community_id, member_id, category, nominated_by, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)")
APPROVE = "INSERT INTO election_votes (ballot_id, member_id, nomination_id) VALUES (?, ?, ?)"


async def candidates(db: Database, w: World, status: str = "accepted") -> list[int]:
    async with db.transaction() as tx:
        return [await tx.insert(NOMINATE, (w.community, m, category, m, status, NOW))
                for m, category in zip(w.members, ("activist", "business", "media"))]


async def open_election(db: Database, w: World, nominations: list[int], seats: int = 2) -> int:
    """An election opened the way ballots.open_election does it: the open ballot, then its candidates."""
    async with db.transaction() as tx:
        ballot = await tx.insert("INSERT INTO ballots (community_id, kind, stickers, opened_at)"
                                 " VALUES (?, 'election', ?, ?)", (w.community, seats, NOW))
        for nomination in nominations:
            await tx.execute("INSERT INTO election_options (ballot_id, nomination_id) VALUES (?, ?)",
                             (ballot, nomination))
    return ballot


async def test_a_nomination_is_answered_once_and_never_changes(db, world):
    w = world
    async with db.transaction() as tx:
        pending = await tx.insert(NOMINATE, (w.community, w.members[0], "ngo", w.members[1], "pending", NOW))
    await refused(db, NOMINATE, (w.community, w.members[0], "media", w.members[2], "pending", NOW), "UNIQUE")
    await refused(db, NOMINATE, (w.community, w.members[1], "clergy", w.members[2], "pending", NOW), "CHECK")
    await allowed(db, "UPDATE nominations SET status = 'accepted' WHERE id = ?", (pending,))
    await refused(db, "UPDATE nominations SET status = 'declined' WHERE id = ?", (pending,), "answered once")
    await refused(db, "UPDATE nominations SET status = 'pending' WHERE id = ?", (pending,), "answered once")
    await refused(db, "UPDATE nominations SET category = 'media' WHERE id = ?", (pending,), "cannot change")


async def test_twenty_identical_concurrent_acceptances_leave_one_answer(db, world):
    """The nominee's "accept" written twenty times at once, each by its own connection, the way
    nominations.answer writes it: one changes the row, the others find it answered."""
    w = world
    async with db.transaction() as tx:
        nomination = await tx.insert(NOMINATE, (w.community, w.members[0], "ngo", w.members[1], "pending", NOW))

    async def accept(writer: Database) -> int:
        async with writer.transaction() as tx:
            return await tx.changed("UPDATE nominations SET status = 'accepted', answered_at = ?"
                                    " WHERE id = ? AND status = 'pending'", (NOW, nomination))

    async with AsyncExitStack() as stack:
        writers = [await stack.enter_async_context(stores.database(db.path)) for _ in range(20)]
        changed = await asyncio.gather(*(accept(writer) for writer in writers))
    assert sorted(changed) == [0] * 19 + [1]


async def test_an_approval_needs_an_open_election_a_candidate_and_a_free_seat(db, world):
    w = world
    n1, n2, n3 = await candidates(db, w)
    ballot = await open_election(db, w, [n1, n2, n3], seats=2)
    voter = w.members[0]
    await allowed(db, APPROVE, (ballot, voter, n1))
    await refused(db, APPROVE, (ballot, voter, n1), "UNIQUE")
    await allowed(db, APPROVE, (ballot, voter, n2))
    await refused(db, APPROVE, (ballot, voter, n3), "seat limit")
    await refused(db, "UPDATE election_votes SET nomination_id = ? WHERE ballot_id = ? AND nomination_id = ?",
                  (n3, ballot, n2), "not changed")
    await allowed(db, "DELETE FROM election_votes WHERE ballot_id = ? AND member_id = ? AND nomination_id = ?",
                  (ballot, voter, n2))
    await allowed(db, APPROVE, (ballot, voter, n3))
    assert await scalar(db, "SELECT turnout FROM ballots WHERE id = ?", (ballot,)) == 1
    async with db.transaction() as tx:
        online = {r[0]: r[1] for r in await tx.all(
            "SELECT nomination_id, online FROM election_options WHERE ballot_id = ?", (ballot,))}
    assert online == {n1: 1, n2: 0, n3: 1}
    dots_ballot = await new_ballot(db, w, "dots", w.problems[:2])
    await refused(db, APPROVE, (dots_ballot, voter, n1), "not an election")
    await allowed(db, "UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?", (NOW, ballot))
    await refused(db, APPROVE, (ballot, w.members[1], n1), NOT_OPEN)
    await refused(db, "DELETE FROM election_votes WHERE ballot_id = ?", (ballot,), NOT_OPEN)


async def test_an_elections_seats_and_candidates_are_frozen_while_it_is_open(db, world):
    w = world
    n1, n2, n3 = await candidates(db, w)
    async with db.transaction() as tx:
        late = await tx.insert("INSERT INTO members (name, locale, consent_at, created_at) VALUES ('late', 'en', ?, ?)",
                               (NOW, NOW))
        pending = await tx.insert(NOMINATE, (w.community, late, "ngo", w.members[0], "pending", NOW))
    ballot = await open_election(db, w, [n1, n2], seats=2)
    await refused(db, "UPDATE ballots SET stickers = 3 WHERE id = ?", (ballot,), "ballot rules cannot change")
    await refused(db, "INSERT INTO election_options (ballot_id, nomination_id) VALUES (?, ?)", (ballot, pending),
                  "accepted a nomination")  # only a candidate who accepted, even while it is being opened
    await allowed(db, APPROVE, (ballot, w.members[0], n1))
    await refused(db, "INSERT INTO election_options (ballot_id, nomination_id) VALUES (?, ?)", (ballot, n3), FROZEN)
    await refused(db, "DELETE FROM election_options WHERE ballot_id = ? AND nomination_id = ?", (ballot, n2), FROZEN)
    await refused(db, "UPDATE election_options SET nomination_id = ? WHERE ballot_id = ? AND nomination_id = ?",
                  (n3, ballot, n2), "cannot change")


# --- step 3: the problem tree ---------------------------------------------------------------
NODE = ("INSERT INTO tree_nodes (community_id, problem_id, number, kind, parent_id, text, norm, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


async def node(db: Database, w: World, number: int, kind: str, parent: int | None = None, problem: int = 0) -> int:
    async with db.transaction() as tx:
        return await tx.insert(NODE, (w.community, w.problems[problem], number, kind, parent, f"node {number}",
                                      f"node {number}", NOW))


async def test_a_tree_node_hangs_only_under_an_open_node_of_its_kind_on_its_tree(db, world):
    w = world
    p1, p2 = w.problems[:2]
    cause = await node(db, w, 1, "cause")
    effect = await node(db, w, 2, "effect")
    child = await node(db, w, 3, "cause", cause)
    await refused(db, NODE, (w.community, p1, 4, "cause", effect, "x", "x", NOW), "open node of its kind")
    await refused(db, NODE, (w.community, p2, 4, "cause", cause, "x", "x", NOW), "open node of its kind")  # another tree
    await refused(db, NODE, (w.community, p1, 4, "mood", None, "x", "x", NOW), "CHECK")
    await refused(db, NODE, (w.community, p1, 3, "cause", None, "x", "x", NOW), "UNIQUE")  # numbers are the community's
    await refused(db, "UPDATE tree_nodes SET parent_id = ? WHERE id = ?", (effect, child), "open node of its kind")
    await refused(db, "UPDATE tree_nodes SET parent_id = id WHERE id = ?", (cause,), "CHECK|open node")
    await refused(db, "UPDATE tree_nodes SET kind = 'effect' WHERE id = ?", (cause,), "keeps its kind")
    await refused(db, "UPDATE tree_nodes SET problem_id = ? WHERE id = ?", (p2, cause), "keeps its kind")
    await refused(db, "UPDATE tree_nodes SET status = 'removed' WHERE id = ?", (cause,), "move what hangs under")
    await allowed(db, "UPDATE tree_nodes SET parent_id = NULL WHERE id = ?", (child,))
    await allowed(db, "UPDATE tree_nodes SET status = 'removed' WHERE id = ?", (cause,))
    await refused(db, NODE, (w.community, p1, 5, "cause", cause, "x", "x", NOW), "open node of its kind")
    await refused(db, "UPDATE tree_nodes SET status = 'open' WHERE id = ?", (cause,), "stays so")


# --- step 4: resources and organisations ------------------------------------------------------
async def test_an_estimate_is_one_to_three_by_a_member_of_an_organisation_still_on_the_diagram(db, world):
    w = world
    async with db.transaction() as tx:
        for member in w.members[:2]:
            await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                             " VALUES (?, ?, 'member', ?)", (w.community, member, NOW))
        org = await tx.insert("INSERT INTO orgs (community_id, number, name, norm, created_at)"
                              " VALUES (?, 1, 'Akimat', 'akimat', ?)", (w.community, NOW))
    rate = "INSERT INTO org_ratings (org_id, member_id, importance, closeness) VALUES (?, ?, ?, ?)"
    await allowed(db, rate, (org, w.members[0], 3, 1))
    await refused(db, rate, (org, w.members[1], 4, 1), "CHECK")
    await refused(db, rate, (org, w.members[1], 2, 0), "CHECK")
    await refused(db, rate, (org, w.members[2], 2, 2), "only members")  # not a member of the community
    await refused(db, rate, (org, w.members[0], 2, 2), "UNIQUE")  # one estimate a member: changed, not added
    await allowed(db, "UPDATE org_ratings SET importance = 2 WHERE org_id = ? AND member_id = ?", (org, w.members[0]))
    await allowed(db, "UPDATE orgs SET status = 'removed' WHERE id = ?", (org,))
    await refused(db, rate, (org, w.members[1], 2, 2), "not on the diagram")
    await refused(db, "UPDATE org_ratings SET closeness = 3 WHERE org_id = ?", (org,), "not on the diagram")
    await refused(db, "UPDATE orgs SET status = 'open' WHERE id = ?", (org,), "stays so")


async def test_a_resource_keeps_its_kind_and_stays_removed(db, world):
    w = world
    async with db.transaction() as tx:
        resource = await tx.insert("INSERT INTO resources (community_id, number, kind, text, created_at)"
                                   " VALUES (?, 1, 'money', 'A grant', ?)", (w.community, NOW))
    await refused(db, "INSERT INTO resources (community_id, number, kind, text, created_at) VALUES (?, 2, 'luck', 'x', ?)",
                  (w.community, NOW), "CHECK")
    await refused(db, "UPDATE resources SET kind = 'people' WHERE id = ?", (resource,), "keeps its kind")
    await allowed(db, "UPDATE resources SET status = 'removed' WHERE id = ?", (resource,))
    await refused(db, "UPDATE resources SET status = 'open' WHERE id = ?", (resource,), "stays so")


# --- step 5: the action plan -------------------------------------------------------------------
TASK = ("INSERT INTO tasks (community_id, problem_id, number, title, norm, start_on, due_on, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


async def test_a_task_is_dated_in_order_owned_by_a_member_and_frozen_while_the_plan_is_voted_on(db, world):
    w = world
    p1 = w.problems[0]
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at) VALUES (?, ?, 'member', ?)",
                         (w.community, w.members[0], NOW))
        task = await tx.insert(TASK, (w.community, p1, 1, "Clean the culvert", "x", "2026-12-01", "2026-12-05", NOW))
    await refused(db, TASK, (w.community, p1, 2, "Backwards", "y", "2026-12-05", "2026-12-01", NOW), "CHECK")
    await refused(db, "UPDATE tasks SET owner_id = ? WHERE id = ?", (w.members[1], task), "member of the community")
    await allowed(db, "UPDATE tasks SET owner_id = ? WHERE id = ?", (w.members[0], task))
    await refused(db, "UPDATE tasks SET number = 7 WHERE id = ?", (task,), "keeps its number")
    async with db.transaction() as tx:
        ballot = await tx.insert("INSERT INTO ballots (community_id, kind, opened_at) VALUES (?, 'plan', ?)",
                                 (w.community, NOW))
    await refused(db, TASK, (w.community, p1, 2, "During the vote", "z", None, None, NOW), "voted on")
    await refused(db, "UPDATE tasks SET title = 'Changed' WHERE id = ?", (task,), "voted on")
    await refused(db, "UPDATE tasks SET status = 'removed' WHERE id = ?", (task,), "voted on")
    vote = "INSERT INTO plan_votes (ballot_id, member_id, approve) VALUES (?, ?, ?)"
    await allowed(db, vote, (ballot, w.members[0], 1))
    await refused(db, vote, (ballot, w.members[0], 0), "UNIQUE")
    await refused(db, vote, (ballot, w.members[1], 2), "CHECK")
    await allowed(db, "UPDATE plan_votes SET approve = 0 WHERE ballot_id = ?", (ballot,))
    assert await scalar(db, "SELECT turnout FROM ballots WHERE id = ?", (ballot,)) == 1
    dots_ballot = await new_ballot(db, w, "dots", w.problems[:2])
    await refused(db, vote, (dots_ballot, w.members[1], 1), "not a plan ballot")
    await allowed(db, "UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?", (NOW, ballot))
    await refused(db, "UPDATE plan_votes SET approve = 1 WHERE ballot_id = ?", (ballot,), NOT_OPEN)
    await refused(db, vote, (ballot, w.members[1], 1), NOT_OPEN)
    await allowed(db, "UPDATE tasks SET title = 'After the vote' WHERE id = ?", (task,))


# --- step 7: the evaluation --------------------------------------------------------------------
async def test_an_evaluation_answer_is_kept_in_range_and_only_while_it_is_open(db, world):
    w = world
    async with db.transaction() as tx:
        ballot = await tx.insert("INSERT INTO ballots (community_id, kind, opened_at) VALUES (?, 'evaluation', ?)",
                                 (w.community, NOW))
    answer = "INSERT INTO evaluation_answers (ballot_id, member_id, goal, rating, again) VALUES (?, ?, ?, ?, ?)"
    await allowed(db, answer, (ballot, w.members[0], "yes", 5, 1))
    await refused(db, answer, (ballot, w.members[1], "maybe", 5, 1), "CHECK")
    await refused(db, answer, (ballot, w.members[1], "yes", 6, 1), "CHECK")
    await refused(db, answer, (ballot, w.members[0], "no", 1, 0), "UNIQUE")
    dots_ballot = await new_ballot(db, w, "dots", w.problems[:2])
    await refused(db, answer, (dots_ballot, w.members[1], "yes", 5, 1), "not an evaluation")
    assert await scalar(db, "SELECT turnout FROM ballots WHERE id = ?", (ballot,)) == 1
    await allowed(db, "UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?", (NOW, ballot))
    await refused(db, "UPDATE evaluation_answers SET rating = 1 WHERE ballot_id = ?", (ballot,), NOT_OPEN)
    await refused(db, answer, (ballot, w.members[1], "yes", 5, 1), NOT_OPEN)
