"""Step 7: the members' evaluation answers."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Tx

FIELDS = ("goal", "rating", "again", "worked", "change")


@dataclass(frozen=True)
class Answers:
    goal: str | None
    rating: int | None
    again: bool | None
    worked: str
    change: str


async def answer(tx: Tx, ballot_id: int, member_id: int, field: str, value: object) -> None:
    """Record one answer (the others stay as they were)."""
    if field not in FIELDS:
        raise ValueError(field)
    await tx.execute(f"INSERT INTO evaluation_answers (ballot_id, member_id, {field}) VALUES (?, ?, ?)"
                     f" ON CONFLICT (ballot_id, member_id) DO UPDATE SET {field} = excluded.{field}",
                     (ballot_id, member_id, value))


async def of_member(tx: Tx, ballot_id: int, member_id: int) -> Answers | None:
    row = await tx.one("SELECT goal, rating, again, worked, change FROM evaluation_answers"
                       " WHERE ballot_id = ? AND member_id = ?", (ballot_id, member_id))
    return None if row is None else Answers(row[0], row[1], None if row[2] is None else bool(row[2]), row[3], row[4])


async def summary(tx: Tx, ballot_id: int) -> tuple[tuple[int, int, int], tuple[int, ...], tuple[int, int], int]:
    """(yes, partly, no), the count of each rating 1-5, (again yes, no), respondents."""
    rows = await tx.all("SELECT goal, rating, again FROM evaluation_answers WHERE ballot_id = ?", (ballot_id,))
    goal = tuple(sum(r[0] == g for r in rows) for g in ("yes", "partly", "no"))
    ratings = tuple(sum(r[1] == n for r in rows) for n in range(1, 6))
    again = (sum(r[2] == 1 for r in rows), sum(r[2] == 0 for r in rows))
    return goal, ratings, again, len(rows)  # type: ignore[return-value]


async def complete(tx: Tx, ballot_id: int) -> int:
    """How many answered all three questions (the others answered in part: only the first, say)."""
    return await tx.scalar("SELECT COUNT(*) FROM evaluation_answers WHERE ballot_id = ? AND goal IS NOT NULL"
                           " AND rating IS NOT NULL AND again IS NOT NULL", (ballot_id,))


async def texts(tx: Tx, ballot_id: int) -> tuple[list[str], list[str]]:
    """What worked and what to change, as written (no names: the facilitator reads them unsigned)."""
    rows = await tx.all("SELECT worked, change FROM evaluation_answers WHERE ballot_id = ? ORDER BY rowid", (ballot_id,))
    return [r[0] for r in rows if r[0]], [r[1] for r in rows if r[1]]
