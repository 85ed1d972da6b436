"""Cycles: a community goes through the seven steps again and again.

The current cycle's data lives under the community's id, as it always has. Starting the next
cycle moves the finished cycle's rows into an archive: a ``communities`` row with ``archive_of``
set, which holds that cycle's data only (no members, no groups). Every function that reads a
community's data by its id reads an archived cycle the same way, by the archive's id
(``Cycle.data_id``); the database refuses any change to an archive (migration ``cycles``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.models import Community
from bot.storage.communities import community_from_row
from bot.storage.db import Tx

# The tables whose rows belong to one cycle: moved into the archive when the next one starts (the
# rows keep their ids, so what hangs on them — votes, options, answers — follows without a move).
CYCLE_TABLES = ("problems", "ballots", "step1_choices", "volunteers", "nominations", "kmut_confirmations",
                "tree_nodes", "resources", "orgs", "tasks", "skipped_steps", "reminders", "plan_approvals")
# The tables keyed by community that belong to the community across cycles.
COMMUNITY_TABLES = ("memberships", "group_links", "audit_log", "cycles", "reminder_settings", "group_presence")


@dataclass(frozen=True)
class Cycle:
    community_id: int
    number: int
    started_at: str
    ended_at: str | None
    archive_id: int | None

    @property
    def data_id(self) -> int:
        """The id under which this cycle's data is read: the community's, or its archive's."""
        return self.archive_id if self.archive_id is not None else self.community_id

    @property
    def is_current(self) -> bool:
        return self.ended_at is None


def _cycle(row) -> Cycle:
    return Cycle(row["community_id"], row["number"], row["started_at"], row["ended_at"], row["archive_id"])


async def history(tx: Tx, community_id: int) -> list[Cycle]:
    """The community's cycles, the first first; the last is the current one."""
    rows = await tx.all("SELECT * FROM cycles WHERE community_id = ? ORDER BY number", (community_id,))
    return [_cycle(r) for r in rows]


async def current(tx: Tx, community_id: int) -> Cycle:
    row = await tx.one("SELECT * FROM cycles WHERE community_id = ? AND ended_at IS NULL", (community_id,))
    assert row is not None, f"community {community_id} has no current cycle"
    return _cycle(row)


async def get(tx: Tx, community_id: int, number: int) -> Cycle | None:
    row = await tx.one("SELECT * FROM cycles WHERE community_id = ? AND number = ?", (community_id, number))
    return None if row is None else _cycle(row)


async def archived(tx: Tx, community_id: int, number: int) -> Community | None:
    """An archived cycle's data for the report: the archive as a community (its name, place and
    step as the cycle ended), whose id every storage function reads as it reads the current
    cycle's (``problems.listed``, ``ballots.of_community``, ``plan``, ``tree``...). None if the
    community has no finished cycle of that number."""
    row = await tx.one("SELECT c.* FROM cycles y JOIN communities c ON c.id = y.archive_id"
                       " WHERE y.community_id = ? AND y.number = ? AND y.ended_at IS NOT NULL",
                       (community_id, number))
    return None if row is None else community_from_row(row)


async def is_archive(tx: Tx, community_id: int) -> bool:
    return await tx.scalar("SELECT archive_of IS NOT NULL FROM communities WHERE id = ?", (community_id,)) == 1


async def start_next(tx: Tx, community: Community, by: int, now: str) -> tuple[Cycle, Cycle]:
    """Archive the current cycle and open the next at step 1, the unchosen problems carried over
    (without their votes, renumbered in their old order). Returns (finished, new)."""
    finished = await current(tx, community.id)
    archive_id = await tx.insert(
        "INSERT INTO communities (name, place, tz, locale, join_code, step, created_by, created_at, archive_of)"
        " SELECT name, place, tz, locale, join_code || '~' || ?, step, NULL, ?, id FROM communities"
        " WHERE id = ?", (finished.number, finished.started_at, community.id))
    await tx.execute("UPDATE cycles SET archive_id = ? WHERE community_id = ? AND number = ?",
                     (archive_id, community.id, finished.number))
    await tx.execute("UPDATE reminders SET status = 'skipped', done_at = ? WHERE community_id = ? AND status = 'pending'",
                     (now, community.id))  # what was still to remind of the finished cycle is not sent
    for table in CYCLE_TABLES:
        await tx.execute(f"UPDATE {table} SET community_id = ? WHERE community_id = ?", (archive_id, community.id))
    await tx.execute("UPDATE cycles SET ended_at = ?, ended_by = ? WHERE community_id = ? AND number = ?",
                     (now, by, community.id, finished.number))
    await tx.execute("INSERT INTO cycles (community_id, number, started_at, started_by) VALUES (?, ?, ?, ?)",
                     (community.id, finished.number + 1, now, by))
    await tx.execute("UPDATE communities SET step = 1 WHERE id = ?", (community.id,))
    carried = await tx.all(
        "SELECT id, text, norm, created_by, created_at FROM problems p WHERE community_id = ? AND status = 'open'"
        " AND NOT EXISTS (SELECT 1 FROM step1_choices s WHERE s.problem_id = p.id) ORDER BY number", (archive_id,))
    for number, row in enumerate(carried, start=1):
        new_id = await tx.insert(
            "INSERT INTO problems (community_id, number, text, norm, created_by, created_at, carried_from)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (community.id, number, row["text"], row["norm"], row["created_by"], row["created_at"], row["id"]))
        await tx.execute("INSERT INTO problem_authors (problem_id, member_id)"
                         " SELECT ?, member_id FROM problem_authors WHERE problem_id = ?", (new_id, row["id"]))
    ended = await get(tx, community.id, finished.number)
    assert ended is not None
    return ended, await current(tx, community.id)


async def carried_over(tx: Tx, community_id: int) -> set[int]:
    """The ids of the current cycle's problems carried over from the last cycle."""
    rows = await tx.all("SELECT id FROM problems WHERE community_id = ? AND carried_from IS NOT NULL",
                        (community_id,))
    return {r[0] for r in rows}


async def change_answers(tx: Tx, data_id: int) -> list[str]:
    """The evaluation's "what to change" answers of a cycle (by its data id), as written, unsigned."""
    rows = await tx.all("SELECT e.change FROM evaluation_answers e JOIN ballots b ON b.id = e.ballot_id"
                        " WHERE b.community_id = ? AND b.kind = 'evaluation' AND e.change <> ''"
                        " ORDER BY b.id, e.rowid", (data_id,))
    return [r[0] for r in rows]


async def chosen_problem(tx: Tx, data_id: int) -> str | None:
    """The text of the problem a cycle chose to work on, if it chose one."""
    return await tx.scalar("SELECT p.text FROM step1_choices s JOIN problems p ON p.id = s.problem_id"
                           " WHERE s.community_id = ?", (data_id,))
