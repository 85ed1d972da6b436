"""Ballots of step 1 and their votes: stickers, matrix scores, pairwise answers, paper tallies."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.storage.db import Tx

KINDS = ("dots", "matrix", "pairwise", "election", "plan", "evaluation")


@dataclass(frozen=True)
class Ballot:
    id: int
    community_id: int
    kind: str
    status: str
    stickers: int
    per_option: int
    visibility: str
    closes_at: str | None
    paper_present: int
    turnout: int
    opened_at: str
    closed_at: str | None
    paper_meetings: int = 0        # in-person meetings whose stickers were added (/paper)
    check_code: str | None = None  # the check code shown when its result was last posted

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def _ballot(row) -> Ballot:
    return Ballot(row["id"], row["community_id"], row["kind"], row["status"], row["stickers"], row["per_option"],
                  row["visibility"], row["closes_at"], row["paper_present"], row["turnout"], row["opened_at"],
                  row["closed_at"], row["paper_meetings"], row["check_code"])


async def open_ballot(tx: Tx, community_id: int, kind: str, options: list[int], *, stickers: int,
                      per_option: int, visibility: str, closes_at: str | None, opened_by: int, now: str) -> Ballot:
    ballot_id = await tx.insert(
        "INSERT INTO ballots (community_id, kind, stickers, per_option, visibility, closes_at, opened_by, opened_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (community_id, kind, stickers, per_option, visibility, closes_at, opened_by, now))
    await tx.executemany("INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)",
                         [(ballot_id, p) for p in options])
    ballot = await get(tx, ballot_id)
    assert ballot is not None
    return ballot


async def get(tx: Tx, ballot_id: int) -> Ballot | None:
    row = await tx.one("SELECT * FROM ballots WHERE id = ?", (ballot_id,))
    return None if row is None else _ballot(row)


async def of_community(tx: Tx, community_id: int, status: str | None = None) -> list[Ballot]:
    if status is None:
        rows = await tx.all("SELECT * FROM ballots WHERE community_id = ? ORDER BY id", (community_id,))
    else:
        rows = await tx.all("SELECT * FROM ballots WHERE community_id = ? AND status = ? ORDER BY id",
                            (community_id, status))
    return [_ballot(r) for r in rows]


async def open_with_deadline(tx: Tx) -> list[Ballot]:
    rows = await tx.all("SELECT * FROM ballots WHERE status = 'open' AND closes_at IS NOT NULL ORDER BY closes_at")
    return [_ballot(r) for r in rows]


async def close(tx: Tx, ballot_id: int, now: str) -> bool:
    return await tx.changed("UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'",
                            (now, ballot_id)) > 0


async def options(tx: Tx, ballot_id: int) -> list[tuple[int, int]]:
    """(problem id, online sticker count) of the ballot's options that are still open problems."""
    rows = await tx.all(
        "SELECT o.problem_id, o.online FROM ballot_options o JOIN problems p ON p.id = o.problem_id"
        " WHERE o.ballot_id = ? AND p.status = 'open' ORDER BY p.number", (ballot_id,))
    return [(r[0], r[1]) for r in rows]


async def all_options(tx: Tx, ballot_id: int) -> list[int]:
    rows = await tx.all("SELECT problem_id FROM ballot_options WHERE ballot_id = ?", (ballot_id,))
    return [r[0] for r in rows]


# --- stickers ------------------------------------------------------------------------------
async def stickers_of(tx: Tx, ballot_id: int, member_id: int) -> dict[int, int]:
    rows = await tx.all("SELECT problem_id, count FROM dot_votes WHERE ballot_id = ? AND member_id = ?",
                        (ballot_id, member_id))
    return {r[0]: r[1] for r in rows}


async def set_stickers(tx: Tx, ballot_id: int, member_id: int, problem_id: int, count: int) -> None:
    if count == 0:
        await tx.execute("DELETE FROM dot_votes WHERE ballot_id = ? AND member_id = ? AND problem_id = ?",
                         (ballot_id, member_id, problem_id))
    elif not await tx.changed("UPDATE dot_votes SET count = ? WHERE ballot_id = ? AND member_id = ? AND problem_id = ?",
                              (count, ballot_id, member_id, problem_id)):
        # An upsert would run the INSERT guard, which counts the row being replaced twice.
        await tx.execute("INSERT INTO dot_votes (ballot_id, member_id, problem_id, count) VALUES (?, ?, ?, ?)",
                         (ballot_id, member_id, problem_id, count))


async def all_stickers(tx: Tx, ballot_id: int) -> dict[int, dict[int, int]]:
    ballots: dict[int, dict[int, int]] = {}
    for row in await tx.all("SELECT member_id, problem_id, count FROM dot_votes WHERE ballot_id = ?", (ballot_id,)):
        ballots.setdefault(row[0], {})[row[1]] = row[2]
    return ballots


async def add_paper(tx: Tx, ballot_id: int, present: int, counts: dict[int, int]) -> None:
    """One more in-person meeting: its people and its stickers are added to the earlier ones."""
    await tx.execute("UPDATE ballots SET paper_present = paper_present + ?, paper_meetings = paper_meetings + 1"
                     " WHERE id = ?", (present, ballot_id))
    await tx.executemany("INSERT INTO paper_tallies (ballot_id, problem_id, count) VALUES (?, ?, ?)"
                         " ON CONFLICT (ballot_id, problem_id) DO UPDATE SET count = paper_tallies.count + excluded.count",
                         [(ballot_id, p, c) for p, c in counts.items()])


async def set_check_code(tx: Tx, ballot_id: int, code: str) -> None:
    await tx.execute("UPDATE ballots SET check_code = ? WHERE id = ?", (code, ballot_id))


async def paper(tx: Tx, ballot_id: int) -> dict[int, int]:
    rows = await tx.all("SELECT problem_id, count FROM paper_tallies WHERE ballot_id = ?", (ballot_id,))
    return {r[0]: r[1] for r in rows}


# --- matrix --------------------------------------------------------------------------------
async def set_score(tx: Tx, ballot_id: int, member_id: int, problem_id: int, a: int, b: int) -> None:
    await tx.execute(
        "INSERT INTO matrix_votes (ballot_id, member_id, problem_id, a, b) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (ballot_id, member_id, problem_id) DO UPDATE SET a = excluded.a, b = excluded.b",
        (ballot_id, member_id, problem_id, a, b))


async def scores_of(tx: Tx, ballot_id: int, member_id: int) -> dict[int, tuple[int, int]]:
    rows = await tx.all("SELECT problem_id, a, b FROM matrix_votes WHERE ballot_id = ? AND member_id = ?",
                        (ballot_id, member_id))
    return {r[0]: (r[1], r[2]) for r in rows}


async def all_scores(tx: Tx, ballot_id: int) -> dict[int, dict[int, tuple[int, int]]]:
    scores: dict[int, dict[int, tuple[int, int]]] = {}
    for row in await tx.all("SELECT member_id, problem_id, a, b FROM matrix_votes WHERE ballot_id = ?", (ballot_id,)):
        scores.setdefault(row[0], {})[row[1]] = (row[2], row[3])
    return scores


# --- pairwise ------------------------------------------------------------------------------
async def plan(tx: Tx, ballot_id: int, member_id: int) -> list[tuple[int, int]] | None:
    text = await tx.scalar("SELECT pairs FROM pairwise_plans WHERE ballot_id = ? AND member_id = ?",
                           (ballot_id, member_id))
    return None if text is None else [tuple(p) for p in json.loads(text)]


async def save_plan(tx: Tx, ballot_id: int, member_id: int, pairs: list[tuple[int, int]]) -> None:
    await tx.execute("INSERT OR IGNORE INTO pairwise_plans (ballot_id, member_id, pairs) VALUES (?, ?, ?)",
                     (ballot_id, member_id, json.dumps([list(p) for p in pairs])))


async def set_answer(tx: Tx, ballot_id: int, member_id: int, low: int, high: int, winner: int) -> None:
    await tx.execute(
        "INSERT INTO pairwise_votes (ballot_id, member_id, low_id, high_id, winner_id) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (ballot_id, member_id, low_id, high_id) DO UPDATE SET winner_id = excluded.winner_id",
        (ballot_id, member_id, low, high, winner))


async def answers_of(tx: Tx, ballot_id: int, member_id: int) -> dict[tuple[int, int], int]:
    rows = await tx.all("SELECT low_id, high_id, winner_id FROM pairwise_votes WHERE ballot_id = ? AND member_id = ?",
                        (ballot_id, member_id))
    return {(r[0], r[1]): r[2] for r in rows}


async def all_answers(tx: Tx, ballot_id: int) -> dict[int, dict[tuple[int, int], int]]:
    answers: dict[int, dict[tuple[int, int], int]] = {}
    for row in await tx.all("SELECT member_id, low_id, high_id, winner_id FROM pairwise_votes WHERE ballot_id = ?",
                            (ballot_id,)):
        answers.setdefault(row[0], {})[(row[1], row[2])] = row[3]
    return answers


# --- elections (step 2) ---------------------------------------------------------------------
async def open_election(tx: Tx, community_id: int, nominations: list[int], *, seats: int, visibility: str,
                        closes_at: str | None, opened_by: int, now: str) -> Ballot:
    ballot = await open_ballot(tx, community_id, "election", [], stickers=seats, per_option=1,
                               visibility=visibility, closes_at=closes_at, opened_by=opened_by, now=now)
    await tx.executemany("INSERT INTO election_options (ballot_id, nomination_id) VALUES (?, ?)",
                         [(ballot.id, n) for n in nominations])
    return ballot


async def candidates(tx: Tx, ballot_id: int) -> list[tuple[int, int]]:
    """(nomination id, online approvals) of the election's candidates."""
    rows = await tx.all("SELECT nomination_id, online FROM election_options WHERE ballot_id = ? ORDER BY nomination_id",
                        (ballot_id,))
    return [(r[0], r[1]) for r in rows]


async def approvals_of(tx: Tx, ballot_id: int, member_id: int) -> set[int]:
    rows = await tx.all("SELECT nomination_id FROM election_votes WHERE ballot_id = ? AND member_id = ?",
                        (ballot_id, member_id))
    return {r[0] for r in rows}


async def set_approval(tx: Tx, ballot_id: int, member_id: int, nomination_id: int, approved: bool) -> None:
    if approved:
        await tx.execute("INSERT INTO election_votes (ballot_id, member_id, nomination_id) VALUES (?, ?, ?)",
                         (ballot_id, member_id, nomination_id))
    else:
        await tx.execute("DELETE FROM election_votes WHERE ballot_id = ? AND member_id = ? AND nomination_id = ?",
                         (ballot_id, member_id, nomination_id))


async def all_approvals(tx: Tx, ballot_id: int) -> dict[int, set[int]]:
    approvals: dict[int, set[int]] = {}
    for row in await tx.all("SELECT member_id, nomination_id FROM election_votes WHERE ballot_id = ?", (ballot_id,)):
        approvals.setdefault(row[0], set()).add(row[1])
    return approvals


async def voters(tx: Tx, ballot: Ballot) -> int:
    """How many members have voted (turnout; never who)."""
    if ballot.kind in ("dots", "election", "plan", "evaluation"):
        return ballot.turnout
    table = "matrix_votes" if ballot.kind == "matrix" else "pairwise_votes"
    return int(await tx.scalar(f"SELECT COUNT(DISTINCT member_id) FROM {table} WHERE ballot_id = ?", (ballot.id,)))


VOTE_TABLES = {"dots": "dot_votes", "matrix": "matrix_votes", "pairwise": "pairwise_votes",
               "election": "election_votes", "plan": "plan_votes", "evaluation": "evaluation_answers"}


async def has_voted(tx: Tx, ballot: Ballot, member_id: int) -> bool:
    table = VOTE_TABLES[ballot.kind]
    return await tx.one(f"SELECT 1 FROM {table} WHERE ballot_id = ? AND member_id = ? LIMIT 1",
                        (ballot.id, member_id)) is not None
