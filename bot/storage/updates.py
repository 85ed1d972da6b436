"""Processed update ids (each update handled once, its answer kept for a replay) and where the
bot's messages went."""

from __future__ import annotations

import logging

from bot.messages import Outcome, Unreadable
from bot.storage.db import Tx

log = logging.getLogger(__name__)


async def claim(tx: Tx, channel: str, update_id: str, now: str) -> bool:
    """Record the update as processed; False when it already was (a duplicate delivery)."""
    changed = await tx.changed(
        "INSERT OR IGNORE INTO processed_updates (channel, update_id, processed_at) VALUES (?, ?, ?)",
        (channel, update_id, now),
    )
    return changed > 0


async def keep_reply(tx: Tx, channel: str, update_id: str, outcome: Outcome) -> None:
    """Remember what the update was answered, should it be handled again (see migration 007)."""
    if outcome.replayable and (outcome.messages or outcome.toast or outcome.refresh):
        await tx.execute("UPDATE processed_updates SET reply = ? WHERE channel = ? AND update_id = ?",
                         (outcome.to_json(), channel, update_id))


async def replay(tx: Tx, channel: str, update_id: str) -> Outcome:
    """A duplicate's outcome: nothing done again, the first handling's answer given again."""
    reply = await tx.scalar("SELECT reply FROM processed_updates WHERE channel = ? AND update_id = ?",
                            (channel, update_id))
    if reply is None:
        return Outcome(duplicate=True)
    try:
        kept = Outcome.from_json(reply)
    except Unreadable as exc:  # kept by a version that knows more: the answer is lost, the action is not
        log.error("the answer kept for %s update %s cannot be read: %s", channel, update_id, exc)
        return Outcome(duplicate=True)
    kept.duplicate = True
    return kept


async def delivered(tx: Tx, channel: str, update_ids: list[str]) -> None:
    """The updates' answers went out: they are not kept any longer."""
    await tx.executemany("UPDATE processed_updates SET reply = NULL WHERE channel = ? AND update_id = ?"
                         " AND reply IS NOT NULL", [(channel, u) for u in update_ids])


async def forget_replies(tx: Tx, before: str | None = None, limit: int = 1000) -> int:
    """Drop kept answers: all of them, or (``before``) those of updates processed before then
    and no longer waiting in the inbox, at most ``limit`` at a time."""
    if before is None:
        return await tx.changed("UPDATE processed_updates SET reply = NULL WHERE reply IS NOT NULL")
    return await tx.changed(
        "UPDATE processed_updates SET reply = NULL WHERE rowid IN (SELECT p.rowid FROM processed_updates p"
        " WHERE p.reply IS NOT NULL AND p.processed_at < ? AND NOT EXISTS (SELECT 1 FROM inbox i"
        " WHERE i.channel = p.channel AND i.update_id = p.update_id) LIMIT ?)", (before, limit))


async def prune(tx: Tx, before: str) -> int:
    return await tx.changed("DELETE FROM processed_updates WHERE processed_at < ?", (before,))


async def remember_message(tx: Tx, channel: str, chat_id: str, tag: str, message_id: str,
                           drawn_at: float = 0.0, shown: str | None = None) -> None:
    """Where the message sent under ``tag`` went; ``shown``: a digest of what it shows."""
    await tx.execute(
        "INSERT INTO message_refs (channel, chat_id, tag, message_id, drawn_at, shown) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (channel, chat_id, tag) DO UPDATE SET message_id = excluded.message_id,"
        " drawn_at = excluded.drawn_at, shown = excluded.shown",
        (channel, chat_id, tag, message_id, drawn_at, shown),
    )


async def edit_target(tx: Tx, channel: str, chat_id: str, tag: str, drawn_at: float) -> tuple[str | None, bool]:
    """The id of the message last sent to the chat under ``tag`` (None: nothing yet), and whether
    a drawing made at ``drawn_at`` is the newest yet; if it is, it is noted as the one shown."""
    message_id, newest, _ = await view_target(tx, channel, chat_id, tag, drawn_at)
    return message_id, newest


async def view_target(tx: Tx, channel: str, chat_id: str, tag: str, drawn_at: float,
                      shown: str | None = None) -> tuple[str | None, bool, str | None]:
    """``edit_target``, and the digest of what the message showed (None: not known). A drawing
    noted as the newest notes ``shown`` too, the digest of what it is about to show (several
    workers: ``bot.delivery``; None: not known)."""
    row = await tx.one("SELECT message_id, drawn_at, shown FROM message_refs WHERE channel = ? AND chat_id = ?"
                       " AND tag = ?", (channel, chat_id, tag))
    if row is None:
        return None, False, None
    if drawn_at < row[1]:
        return row[0], False, row[2]
    await tx.execute("UPDATE message_refs SET drawn_at = ?, shown = ? WHERE channel = ? AND chat_id = ? AND tag = ?",
                     (drawn_at, shown, channel, chat_id, tag))
    return row[0], True, row[2]


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
