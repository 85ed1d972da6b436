"""Problems proposed in the brainstorm, their authors, merges and hiding; the chosen problem."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Tx


@dataclass(frozen=True)
class Problem:
    id: int
    community_id: int
    number: int
    text: str
    status: str
    merged_into: int | None


def _problem(row) -> Problem:
    return Problem(row["id"], row["community_id"], row["number"], row["text"], row["status"], row["merged_into"])


async def by_norm(tx: Tx, community_id: int, norm: str) -> Problem | None:
    row = await tx.one("SELECT * FROM problems WHERE community_id = ? AND norm = ?", (community_id, norm))
    return None if row is None else _problem(row)


async def add(tx: Tx, community_id: int, text: str, norm: str, author: int, now: str) -> Problem:
    number = await tx.scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM problems WHERE community_id = ?",
                             (community_id,))
    problem_id = await tx.insert(
        "INSERT INTO problems (community_id, number, text, norm, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (community_id, number, text, norm, author, now))
    await tx.execute("INSERT INTO problem_authors (problem_id, member_id) VALUES (?, ?)", (problem_id, author))
    return Problem(problem_id, community_id, number, text, "open", None)


async def get(tx: Tx, problem_id: int) -> Problem | None:
    row = await tx.one("SELECT * FROM problems WHERE id = ?", (problem_id,))
    return None if row is None else _problem(row)


async def offered(tx: Tx, problem_id: int, ballot_id: int) -> tuple[Problem, bool] | None:
    """A problem and whether the ballot offers it (one read: this runs for every vote)."""
    row = await tx.one(
        "SELECT p.*, EXISTS (SELECT 1 FROM ballot_options o WHERE o.ballot_id = ? AND o.problem_id = p.id)"
        " AS on_ballot FROM problems p WHERE p.id = ?", (ballot_id, problem_id))
    return None if row is None else (_problem(row), bool(row["on_ballot"]))


async def by_number(tx: Tx, community_id: int, number: int) -> Problem | None:
    row = await tx.one("SELECT * FROM problems WHERE community_id = ? AND number = ?", (community_id, number))
    return None if row is None else _problem(row)


async def listed(tx: Tx, community_id: int, status: str = "open") -> list[Problem]:
    rows = await tx.all("SELECT * FROM problems WHERE community_id = ? AND status = ? ORDER BY number",
                        (community_id, status))
    return [_problem(r) for r in rows]


async def all_of(tx: Tx, community_id: int) -> dict[int, Problem]:
    rows = await tx.all("SELECT * FROM problems WHERE community_id = ?", (community_id,))
    return {r["id"]: _problem(r) for r in rows}


async def authors(tx: Tx, problem_id: int) -> list[int]:
    rows = await tx.all("SELECT member_id FROM problem_authors WHERE problem_id = ? ORDER BY member_id",
                        (problem_id,))
    return [r[0] for r in rows]


async def count_recent(tx: Tx, member_id: int, since: str) -> int:
    return int(await tx.scalar("SELECT COUNT(*) FROM problems WHERE created_by = ? AND created_at >= ?",
                               (member_id, since)))


async def hide(tx: Tx, problem_id: int) -> None:
    await tx.execute("UPDATE problems SET status = 'hidden' WHERE id = ?", (problem_id,))
    # Stickers on a hidden problem go back to their owners in every open ballot.
    await tx.execute("DELETE FROM dot_votes WHERE problem_id = ? AND ballot_id IN"
                     " (SELECT id FROM ballots WHERE status = 'open')", (problem_id,))


async def merge(tx: Tx, source: int, target: int) -> None:
    """Merge ``source`` into ``target``: authors and the votes in open ballots carry over.

    An open ballot's options are frozen (004_guards.sql); the one change allowed is this: an open
    ballot offering ``source`` gains ``target`` if it lacks it, once ``source`` is marked merged
    into it, so stickers can move there. The source keeps its option row: results count it as the
    target, and a tap on its old button is told to vote for the target.
    """
    # First: the option trigger allows the target only as the problem an option was merged into.
    await tx.execute("UPDATE problems SET status = 'merged', merged_into = ? WHERE id = ?", (target, source))
    await tx.execute("UPDATE problems SET merged_into = ? WHERE merged_into = ?", (target, source))
    await tx.execute("INSERT OR IGNORE INTO problem_authors (problem_id, member_id)"
                     " SELECT ?, member_id FROM problem_authors WHERE problem_id = ?", (target, source))
    open_ballots = [r[0] for r in await tx.all(
        "SELECT ballot_id FROM ballot_options o JOIN ballots b ON b.id = o.ballot_id"
        " WHERE o.problem_id = ? AND b.status = 'open'", (source,))]
    for ballot_id in open_ballots:
        if await tx.one("SELECT 1 FROM ballot_options WHERE ballot_id = ? AND problem_id = ?",
                        (ballot_id, target)) is None:
            await tx.execute("INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (ballot_id, target))
        # Stickers: a member who marked both keeps one (the ballot's per-problem limit), the other returns.
        moved = await tx.all("SELECT member_id, count FROM dot_votes WHERE ballot_id = ? AND problem_id = ?",
                             (ballot_id, source))
        await tx.execute("DELETE FROM dot_votes WHERE ballot_id = ? AND problem_id = ?", (ballot_id, source))
        for row in moved:
            existing = await tx.scalar("SELECT count FROM dot_votes WHERE ballot_id = ? AND member_id = ?"
                                       " AND problem_id = ?", (ballot_id, row["member_id"], target))
            per_option = await tx.scalar("SELECT per_option FROM ballots WHERE id = ?", (ballot_id,))
            combined = min((existing or 0) + row["count"], per_option)
            if existing is None:
                await tx.execute("INSERT INTO dot_votes (ballot_id, member_id, problem_id, count) VALUES (?, ?, ?, ?)",
                                 (ballot_id, row["member_id"], target, combined))
            elif combined != existing:
                await tx.execute("UPDATE dot_votes SET count = ? WHERE ballot_id = ? AND member_id = ?"
                                 " AND problem_id = ?", (combined, ballot_id, row["member_id"], target))


async def choose(tx: Tx, community_id: int, problem_id: int, member_id: int, now: str) -> None:
    await tx.execute(
        "INSERT INTO step1_choices (community_id, problem_id, confirmed_by, confirmed_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (community_id) DO UPDATE SET problem_id = excluded.problem_id,"
        " confirmed_by = excluded.confirmed_by, confirmed_at = excluded.confirmed_at",
        (community_id, problem_id, member_id, now))


async def chosen(tx: Tx, community_id: int) -> Problem | None:
    row = await tx.one("SELECT p.* FROM problems p JOIN step1_choices c ON c.problem_id = p.id"
                       " WHERE c.community_id = ?", (community_id,))
    return None if row is None else _problem(row)


async def volunteer(tx: Tx, community_id: int, member_id: int, now: str) -> bool:
    return await tx.changed("INSERT OR IGNORE INTO volunteers (community_id, member_id, at) VALUES (?, ?, ?)",
                            (community_id, member_id, now)) > 0


async def unvolunteer(tx: Tx, community_id: int, member_id: int) -> bool:
    return await tx.changed("DELETE FROM volunteers WHERE community_id = ? AND member_id = ?",
                            (community_id, member_id)) > 0


async def volunteers(tx: Tx, community_id: int) -> list[str]:
    rows = await tx.all("SELECT m.name FROM volunteers v JOIN members m ON m.id = v.member_id"
                        " WHERE v.community_id = ? ORDER BY v.at, m.id", (community_id,))
    return [r[0] or "—" for r in rows]
