"""Step 6: the responsible members' check-ins on their tasks, every one kept (a task's history)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Tx
from bot.storage.plan import _SELECT, Task, _task

STATUSES = ("done", "on_track", "late", "blocked")


@dataclass(frozen=True)
class Checkin:
    task_id: int
    status: str
    percent: int
    note: str
    photo: str | None
    at: str


def _checkin(row) -> Checkin:
    return Checkin(row["task_id"], row["status"], row["percent"], row["note"], row["photo"], row["at"])


async def add(tx: Tx, task_id: int, member_id: int, status: str, percent: int, note: str, photo: str | None,
              at: str) -> None:
    await tx.execute("INSERT INTO checkins (task_id, member_id, status, percent, note, photo, at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", (task_id, member_id, status, percent, note, photo, at))


async def history(tx: Tx, task_id: int) -> list[Checkin]:
    return [_checkin(r) for r in await tx.all("SELECT * FROM checkins WHERE task_id = ? ORDER BY id", (task_id,))]


async def latest(tx: Tx, task_ids: list[int]) -> dict[int, Checkin]:
    """Each task's latest check-in (a task nobody checked in on is left out)."""
    if not task_ids:
        return {}
    marks = ",".join("?" * len(task_ids))
    rows = await tx.all(f"SELECT c.* FROM checkins c WHERE c.id IN (SELECT MAX(id) FROM checkins"
                        f" WHERE task_id IN ({marks}) GROUP BY task_id)", task_ids)
    return {r["task_id"]: _checkin(r) for r in rows}


_NOT_DONE = ("COALESCE((SELECT c.status FROM checkins c WHERE c.task_id = t.id ORDER BY c.id DESC LIMIT 1), '')"
             " <> 'done'")


async def open_of_owner(tx: Tx, community_id: int, member_id: int) -> list[Task]:
    """The tasks a member is responsible for in the community and has not reported done."""
    rows = await tx.all(_SELECT + f" WHERE t.community_id = ? AND t.owner_id = ? AND t.status = 'open' AND {_NOT_DONE}"
                        " ORDER BY t.number", (community_id, member_id))
    return [_task(r) for r in rows]


async def task(tx: Tx, community_id: int, number: int) -> Task | None:
    row = await tx.one(_SELECT + " WHERE t.community_id = ? AND t.number = ? AND t.status = 'open'",
                       (community_id, number))
    return None if row is None else _task(row)


async def task_by_id(tx: Tx, task_id: int) -> Task | None:
    row = await tx.one(_SELECT + " WHERE t.id = ?", (task_id,))
    return None if row is None else _task(row)


async def task_status(tx: Tx, task_id: int) -> str:
    """'open' or 'removed'."""
    return str(await tx.scalar("SELECT status FROM tasks WHERE id = ?", (task_id,)) or "removed")


async def owned_open(tx: Tx, after: int = 0, limit: int = -1) -> list[tuple[int, Task]]:
    """The tasks with a responsible member, not taken off and not reported done, in the order of
    their ids from the first above ``after``, ``limit`` of them (-1: all): (community, task)."""
    rows = await tx.all(_SELECT.replace("SELECT ", "SELECT t.community_id AS cid, ", 1)
                        + f" WHERE t.owner_id IS NOT NULL AND t.status = 'open' AND {_NOT_DONE} AND t.id > ?"
                        " ORDER BY t.id LIMIT ?", (after, limit))
    return [(r["cid"], _task(tuple(r)[1:])) for r in rows]


async def last_activities(tx: Tx, first: int, last: int) -> dict[int, str]:
    """Task id → when its owner last checked in, or was last prompted to (a UTC instant),
    whichever is later, for the tasks with ids from ``first`` to ``last`` (none: not there)."""
    rows = await tx.all("SELECT task_id, MAX(at) FROM (SELECT task_id, MAX(at) AS at FROM checkins"
                        " WHERE task_id BETWEEN :a AND :b GROUP BY task_id UNION ALL SELECT task_id, MAX(due_at)"
                        " FROM reminders WHERE task_id BETWEEN :a AND :b AND kind = 'checkin' AND status = 'sent'"
                        " GROUP BY task_id) AS activity GROUP BY task_id", {"a": first, "b": last})
    return {r[0]: r[1] for r in rows if r[1] is not None}


async def left_by(tx: Tx, member_id: int) -> list[tuple[int, Task]]:
    """The open tasks a member is responsible for that erasing them leaves with nobody responsible
    (not those of a plan being voted on, which stays as voted): (community, task)."""
    rows = await tx.all(_SELECT.replace("SELECT ", "SELECT t.community_id AS cid, ", 1)
                        + " WHERE t.owner_id = ? AND t.status = 'open' AND NOT EXISTS (SELECT 1 FROM ballots b"
                        " WHERE b.community_id = t.community_id AND b.kind = 'plan' AND b.status = 'open')"
                        " ORDER BY t.id", (member_id,))
    return [(r["cid"], _task(tuple(r)[1:])) for r in rows]
