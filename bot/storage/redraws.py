"""Views waiting for a redraw (see migration 008), so that a crash cannot leave one stale.

Each row is a ``View`` as versioned JSON (``View.to_json``). Rows stored before were keys
``"name:id"`` ("b:12"): they are read as the same view, and drawing the view removes them too,
as it removes the view's rows of another schema version."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.messages import Unreadable, View
from bot.storage.db import Tx

log = logging.getLogger(__name__)


async def want(tx: Tx, views: Iterable[View]) -> None:
    await tx.executemany("INSERT OR IGNORE INTO pending_redraws (view) VALUES (?)", [(v.to_json(),) for v in views])


async def drawing(tx: Tx, view: View) -> None:
    """The view is being drawn in this transaction: changes committed later ask again."""
    await tx.execute(
        "DELETE FROM pending_redraws WHERE view IN (?, ?) OR (view LIKE '{%' AND CASE WHEN json_valid(view)"
        " THEN json_extract(view, '$.name') = ? AND json_extract(view, '$.id') = ? END)",
        (view.to_json(), f"{view.name}:{view.id}", view.name, view.id))


async def pending(tx: Tx) -> list[View]:
    """The views waiting, each once (a row this version cannot read is left out, and logged)."""
    views: dict[View, None] = {}
    for (stored,) in await tx.all("SELECT view FROM pending_redraws ORDER BY view"):
        try:
            views.setdefault(View.from_json(stored))
        except Unreadable as exc:
            log.warning("a view waiting for a redraw cannot be read: %s", exc)
    return list(views)


async def forget_key(tx: Tx, view: View) -> bool:
    """Remove the view's row of the form stored before views were JSON ("b:12"), if any: only an
    older version wrote it. Its JSON rows stay (a newer version may have written them)."""
    return await tx.changed("DELETE FROM pending_redraws WHERE view = ?", (f"{view.name}:{view.id}",)) > 0
