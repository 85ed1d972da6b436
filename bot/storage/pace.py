"""Sending slots, 429 holds, view redraws and what a message shows, shared by several workers on
one PostgreSQL database (migration 024). SQLite's one process keeps all of it in memory
(``bot.pacing.Pacer``, ``bot.delivery.EditThrottle``, ``Delivery._shown``) and never calls this
module.

**One statement per reservation, at READ COMMITTED.** A send reserves its slot with one call of
``pace_take`` (a PL/pgSQL function of migration 024), made on a pooled connection outside any
explicit transaction, not through ``PgDatabase.atomic``: a reservation touches two rows every
send of the channel touches (the channel's row, the chat's row), so under SERIALIZABLE concurrent
reservations would fail and be run again, one after the other, with growing pauses. At READ
COMMITTED the function instead locks the channel's row, then the chat's (always in that order: no
deadlock), reads what the reservation before it committed (a row lock waits for it), books the
slot and commits: reservations from every worker queue on the channel's row for the few
microseconds each holds it, and none is ever run again. One round trip a send. Times are the
server's clock (``clock_timestamp()``), returned as seconds from now: workers' clocks need not
agree, and each waits with its own. READ COMMITTED is PostgreSQL's default for a statement
outside a transaction; on a server whose default is stricter, a reservation that fails to
serialize is made again (``_row``).

A view's redraw is claimed the same way (``view_claim``): one statement, a row per view.

The rows: one per channel (``chat_id = ''``: its next slot, its slots of the last second, a 429
for the whole channel) and one per chat sent to lately (its next message, a 429's hold); ``prune``
drops those whose times are long past (the scheduler's prune, every sweep).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import asyncpg

KEPT = 60.0  # seconds a chat's row is kept after its times are past
CLAIMS_KEPT = 3600.0  # seconds a view's claim is kept
# The channel's cap holds in any WINDOW seconds of reserved slots: a second, and the few
# milliseconds by which one worker's send may leave later after its slot than another's.
WINDOW = 1.05


@dataclass(frozen=True)
class Reservation:
    """What ``pace_take`` answered, in seconds from the server's now: ``slot`` until the slot
    reserved (None: none was, the chat or the channel is not ready), and how long the chat's
    interval, the chat's 429 hold and the channel's 429 hold still run (≤ 0: over)."""

    slot: float | None
    chat_next: float
    chat_held: float
    paused: float


@dataclass(frozen=True)
class Claim:
    """What ``view_claim`` answered: ``won``, the claim standing (epoch seconds of the server's
    clock; this one if won) and the server's time then."""

    won: bool
    claimed_at: float
    now: float


class SharedPace:
    """One channel's slots in the database, for ``bot.pacing.Pacer`` (``Pacer.shared``)."""

    def __init__(self, db: Any, channel: str) -> None:
        self.db = db  # a PgDatabase
        self.channel = channel
        self.reserved = 0  # calls of pace_take (for benchmarks)

    async def _row(self, sql: str, *args: Any) -> Any:
        for attempt in range(20):
            try:
                async with self.db.connection() as conn:
                    return await conn.fetchrow(sql, *args)
            except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
                if attempt == 19:
                    raise
                await asyncio.sleep(0.001 * (attempt + 1))

    async def _execute(self, sql: str, *args: Any) -> None:
        async with self.db.connection() as conn:
            await conn.execute(sql, *args)

    async def take(self, chat_id: str, *, interval: float, spacing: float, cap: int | None, catch_up: float,
                   own: bool) -> Reservation:
        """Reserve the next slot for one message to ``chat_id`` (see ``pace_take``): ``interval``
        the chat's next message waits after it; ``spacing``, ``cap`` (in any ``WINDOW`` seconds),
        ``catch_up`` the channel's pacing; ``own``: an edit answering the member's own tap (no
        overall slot, no interval)."""
        self.reserved += 1
        row = await self._row("SELECT slot, chat_next, chat_held, paused FROM pace_take($1, $2, $3, $4, $5, $6, $7, $8)",
                              self.channel, chat_id, float(interval), float(spacing),
                              0 if cap is None else int(cap), WINDOW, float(catch_up), own)
        return Reservation(row["slot"], row["chat_next"], row["chat_held"], row["paused"])

    async def hold(self, chat_id: str, seconds: float, everywhere: bool = False) -> None:
        """A 429: nothing to ``chat_id`` (``everywhere``: to any chat of the channel) for ``seconds``,
        whichever worker sends it."""
        await self._execute(
            "INSERT INTO pace AS p (channel, chat_id, held_until)"
            " SELECT $1, c, extract(epoch FROM clock_timestamp()) + $3 FROM unnest($2::text[]) AS c"
            " ON CONFLICT (channel, chat_id) DO UPDATE SET held_until = greatest(p.held_until, excluded.held_until)",
            self.channel, [chat_id, ""] if everywhere else [chat_id], float(seconds))

    async def done(self, chat_id: str, interval: float) -> None:
        """A message to ``chat_id`` was answered late: its next one waits ``interval`` from now."""
        await self._execute(
            "UPDATE pace SET next_at = greatest(next_at, extract(epoch FROM clock_timestamp()) + $3)"
            " WHERE channel = $1 AND chat_id = $2", self.channel, chat_id, float(interval))


async def claim_view(db: Any, view: str, interval: float) -> Claim:
    """Claim the redraw of ``view`` unless a worker claimed it within ``interval`` seconds."""
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT won, claimed_at, now_ FROM view_claim($1, $2)", view, float(interval))
    return Claim(row["won"], row["claimed_at"], row["now_"])


async def prune(tx: Any) -> None:
    """Forget the chats whose interval and hold ended over ``KEPT`` seconds ago (a member's chat
    id is kept no longer than that after the bot's last message to it), and claims of views older
    than ``CLAIMS_KEPT``: the scheduler's prune, in its unit of work, every sweep. SQLite paces
    in memory: nothing to forget there."""
    from bot.storage.db import Tx

    if isinstance(tx, Tx):
        return
    await tx.execute("DELETE FROM pace WHERE chat_id <> '' AND greatest(next_at, held_until)"
                     " < extract(epoch FROM clock_timestamp()) - ?", (KEPT,))
    await tx.execute("DELETE FROM view_claims WHERE claimed_at < extract(epoch FROM clock_timestamp()) - ?",
                     (CLAIMS_KEPT,))


async def note_shown(db: Any, channel: str, chat_id: str, tag: str, message_id: str, drawn_at: float,
                     shown: str | None) -> None:
    """The edit drawn at ``drawn_at`` showed ``shown`` (a ``digest``; None: not known, it
    failed) — if no newer drawing was noted meanwhile (another worker is sending it), else what
    the message shows is not known (NULL) and no redraw is skipped for it. One statement outside
    a unit of work: one round trip, not three."""
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE message_refs SET shown = CASE WHEN drawn_at = $1 THEN $2 END"
            " WHERE channel = $3 AND chat_id = $4 AND tag = $5 AND message_id = $6",
            drawn_at, shown, channel, chat_id, tag, message_id)


def digest(text: str, buttons: Any) -> str:
    """What a message shows, in a few bytes (``message_refs.shown``)."""
    return hashlib.blake2b(repr((text, buttons)).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
