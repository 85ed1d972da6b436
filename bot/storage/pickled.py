"""Rows an earlier version pickled (outbox messages, kept answers), rewritten once as JSON.

``Database.migrate`` runs ``rewrite`` after the migrations, so a database written before the
message contract became JSON (``bot.messages``) still delivers what it queued and replays what it
kept. Only the classes of that contract, the registered chart renderers and row types and
``datetime.date`` are let out of a pickle: anything else it names is refused, not imported or
called, and its row dropped with an error in the log.
"""

from __future__ import annotations

import io
import logging
import pickle
from datetime import date
from typing import Any

from bot.links import text_from_telegram
from bot.messages import Button, Chart, Message, Outcome, Toast, View, from_fields, read_linked
from bot.storage.db import Tx

log = logging.getLogger(__name__)


class _Pickled:
    """Stands in for a class of the message contract as pickled: keeps the fields it had then
    (an older pickle may lack some, which ``from_fields`` then defaults)."""

    contract: type

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = state


def _stand_in(cls: type) -> type:
    return type(f"Pickled{cls.__name__}", (_Pickled,), {"contract": cls})


def _allowed() -> dict[tuple[str, str], Any]:
    from bot.charts import registry

    allowed: dict[tuple[str, str], Any] = {("datetime", "date"): date}
    allowed |= {("bot.flows.types", cls.__name__): _stand_in(cls) for cls in (Button, Chart, Message, Toast)}
    allowed |= {(fn.__module__, fn.__name__): fn for fn in registry.RENDERERS.values()}
    allowed |= {(cls.__module__, cls.__name__): cls for cls in registry.ROW_TYPES.values()}
    return allowed


class _Unpickler(pickle.Unpickler):
    def __init__(self, payload: bytes, allowed: dict[tuple[str, str], Any]) -> None:
        super().__init__(io.BytesIO(payload))
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a stored message")
        return found


def _restore(value: Any) -> Any:
    if isinstance(value, _Pickled):
        state = {k: _restore(v) for k, v in value.state.items()}
        if value.contract in (Button, Toast):  # its link, pickled as a Telegram URL
            return read_linked(value.contract, state, version=1)
        if value.contract is Message and isinstance(state.get("text"), str):
            state["text"] = text_from_telegram(state["text"])
        return from_fields(value.contract, state)
    if isinstance(value, list):
        return [_restore(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_restore(v) for v in value)
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    return value


def _message(payload: bytes, allowed: dict[tuple[str, str], Any]) -> Message:
    found = _restore(_Unpickler(payload, allowed).load())
    if not isinstance(found, Message):
        raise TypeError(f"a queued message was pickled as a {type(found).__name__}")
    return found


def _answer(payload: bytes, allowed: dict[tuple[str, str], Any]) -> Outcome:
    messages, toast, refresh = _restore(_Unpickler(payload, allowed).load())
    if not all(isinstance(m, Message) for m in messages) or not isinstance(toast, Toast | None):
        raise TypeError("a kept answer was pickled with something other than messages and a toast")
    return Outcome(messages=list(messages), toast=toast, refresh={View.from_json(key) for key in refresh})


async def rewrite(tx: Tx) -> int:
    """Rewrite every pickled outbox message and kept answer as JSON; returns how many rows were
    pickled. One that cannot be read is dropped (it could not have been sent or replayed)."""
    queued = await tx.all("SELECT id, payload FROM outbox WHERE typeof(payload) = 'blob'")
    kept = await tx.all("SELECT channel, update_id, reply FROM processed_updates"
                        " WHERE reply IS NOT NULL AND typeof(reply) = 'blob'")
    if not queued and not kept:
        return 0
    allowed = _allowed()
    for outbox_id, payload in queued:
        try:
            text = _message(payload, allowed).to_json()
        except Exception as exc:  # what an earlier version wrote: anything may be wrong with it
            log.error("dropping queued message %d: it was pickled and cannot be read (%s)", outbox_id, exc)
            await tx.execute("DELETE FROM outbox WHERE id = ?", (outbox_id,))
        else:
            await tx.execute("UPDATE outbox SET payload = ? WHERE id = ?", (text, outbox_id))
    for channel, update_id, reply in kept:
        try:
            text = _answer(reply, allowed).to_json()
        except Exception as exc:
            log.error("dropping the answer kept for %s update %s: it was pickled and cannot be read (%s)",
                      channel, update_id, exc)
            text = None  # the update stays handled; a retry of it is answered nothing
        await tx.execute("UPDATE processed_updates SET reply = ? WHERE channel = ? AND update_id = ?",
                         (text, channel, update_id))
    log.info("rewrote %d queued messages and %d kept answers, pickled by an earlier version, as JSON",
             len(queued), len(kept))
    return len(queued) + len(kept)
