"""The durable inbox: received updates, kept until handled."""

from __future__ import annotations

from bot.storage.db import Tx


async def store(tx: Tx, channel: str, updates: list[tuple[str, str]], now: str) -> None:
    await tx.executemany("INSERT OR IGNORE INTO inbox (channel, update_id, payload, received_at) VALUES (?, ?, ?, ?)",
                         [(channel, update_id, payload, now) for update_id, payload in updates])


async def pending(tx: Tx, channel: str) -> list[tuple[str, str]]:
    # Telegram's ids count up; WhatsApp's (wamid.…) do not: those in the order they arrived
    rows = await tx.all("SELECT update_id, payload FROM inbox WHERE channel = ?"
                        " ORDER BY CAST(update_id AS INTEGER), rowid", (channel,))
    return [(r[0], r[1]) for r in rows]


async def done(tx: Tx, channel: str, update_ids: list[str]) -> None:
    await tx.executemany("DELETE FROM inbox WHERE channel = ? AND update_id = ?", [(channel, u) for u in update_ids])
