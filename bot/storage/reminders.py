"""Step 6: reminders as rows (each occurrence keyed, marked sent with its messages), each
community's reminder settings, members' mutes and who was seen in a linked group."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.ballots import VOTE_TABLES, Ballot, _ballot
from bot.storage.db import Tx

KINDS = ("closing", "opened", "due", "overdue", "checkin", "digest")


@dataclass(frozen=True)
class Settings:
    digest_day: int = 0
    digest_time: str = "10:00"
    checkin_days: int = 7
    quiet_from: str = "22:00"
    quiet_to: str = "08:00"
    off: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reminder:
    id: int
    key: str
    community_id: int
    kind: str
    ballot_id: int | None
    task_id: int | None
    due_at: str


async def settings(tx: Tx, community_id: int) -> Settings:
    row = await tx.one("SELECT * FROM reminder_settings WHERE community_id = ?", (community_id,))
    if row is None:
        return Settings()
    return Settings(row["digest_day"], row["digest_time"], row["checkin_days"], row["quiet_from"], row["quiet_to"],
                    frozenset(k for k in row["off_kinds"].split(",") if k))


async def save_settings(tx: Tx, community_id: int, s: Settings) -> None:
    await tx.execute("INSERT INTO reminder_settings (community_id, digest_day, digest_time, checkin_days, quiet_from,"
                     " quiet_to, off_kinds) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community_id) DO UPDATE SET"
                     " digest_day = excluded.digest_day, digest_time = excluded.digest_time,"
                     " checkin_days = excluded.checkin_days, quiet_from = excluded.quiet_from,"
                     " quiet_to = excluded.quiet_to, off_kinds = excluded.off_kinds",
                     (community_id, s.digest_day, s.digest_time, s.checkin_days, s.quiet_from, s.quiet_to,
                      ",".join(sorted(s.off))))


# --- occurrences -----------------------------------------------------------------------------
async def plan(tx: Tx, key: str, community_id: int, kind: str, due_at: str, *, ballot_id: int | None = None,
               task_id: int | None = None, status: str = "pending") -> bool:
    """Plan one occurrence; False when it was planned (or sent) before."""
    return await tx.changed("INSERT OR IGNORE INTO reminders (key, community_id, kind, ballot_id, task_id, due_at,"
                            " status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (key, community_id, kind, ballot_id, task_id, due_at, status)) > 0


async def has_pending(tx: Tx, kind: str, *, task_id: int | None = None, community_id: int | None = None) -> bool:
    if task_id is not None:
        sql, arg = "task_id = ?", task_id
    else:
        sql, arg = "community_id = ?", community_id
    return await tx.one(f"SELECT 1 FROM reminders WHERE {sql} AND kind = ? AND status = 'pending' LIMIT 1",
                        (arg, kind)) is not None


async def task_keys(tx: Tx, first: int, last: int) -> set[str]:
    """The keys of every occurrence planned for a task still open with an id from ``first`` to
    ``last`` (so a sweep plans only what is new)."""
    rows = await tx.all("SELECT r.key FROM reminders r JOIN tasks t ON t.id = r.task_id WHERE t.status = 'open'"
                        " AND r.task_id BETWEEN ? AND ?", (first, last))
    return {r[0] for r in rows}


async def pending_tasks(tx: Tx, kind: str, first: int, last: int) -> set[int]:
    """The tasks with ids from ``first`` to ``last`` that have an occurrence of ``kind`` waiting to be sent."""
    # "+status": by the task index (the range of a page), not by the pending one (every pending row)
    rows = await tx.all("SELECT DISTINCT task_id FROM reminders WHERE task_id BETWEEN ? AND ? AND +status = 'pending'"
                        " AND kind = ?", (first, last, kind))
    return {r[0] for r in rows}


async def pending_communities(tx: Tx, kind: str) -> set[int]:
    """The communities with an occurrence of ``kind`` waiting to be sent."""
    rows = await tx.all("SELECT DISTINCT community_id FROM reminders WHERE status = 'pending' AND kind = ?", (kind,))
    return {r[0] for r in rows}


async def due(tx: Tx, now: str, limit: int) -> list[Reminder]:
    rows = await tx.all("SELECT * FROM reminders WHERE status = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                        (now, limit))
    return [Reminder(r["id"], r["key"], r["community_id"], r["kind"], r["ballot_id"], r["task_id"], r["due_at"])
            for r in rows]


async def begin_one(tx: Tx) -> None:
    """A savepoint around one occurrence's sending, so a failing one is undone alone."""
    await tx.execute("SAVEPOINT reminder")


async def end_one(tx: Tx, *, undo: bool) -> None:
    if undo:
        await tx.execute("ROLLBACK TO reminder")
    await tx.execute("RELEASE reminder")


async def delay(tx: Tx, reminder_id: int, until: str) -> None:
    """Hold a due occurrence until ``until`` (the end of the quiet hours)."""
    await tx.execute("UPDATE reminders SET due_at = ? WHERE id = ? AND status = 'pending'", (until, reminder_id))


async def mark(tx: Tx, reminder_id: int, status: str, sent_to: int, now: str) -> None:
    await tx.execute("UPDATE reminders SET status = ?, sent_to = ?, done_at = ? WHERE id = ?",
                     (status, sent_to, now, reminder_id))


async def forget_pending(tx: Tx, kind: str, *, task_id: int | None = None, community_id: int | None = None) -> None:
    """Drop planned occurrences not yet sent (they are planned again from the new state)."""
    if task_id is not None:
        await tx.execute("DELETE FROM reminders WHERE task_id = ? AND kind = ? AND status = 'pending'", (task_id, kind))
    else:
        await tx.execute("DELETE FROM reminders WHERE community_id = ? AND kind = ? AND status = 'pending'",
                         (community_id, kind))


async def cancel_task(tx: Tx, task_id: int, now: str) -> None:
    """A done task leaves the reminders."""
    await tx.execute("UPDATE reminders SET status = 'skipped', done_at = ? WHERE task_id = ? AND status = 'pending'",
                     (now, task_id))


# --- who ---------------------------------------------------------------------------------------
async def open_ballots(tx: Tx) -> list[Ballot]:
    return [_ballot(r) for r in await tx.all("SELECT * FROM ballots WHERE status = 'open' ORDER BY id")]


async def non_voters(tx: Tx, ballot: Ballot, *, but_opener: bool = False) -> list[int]:
    """The community's members who have not voted in the ballot (and, ``but_opener``, did not open it)."""
    table = VOTE_TABLES[ballot.kind]
    opener = " AND m.member_id IS NOT (SELECT opened_by FROM ballots WHERE id = :b)" if but_opener else ""
    rows = await tx.all(f"SELECT m.member_id FROM memberships m WHERE m.community_id = :c AND NOT EXISTS"
                        f" (SELECT 1 FROM {table} v WHERE v.ballot_id = :b AND v.member_id = m.member_id){opener}"
                        " ORDER BY m.member_id", {"c": ballot.community_id, "b": ballot.id})
    return [r[0] for r in rows]


async def seen_in_group(tx: Tx, channel: str, chat_id: str, member_id: int) -> None:
    await tx.execute("INSERT OR IGNORE INTO group_presence (community_id, member_id) SELECT community_id, ?"
                     " FROM group_links WHERE channel = ? AND chat_id = ?", (member_id, channel, chat_id))


async def outside_groups(tx: Tx, community_id: int) -> set[int]:
    """Members never seen in one of the community's linked groups (all of them when none is linked),
    and those on a channel the community has no group on (e.g. WhatsApp members of a Telegram group)."""
    rows = await tx.all(
        "SELECT m.member_id FROM memberships m WHERE m.community_id = ? AND ("
        " NOT EXISTS (SELECT 1 FROM group_presence p WHERE p.community_id = m.community_id"
        "  AND p.member_id = m.member_id)"
        " OR NOT EXISTS (SELECT 1 FROM identities i JOIN group_links g ON g.channel = i.channel"
        "  AND g.community_id = m.community_id WHERE i.member_id = m.member_id))", (community_id,))
    return {r[0] for r in rows}


async def off_group_channel(tx: Tx, community_id: int) -> list[int]:
    """Members with no identity on a channel the community has a linked group on (they get the
    group's posts in private)."""
    rows = await tx.all(
        "SELECT m.member_id FROM memberships m WHERE m.community_id = ? AND EXISTS (SELECT 1 FROM group_links"
        " WHERE community_id = m.community_id) AND NOT EXISTS (SELECT 1 FROM identities i JOIN group_links g"
        " ON g.channel = i.channel AND g.community_id = m.community_id WHERE i.member_id = m.member_id)",
        (community_id,))
    return [r[0] for r in rows]


async def kmut(tx: Tx, community_id: int) -> list[int]:
    """The ҚМҰТ's members; the facilitators while none is elected."""
    rows = await tx.all("SELECT member_id FROM memberships WHERE community_id = ? AND kmut = 1 ORDER BY member_id",
                        (community_id,))
    if rows:
        return [r[0] for r in rows]
    rows = await tx.all("SELECT member_id FROM memberships WHERE community_id = ? AND role = 'facilitator'"
                        " ORDER BY member_id", (community_id,))
    return [r[0] for r in rows]


async def planned_communities(tx: Tx) -> list[int]:
    """Communities with a plan (open tasks): they get the weekly digest."""
    rows = await tx.all("SELECT DISTINCT community_id FROM tasks WHERE status = 'open' ORDER BY community_id")
    return [r[0] for r in rows]


# --- mutes -------------------------------------------------------------------------------------
async def mute(tx: Tx, member_id: int, until: str) -> None:
    await tx.execute("INSERT INTO mutes (member_id, until) VALUES (?, ?) ON CONFLICT (member_id) DO UPDATE"
                     " SET until = excluded.until", (member_id, until))


async def unmute(tx: Tx, member_id: int) -> bool:
    return await tx.changed("DELETE FROM mutes WHERE member_id = ?", (member_id,)) > 0


async def muted_until(tx: Tx, member_id: int) -> str | None:
    return await tx.scalar("SELECT until FROM mutes WHERE member_id = ?", (member_id,))


# --- the plan's approval -------------------------------------------------------------------------
async def approval(tx: Tx, community_id: int) -> tuple[str, bool] | None:
    """(when the members last approved the plan, changed since?), None if never approved."""
    row = await tx.one("SELECT approved_at, changed FROM plan_approvals WHERE community_id = ?", (community_id,))
    return None if row is None else (row[0], bool(row[1]))
