"""The outbox: messages that must reach people even across a crash or a rate limit.

Several workers may send from one outbox (PostgreSQL), each chat's messages in order and one at
a time: a worker ``claim``s a batch of chat heads (each chat's oldest message) with a lease, its
id and an end (``leased_until``, epoch seconds), and only the holder sends, records or releases
a leased message. A chat's next message becomes its head only when the holder removes the head
(``sent``), after its send: so claiming the head claims the chat, and no two workers ever send to
one chat at once. A lease that ran out (its worker died) is claimed anew by any worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from bot.messages import Message, Unreadable
from bot.storage.db import Database, Tx


@dataclass(frozen=True)
class Queued:
    id: int
    message: Message | None  # None: this version cannot read it (``unreadable`` says why)
    attempts: int
    queued_at: float  # seconds since the epoch
    unreadable: str = ""
    sending_since: float | None = None  # a send of it began then (kept only for at-most-once messages)


async def add(tx: Tx, messages: list[Message], now: str,
              not_before: dict[tuple[str, str], float] | None = None) -> None:
    """Queue messages, to be sent in order per chat; a chat in ``not_before`` (epoch seconds, by
    (channel, chat_id)) not before then. An edit replaces the edits of the same message queued
    before it: only the newest drawing is worth a turn in the chat's queue."""
    wait = not_before or {}
    for message in messages:
        if message.edit and message.tag:
            await _drop_queued_edits(tx, message)
    await tx.executemany("INSERT INTO outbox (channel, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                         [(m.channel, m.chat_id, m.to_json(), now, wait.get((m.channel, m.chat_id), 0.0))
                          for m in messages])


async def _drop_queued_edits(tx: Tx, edit: Message) -> None:
    # Not one a worker holds: it may be on its way, and its chat's next message must not become
    # the head (another worker's to send) before that send is over.
    rows = await tx.all("SELECT id, payload FROM outbox WHERE channel = ? AND chat_id = ? AND leased_by IS NULL",
                        (edit.channel, edit.chat_id))
    older = [r[0] for r in rows if (m := _read(r[1])) is not None and m.edit and m.tag == edit.tag]
    await tx.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in older])


def _read(payload: str | bytes) -> Message | None:
    try:
        return Message.from_json(payload)
    except Unreadable:
        return None


_HEADS = "SELECT MIN(id) FROM outbox GROUP BY channel, chat_id"  # each chat's oldest message


async def due(tx: Tx, at: float, limit: int = 200) -> list[Queued]:
    """Each chat's oldest message, when it is due at ``at``; oldest first. A chat goes in order
    (its next message waits while the oldest waits out a failure), and a chat with a long backlog
    (a group after an outage) cannot fill the batch and hold back every other chat."""
    rows = await tx.all(f"SELECT id, payload, attempts, created_at, sending_since FROM outbox WHERE id IN ({_HEADS})"
                        " AND not_before <= ? ORDER BY id LIMIT ?", (at, limit))
    return [_queued(r[0], r[1], r[2], _epoch(r[3]), r[4]) for r in rows]


_CLAIM = ("UPDATE outbox SET leased_by = ?, leased_until = ? WHERE id IN ("
          f"SELECT id FROM outbox WHERE id IN ({_HEADS}) AND not_before <= ?"
          " AND (leased_until IS NULL OR leased_until <= ?) ORDER BY id LIMIT ?{lock})"
          " RETURNING id, payload, attempts, created_at, sending_since")
_CLAIM_SQLITE = _CLAIM.format(lock="")  # one process: nothing to lock against
_CLAIM_PG = _CLAIM.format(lock=" FOR UPDATE SKIP LOCKED")  # what another worker is claiming, it keeps


async def claim(tx: Tx, worker: str, at: float, until: float, limit: int = 200) -> list[Queued]:
    """Lease to ``worker`` until ``until`` the heads of the chats due at ``at`` that no live
    lease holds, oldest first (``due``'s choice), and return them. On PostgreSQL, run it with
    ``isolation="read committed"``: rows another claim is taking are skipped, not waited for,
    and one whose lease another claim took meanwhile is read again and left."""
    sql = _CLAIM_SQLITE if isinstance(tx, Tx) else _CLAIM_PG
    rows = await tx.all(sql, (worker, until, at, at, limit))
    return sorted((_queued(r[0], r[1], r[2], _epoch(r[3]), r[4]) for r in rows), key=lambda q: q.id)


async def renew(tx: Tx, worker: str, until: float) -> int:
    """Extend every lease ``worker`` holds to ``until``; how many it holds."""
    return await tx.changed("UPDATE outbox SET leased_until = ? WHERE leased_by = ?", (until, worker))


async def release(tx: Tx, worker: str | None, ids: list[int] | None = None) -> None:
    """Give up ``worker``'s leases (those of ``ids`` only, when given): another worker may take
    those chats at once. ``worker`` None: every lease (SQLite's one process, as it starts: what
    is leased was its predecessor's)."""
    if worker is None:
        await tx.execute("UPDATE outbox SET leased_by = NULL, leased_until = NULL WHERE leased_by IS NOT NULL")
    elif ids is None:
        await tx.execute("UPDATE outbox SET leased_by = NULL, leased_until = NULL WHERE leased_by = ?", (worker,))
    else:
        await tx.executemany("UPDATE outbox SET leased_by = NULL, leased_until = NULL WHERE id = ? AND leased_by = ?",
                             [(i, worker) for i in ids])


def shared(db: object) -> bool:
    """Whether other processes may send from this database's outbox: PostgreSQL's; a SQLite
    database is one process's (bot/storage/db.py)."""
    return not isinstance(db, Database)


def _queued(outbox_id: int, payload: str | bytes, attempts: int, queued_at: float,
            sending_since: float | None = None) -> Queued:
    try:
        return Queued(outbox_id, Message.from_json(payload), attempts, queued_at, sending_since=sending_since)
    except Unreadable as exc:  # written by a newer version (a chart this one does not know)
        return Queued(outbox_id, None, attempts, queued_at, unreadable=str(exc))


async def sending(tx: Tx, outbox_id: int, since: float) -> None:
    """Record that a send of an at-most-once message begins: if the process dies before
    ``sent``, the next one finds the mark and does not send it again."""
    await tx.execute("UPDATE outbox SET sending_since = ? WHERE id = ?", (since, outbox_id))


def _epoch(iso: str) -> float:
    at = datetime.fromisoformat(iso)
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


async def not_sent(tx: Tx, outbox_id: int) -> None:
    """The send marked by ``sending`` was refused (it did not go out): it may be tried again."""
    await tx.execute("UPDATE outbox SET sending_since = NULL WHERE id = ?", (outbox_id,))


async def sent(tx: Tx, ids: list[int]) -> None:
    """Remove messages: sent, undeliverable or expired."""
    await tx.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])


async def postpone(tx: Tx, outbox_id: int, not_before: float, failed: bool) -> None:
    """Try again later: the send failed (it did not go out), so a mark of ``sending`` is cleared,
    and the lease: whichever worker is free then takes it."""
    await tx.execute("UPDATE outbox SET not_before = ?, attempts = attempts + ?, sending_since = NULL,"
                     " leased_by = NULL, leased_until = NULL WHERE id = ?", (not_before, 1 if failed else 0, outbox_id))


async def holds(tx: Tx, channel: str, chat_id: str) -> bool:
    return await tx.scalar("SELECT 1 FROM outbox WHERE channel = ? AND chat_id = ? LIMIT 1", (channel, chat_id)) is not None


async def size(tx: Tx) -> int:
    return int(await tx.scalar("SELECT COUNT(*) FROM outbox"))


async def next_due(tx: Tx) -> float | None:
    """When a chat head is next due and free of leases (a worker's lease ends, at the latest)."""
    return await tx.scalar("SELECT MIN(max(not_before, COALESCE(leased_until, 0))) FROM outbox"
                           f" WHERE id IN ({_HEADS})")
