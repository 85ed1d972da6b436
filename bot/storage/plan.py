"""Step 5: the action plan's tasks, the members who offer to do them, and the plan ballot's votes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.storage.db import Tx


@dataclass(frozen=True)
class Task:
    id: int
    number: int
    title: str
    start: date | None
    due: date | None
    resources: str
    owner_id: int | None
    owner: str            # the responsible member's name ("" nobody yet, or erased)
    volunteers: int
    created_by: int | None


_SELECT = ("SELECT t.id, t.number, t.title, t.start_on, t.due_on, t.resources, t.owner_id,"
           " COALESCE(m.name, '') AS owner, (SELECT COUNT(*) FROM task_volunteers v WHERE v.task_id = t.id),"
           " t.created_by FROM tasks t LEFT JOIN members m ON m.id = t.owner_id")


def _task(row) -> Task:
    return Task(row[0], row[1], row[2], date.fromisoformat(row[3]) if row[3] else None,
                date.fromisoformat(row[4]) if row[4] else None, row[5], row[6], row[7], row[8], row[9])


async def add(tx: Tx, community_id: int, problem_id: int, title: str, norm: str, start: date | None,
              due: date | None, resources: str, author: int, now: str) -> int:
    number = int(await tx.scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM tasks WHERE community_id = ?",
                                 (community_id,)))
    await tx.insert("INSERT INTO tasks (community_id, problem_id, number, title, norm, start_on, due_on, resources,"
                    " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (community_id, problem_id, number, title, norm, start.isoformat() if start else None,
                     due.isoformat() if due else None, resources, author, now))
    return number


async def of_problem(tx: Tx, problem_id: int) -> list[Task]:
    rows = await tx.all(_SELECT + " WHERE t.problem_id = ? AND t.status = 'open' ORDER BY t.number", (problem_id,))
    return [_task(r) for r in rows]


async def by_number(tx: Tx, problem_id: int, number: int) -> Task | None:
    row = await tx.one(_SELECT + " WHERE t.problem_id = ? AND t.number = ? AND t.status = 'open'", (problem_id, number))
    return None if row is None else _task(row)


async def same_title(tx: Tx, problem_id: int, norm: str) -> int | None:
    return await tx.scalar("SELECT number FROM tasks WHERE problem_id = ? AND norm = ? AND status = 'open'",
                           (problem_id, norm))


async def count_recent(tx: Tx, member_id: int, since: str) -> int:
    return int(await tx.scalar("SELECT COUNT(*) FROM tasks WHERE created_by = ? AND created_at >= ?",
                               (member_id, since)))


async def offer(tx: Tx, task_id: int, member_id: int, now: str) -> bool:
    """Offer to do the task; False when the member had offered already."""
    return await tx.changed("INSERT OR IGNORE INTO task_volunteers (task_id, member_id, at) VALUES (?, ?, ?)",
                            (task_id, member_id, now)) > 0


async def withdraw_offer(tx: Tx, task_id: int, member_id: int) -> bool:
    """Take the offer back; False when there was none."""
    return await tx.changed("DELETE FROM task_volunteers WHERE task_id = ? AND member_id = ?",
                            (task_id, member_id)) > 0


async def volunteers(tx: Tx, task_id: int) -> list[tuple[int, str]]:
    rows = await tx.all("SELECT m.id, COALESCE(m.name, '') FROM task_volunteers v JOIN members m ON m.id = v.member_id"
                        " WHERE v.task_id = ? ORDER BY v.at", (task_id,))
    return [(r[0], r[1]) for r in rows]


async def set_owner(tx: Tx, task_id: int, member_id: int) -> None:
    await tx.execute("UPDATE tasks SET owner_id = ? WHERE id = ?", (member_id, task_id))


async def set_dates(tx: Tx, task_id: int, start: date, due: date) -> None:
    await tx.execute("UPDATE tasks SET start_on = ?, due_on = ? WHERE id = ?", (start.isoformat(), due.isoformat(),
                                                                               task_id))


async def remove(tx: Tx, task_id: int) -> None:
    await tx.execute("UPDATE tasks SET status = 'removed' WHERE id = ?", (task_id,))


# --- the plan ballot -------------------------------------------------------------------------
async def vote(tx: Tx, ballot_id: int, member_id: int, approve: bool) -> None:
    await tx.execute("INSERT INTO plan_votes (ballot_id, member_id, approve) VALUES (?, ?, ?)"
                     " ON CONFLICT (ballot_id, member_id) DO UPDATE SET approve = excluded.approve",
                     (ballot_id, member_id, int(approve)))


async def vote_of(tx: Tx, ballot_id: int, member_id: int) -> bool | None:
    value = await tx.scalar("SELECT approve FROM plan_votes WHERE ballot_id = ? AND member_id = ?", (ballot_id, member_id))
    return None if value is None else bool(value)


async def tally(tx: Tx, ballot_id: int) -> tuple[int, int]:
    """(approve, not yet)."""
    row = await tx.one("SELECT COALESCE(SUM(approve), 0), COUNT(*) - COALESCE(SUM(approve), 0) FROM plan_votes"
                       " WHERE ballot_id = ?", (ballot_id,))
    return int(row[0]), int(row[1])
