"""Processed update ids (each update handled once) and where the bot's messages went."""

from __future__ import annotations

from bot.storage.db import Tx


async def claim(tx: Tx, channel: str, update_id: str, now: str) -> bool:
    """Record the update as processed; False when it already was (a duplicate delivery)."""
    changed = await tx.changed(
        "INSERT OR IGNORE INTO processed_updates (channel, update_id, processed_at) VALUES (?, ?, ?)",
        (channel, update_id, now),
    )
    return changed > 0


async def prune(tx: Tx, before: str) -> int:
    return await tx.changed("DELETE FROM processed_updates WHERE processed_at < ?", (before,))


async def remember_message(tx: Tx, channel: str, chat_id: str, tag: str, message_id: str) -> None:
    await tx.execute(
        "INSERT INTO message_refs (channel, chat_id, tag, message_id) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel, chat_id, tag) DO UPDATE SET message_id = excluded.message_id",
        (channel, chat_id, tag, message_id),
    )


async def tagged_message(tx: Tx, channel: str, chat_id: str, tag: str) -> str | None:
    """The id of the message last sent to the chat under ``tag`` (what an edit of it changes)."""
    return await tx.scalar("SELECT message_id FROM message_refs WHERE channel = ? AND chat_id = ? AND tag = ?",
                           (channel, chat_id, tag))


async def claim_tap(tx: Tx, channel: str, user_id: str, data: str, at: float, window: float) -> bool:
    """Record a button press; False when the same person pressed the same button within ``window`` s."""
    changed = await tx.changed(
        "INSERT INTO recent_taps (channel, user_id, data, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel, user_id, data) DO UPDATE SET at = excluded.at"
        " WHERE excluded.at - recent_taps.at >= ?",
        (channel, user_id, data, at, window))
    return changed > 0


async def prune_taps(tx: Tx, before: float) -> int:
    return await tx.changed("DELETE FROM recent_taps WHERE at < ?", (before,))
