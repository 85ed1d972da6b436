"""Per-identity conversation state (what the bot is waiting for from whom)."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.models import Member
from bot.storage.db import Tx


async def identify(tx: Tx, channel: str, external_id: str) -> tuple[Member | None, str, dict[str, Any], str]:
    """The member behind a channel identity (None for a stranger), the conversation state and
    when it was last saved, in one read: this runs for every event."""
    row = await tx.one(
        "SELECT m.id, m.name, m.locale, m.active_community, m.last_seen_on, u.since AS unreachable_since,"
        " c.state, c.data, c.updated_at"
        " FROM (SELECT ? AS channel, ? AS external_id) AS k"
        " LEFT JOIN identities i ON i.channel = k.channel AND i.external_id = k.external_id"
        " LEFT JOIN members m ON m.id = i.member_id"
        " LEFT JOIN unreachable u ON u.channel = k.channel AND u.external_id = k.external_id"
        " LEFT JOIN conversations c ON c.channel = k.channel AND c.external_id = k.external_id",
        (channel, external_id))
    member = None if row["id"] is None else Member(row["id"], row["name"], row["locale"], row["active_community"],
                                                   row["last_seen_on"], row["unreachable_since"] is not None)
    if row["state"] is None:
        return member, "", {}, ""
    return member, row["state"], json.loads(row["data"]), row["updated_at"]


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
