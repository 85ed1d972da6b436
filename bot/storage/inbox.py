"""The durable inbox: received updates, kept until handled."""

from __future__ import annotations

import json

from bot.storage.db import Tx


async def store(tx: Tx, channel: str, updates: list[tuple[str, str]], now: str) -> None:
    await tx.executemany("INSERT OR IGNORE INTO inbox (channel, update_id, payload, received_at) VALUES (?, ?, ?, ?)",
                         [(channel, update_id, payload, now) for update_id, payload in updates])


async def store_new(tx: Tx, channel: str, updates: list[tuple[str, str]], now: str) -> list[str]:
    """Store the updates neither waiting here nor handled before (``processed_updates``): a
    message delivered again is handled once. The ids stored, in order."""
    new = []
    for update_id, payload in updates:
        if await tx.changed("INSERT OR IGNORE INTO inbox (channel, update_id, payload, received_at)"
                            " SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM processed_updates"
                            " WHERE channel = ?1 AND update_id = ?2)", (channel, update_id, payload, now)):
            new.append(update_id)
    return new


async def pending(tx: Tx, channel: str) -> list[tuple[str, str]]:
    # Telegram's ids count up; WhatsApp's (wamid.…) do not: those in the order they arrived.
    # Sorted here, not by SQL's CAST: PostgreSQL refuses to cast a wamid to a number.
    rows = await tx.all("SELECT update_id, payload FROM inbox WHERE channel = ? ORDER BY rowid", (channel,))
    return sorted(((r[0], r[1]) for r in rows), key=_number)


def _number(row: tuple[str, str]) -> int:
    return int(row[0]) if row[0].isdigit() else 0


async def done(tx: Tx, channel: str, update_ids: list[str]) -> None:
    await tx.executemany("DELETE FROM inbox WHERE channel = ? AND update_id = ?", [(channel, u) for u in update_ids])


# --- several workers (PostgreSQL): each stored message names the worker that stored it --------
async def owners(tx: Tx, channel: str) -> set[int | None]:
    """The workers whose stored messages wait in the inbox (None: stored by no worker in
    particular, before several workers ran)."""
    rows = await tx.all("SELECT DISTINCT json_extract(payload, '$.worker') FROM inbox WHERE channel = ?", (channel,))
    return {None if r[0] is None else int(r[0]) for r in rows}


async def adopt(tx: Tx, channel: str, dead: set[int | None], me: int) -> list[tuple[str, str]]:
    """The messages the ``dead`` workers stored and did not handle become worker ``me``'s (their
    payloads name it now); they are returned in the order they arrived, to be handled."""
    rows = await tx.all("SELECT update_id, payload, json_extract(payload, '$.worker') FROM inbox WHERE channel = ?"
                        " ORDER BY rowid", (channel,))
    taken = []
    for update_id, payload, owner in rows:
        if (None if owner is None else int(owner)) not in dead:
            continue
        stored = json.loads(payload)
        stored["worker"] = me
        payload = json.dumps(stored, ensure_ascii=False)
        await tx.execute("UPDATE inbox SET payload = ? WHERE channel = ? AND update_id = ?",
                         (payload, channel, update_id))
        taken.append((update_id, payload))
    return taken
