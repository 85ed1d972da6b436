"""The append-only audit log, kept as a hash chain so that any edit, deletion or reordering shows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.storage.db import Tx

GENESIS = "0" * 64


def entry_hash(prev_hash: str, at: str, community_id: int | None, actor_id: int | None,
               action: str, detail: str) -> str:
    canonical = json.dumps([prev_hash, at, community_id, actor_id, action, detail],
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def append(tx: Tx, now: str, action: str, *, community_id: int | None = None,
                 actor_id: int | None = None, **detail: Any) -> str:
    prev = await tx.scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1") or GENESIS
    detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = entry_hash(prev, now, community_id, actor_id, action, detail_text)
    await tx.execute(
        "INSERT INTO audit_log (at, community_id, actor_id, action, detail, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, community_id, actor_id, action, detail_text, prev, digest),
    )
    return digest


async def head(tx: Tx) -> str:
    return await tx.scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1") or GENESIS


@dataclass(frozen=True)
class Broken:
    entry_id: int
    reason: str


async def verify(tx: Tx, page: int = 5000) -> Broken | None:
    """Recompute the chain; the first entry that does not fit, or None when all do. Read
    ``page`` entries at a time, so a long log takes no more memory than a short one."""
    prev, last = GENESIS, None
    while True:
        rows = await (tx.all("SELECT * FROM audit_log ORDER BY id LIMIT ?", (page,)) if last is None else
                      tx.all("SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", (last, page)))
        for row in rows:
            if row["prev_hash"] != prev:
                return Broken(row["id"], "previous hash does not match (an entry was removed or moved)")
            expected = entry_hash(prev, row["at"], row["community_id"], row["actor_id"], row["action"], row["detail"])
            if row["hash"] != expected:
                return Broken(row["id"], "content does not match its hash (the entry was edited)")
            prev = row["hash"]
        if len(rows) < page:
            return None
        last = rows[-1]["id"]


async def has_hash(tx: Tx, prefix: str) -> bool:
    """Whether an entry's hash starts with ``prefix`` (a head hash once posted to a group)."""
    return await tx.scalar("SELECT 1 FROM audit_log WHERE hash LIKE ? || '%' LIMIT 1", (prefix.lower(),)) is not None
