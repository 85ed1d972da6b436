"""Per-identity conversation state (what the bot is waiting for from whom)."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.db import Tx


async def load(tx: Tx, channel: str, external_id: str) -> tuple[str, dict[str, Any]]:
    row = await tx.one(
        "SELECT state, data FROM conversations WHERE channel = ? AND external_id = ?", (channel, external_id)
    )
    if row is None:
        return "", {}
    return row["state"], json.loads(row["data"])


async def save(tx: Tx, channel: str, external_id: str, state: str, data: dict[str, Any], now: str) -> None:
    if not state:
        await tx.execute("DELETE FROM conversations WHERE channel = ? AND external_id = ?", (channel, external_id))
        return
    await tx.execute(
        "INSERT INTO conversations (channel, external_id, state, data, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (channel, external_id) DO UPDATE SET state = excluded.state, data = excluded.data,"
        " updated_at = excluded.updated_at",
        (channel, external_id, state, json.dumps(data, ensure_ascii=False, sort_keys=True), now),
    )
