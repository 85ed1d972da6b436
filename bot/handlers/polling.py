"""Long polling with a durable inbox.

aiogram's own polling confirms an offset (by asking for the next batch) while the previous
batch may still be handled in background tasks, so a crash can lose updates Telegram already
considers delivered. Here every batch is written to the ``inbox`` table, in one transaction,
before the next ``getUpdates`` confirms it; handled updates are removed in small batches; at
start whatever is still in the inbox is handled again (``retry``). A crash between storing a batch
and confirming it makes Telegram send that batch again: those copies are skipped, as the inbox's
copy is the one handled (the copy fetched again, a duplicate, would answer a tap with an empty
toast, and Telegram takes only the first answer). The engine remembers processed
update ids, so an update handled just before a crash changes nothing the second time; it is only
answered again, as that answer may not have gone out (a reply sent in the last ``flush_interval``
before a crash goes twice). Once removed from the inbox, an update's answer is not kept.

At most ``max_in_flight`` updates are being handled at once: past that, the next batch is not
fetched until some finish. A burst then waits at Telegram instead of as tens of thousands of
tasks in this process, so memory stays bounded and updates are answered in the order they came.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Update

from bot.storage import inbox, updates
from bot.flows.engine import NotHandled
from bot.storage.db import Database

log = logging.getLogger(__name__)
CHANNEL = "telegram"
BATCH = 100  # what one getUpdates returns at most (Telegram's own maximum)
BUSY_BACKOFF_CAP = 30.0  # seconds between tries of an update the locked database keeps out


class _RawGetUpdates(GetUpdates):
    """``getUpdates`` whose answer is read here update by update: one update this aiogram cannot
    parse (a field it requires missing) is dropped and logged, instead of failing the whole batch,
    which would be fetched again forever and stop the bot receiving anything."""

    __returning__ = list[dict[str, Any]]


_RAW = Response[list[dict[str, Any]]]  # kept alive: pydantic caches generic classes weakly (see aiogram_types)


def _stored_json(raw: dict[str, Any]) -> str:
    """The update as the inbox keeps it: as Telegram sent it. Text SQLite cannot hold (a lone
    surrogate, which Telegram should never send) is kept escaped."""
    text = json.dumps(raw, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(raw)
    return text


async def _done(tx, update_ids: list[str]) -> None:
    """Handled and answered: out of the inbox, and their answers need not be kept for a replay."""
    await inbox.done(tx, CHANNEL, update_ids)
    await updates.delivered(tx, CHANNEL, update_ids)


class DurablePolling:
    def __init__(self, bot: Bot, dp: Dispatcher, db: Database, *, allowed_updates: list[str],
                 timeout: int = 30, retry_delay: float = 1.0, flush_interval: float = 0.2,
                 max_in_flight: int = 1000, stall_warning: float = 60.0) -> None:
        if max_in_flight < BATCH:
            raise ValueError(f"max_in_flight must be at least one batch ({BATCH})")
        self.bot, self.dp, self.db = bot, dp, db
        self.allowed_updates = allowed_updates
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.flush_interval = flush_interval
        self.max_in_flight = max_in_flight
        self.stall_warning = stall_warning
        self._tasks: set[asyncio.Task] = set()
        self._room = asyncio.Event()  # set while another batch fits under max_in_flight
        self._room.set()
        self._done: list[str] = []
        self._runner: asyncio.Task | None = None
        self._flusher: asyncio.Task | None = None

    async def start(self) -> None:
        left = await self.db.atomic(lambda tx: inbox.pending(tx, CHANNEL))
        if left:
            log.info("handling %d update(s) received before the last stop", len(left))
        self._runner = asyncio.create_task(self._poll(left))
        self._runner.add_done_callback(self._runner_ended)
        self._flusher = asyncio.create_task(self._flush_forever())

    async def stop(self, grace: float = 10.0) -> None:
        for task in (self._runner,):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
            for task in set(self._tasks):  # still waiting (e.g. for a locked database): handled at the next start
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._flush()

    @staticmethod
    def _runner_ended(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.critical("polling stopped: no more updates will be received", exc_info=task.exception())

    async def _wait_for_room(self) -> None:
        while not self._room.is_set():
            try:  # not asyncio.wait_for, which on Python 3.11 can swallow stop()'s cancel
                async with asyncio.timeout(self.stall_warning):
                    await self._room.wait()
            except TimeoutError:
                log.warning("%d updates have been in handling for %.0f s; new updates wait at Telegram",
                            len(self._tasks), self.stall_warning)

    async def _poll(self, left: list[tuple[str, str]]) -> None:
        for update_id, payload in left:
            await self._wait_for_room()
            try:
                update = Update.model_validate(json.loads(payload), context={"bot": self.bot})
            except Exception:
                log.exception("dropping stored update %s: it no longer parses", update_id)
                self._done.append(update_id)
                continue
            self._spawn(update, retry=True)
        replayed = {int(update_id) for update_id, _ in left if update_id.isdigit()}
        offset: int | None = None
        while True:
            await self._wait_for_room()
            try:
                raw = await self.bot(_RawGetUpdates(offset=offset, limit=BATCH, timeout=self.timeout,
                                                    allowed_updates=self.allowed_updates))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Telegram's 429 says how long to wait; anything else is tried again soon
                delay = max(self.retry_delay, exc.retry_after if isinstance(exc, TelegramRetryAfter) else 0)
                log.warning("getUpdates failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if not raw:
                continue
            # confirmed by the next getUpdates once stored (an unreadable or skipped last one too)
            last = max(int(item.get("update_id", 0)) for item in raw) + 1
            if replayed and offset is not None and offset > max(replayed):
                replayed = set()  # confirmed: Telegram sends them no more
            if replayed:  # Telegram's copies of what the inbox already holds (see the module's doc)
                raw = [item for item in raw if item.get("update_id") not in replayed]
                if not raw:
                    offset = last
                    continue
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            rows, updates = [], []
            for item in raw:
                try:
                    update = Update.model_validate(item, context={"bot": self.bot})
                except Exception as exc:
                    log.error("update %s cannot be parsed by this aiogram; dropped: %s", item.get("update_id"), exc)
                    continue
                updates.append(update)
                rows.append((str(update.update_id), _stored_json(item)))
            try:
                await self.db.atomic(lambda tx: inbox.store(tx, CHANNEL, rows, now))
            except Exception as exc:  # e.g. the database is locked: fetch the same batch again
                log.warning("could not store %d update(s) (%s); retrying in %.1fs", len(updates), exc,
                            self.retry_delay)
                await asyncio.sleep(self.retry_delay)
                continue
            offset = last
            for update in updates:
                self._spawn(update)

    def _spawn(self, update: Update, retry: bool = False) -> None:
        task = asyncio.create_task(self._handle(update, retry))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        if len(self._tasks) + BATCH > self.max_in_flight:
            self._room.clear()

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if len(self._tasks) + BATCH <= self.max_in_flight:
            self._room.set()

    async def _handle(self, update: Update, retry: bool) -> None:
        delay = self.retry_delay
        while True:
            try:
                await self.dp.feed_update(self.bot, update, retry=retry)
            except NotHandled as exc:  # locked before anything was done: it stays in the inbox, tried again
                log.warning("update %s waits: the database is busy (%s); trying again in %.1fs",
                            update.update_id, exc, delay)
                await asyncio.sleep(delay)
                delay, retry = min(delay * 2, BUSY_BACKOFF_CAP), True
                continue
            except Exception:
                log.exception("update %s failed", update.update_id)
            break
        self._done.append(str(update.update_id))

    async def _flush(self) -> None:
        done, self._done = self._done, []
        if done:
            try:
                await self.db.atomic(lambda tx: _done(tx, done))
            except Exception:
                self._done.extend(done)  # try again at the next flush
                raise

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self._flush()
            except Exception:
                log.exception("inbox flush failed")
