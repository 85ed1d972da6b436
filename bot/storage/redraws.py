"""Views waiting for a redraw (see migration 008), so that a crash cannot leave one stale."""

from __future__ import annotations

from collections.abc import Iterable

from bot.storage.db import Tx


async def want(tx: Tx, views: Iterable[str]) -> None:
    await tx.executemany("INSERT OR IGNORE INTO pending_redraws (view) VALUES (?)", [(v,) for v in views])


async def drawing(tx: Tx, view: str) -> None:
    """The view is being drawn in this transaction: changes committed later ask again."""
    await tx.execute("DELETE FROM pending_redraws WHERE view = ?", (view,))


async def pending(tx: Tx) -> list[str]:
    return [r[0] for r in await tx.all("SELECT view FROM pending_redraws ORDER BY view")]
