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

``getUpdates`` goes out as plain JSON (``bot_api``) and each update of a batch is read on its own
by the handler (``TelegramUpdates``: straight from its JSON): one that cannot be read is logged
and dropped instead of failing the whole batch, which would be fetched again forever and stop the
bot receiving anything. One the bot does not handle (an edited message, …) is confirmed, not stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramUnauthorizedError

from bot.handlers import bot_api
from bot.storage import inbox, updates
from bot.flows.engine import NotHandled
from bot.storage.db import Database

log = logging.getLogger(__name__)
CHANNEL = "telegram"
BATCH = 100  # what one getUpdates returns at most (Telegram's own maximum)
BUSY_BACKOFF_CAP = 30.0  # seconds between tries of an update the locked database keeps out
RETRY_CAP = 30.0  # seconds between getUpdates tries while Telegram stays out of reach
REPORT_EVERY = 60.0  # seconds between log lines while it does (the first failure is logged at once)


class Handler(Protocol):
    """What handles the updates polled: ``parse`` reads one from its JSON (None: nothing to do;
    an exception: it cannot be read, and is dropped), ``handle`` acts on what it read. The bot's
    is ``bot.handlers.telegram.TelegramUpdates``.
    ``retry``: handled before, perhaps (the inbox's replay, a retry after a busy database)."""

    def parse(self, raw: Any) -> Any: ...
    async def handle(self, parsed: Any, retry: bool = False) -> None: ...


def _described(exc: Exception) -> str:
    """A failure in a few words: an unreachable Telegram says where it was sought."""
    text = exc.message if isinstance(exc, TelegramNetworkError) else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


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
    def __init__(self, bot: Bot, handler: Handler, db: Database, *, allowed_updates: list[str],
                 timeout: int = 30, retry_delay: float = 1.0, flush_interval: float = 0.2,
                 max_in_flight: int = 1000, stall_warning: float = 60.0, retry_cap: float = RETRY_CAP,
                 report_every: float = REPORT_EVERY, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_in_flight < BATCH:
            raise ValueError(f"max_in_flight must be at least one batch ({BATCH})")
        self.bot, self.db = bot, db
        self.handler = handler
        self.allowed_updates = allowed_updates
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.flush_interval = flush_interval
        self.max_in_flight = max_in_flight
        self.stall_warning = stall_warning
        self.retry_cap = retry_cap
        self.report_every = report_every
        self._sleep, self._clock = sleep, clock  # tests: a fake clock
        self._failures = 0  # getUpdates failures in a row
        self._failing_since = self._reported_at = 0.0
        self._backoff = 0.0
        self._tasks: set[asyncio.Task] = set()
        self._room = asyncio.Event()  # set while another batch fits under max_in_flight
        self._room.set()
        self._done: list[str] = []
        self._runner: asyncio.Task | None = None
        self._flusher: asyncio.Task | None = None
        self._stopping = False  # updates finished from then on are logged (those in hand at the stop)

    async def start(self) -> None:
        left = await self.db.atomic(lambda tx: inbox.pending(tx, CHANNEL))
        if left:
            log.info("handling %d update(s) received before the last stop", len(left))
        self._runner = asyncio.create_task(self._poll(left))
        self._runner.add_done_callback(self._runner_ended)
        self._flusher = asyncio.create_task(self._flush_forever())

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
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

    async def wait(self) -> None:
        """Until polling stops by itself: raises what stopped it (a revoked token:
        ``TelegramUnauthorizedError``), so the process ends instead of running deaf."""
        if self._runner is not None:
            await asyncio.shield(self._runner)

    @staticmethod
    def _runner_ended(task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None or isinstance(task.exception(), TelegramUnauthorizedError):
            return
        log.critical("polling stopped: no more updates will be received", exc_info=task.exception())

    def _failed(self, exc: Exception) -> float:
        """After a failed getUpdates: how long to wait. The wait doubles from ``retry_delay`` up
        to ``retry_cap`` (longer if a 429 asks); the first failure is logged, then one line a
        minute while they go on, and one when getUpdates works again."""
        now = self._clock()
        self._failures += 1
        if self._failures == 1:
            self._failing_since = self._reported_at = now
            self._backoff = self.retry_delay
            log.warning("getUpdates failed (%s); retrying in %.1fs", _described(exc), self._backoff)
        else:
            self._backoff = min(self._backoff * 2, max(self.retry_cap, self.retry_delay))
            if now - self._reported_at >= self.report_every:
                self._reported_at = now
                log.warning("getUpdates failed %d times in a row over %.0fs (last: %s); retrying every %.0fs",
                            self._failures, now - self._failing_since, _described(exc), self._backoff)
        return max(self._backoff, exc.retry_after if isinstance(exc, TelegramRetryAfter) else 0)

    def _worked(self) -> None:
        if self._failures:
            log.warning("getUpdates works again, after %d failure(s) over %.0fs", self._failures,
                        self._clock() - self._failing_since)
            self._failures = 0

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
                parsed = self.handler.parse(json.loads(payload))
            except Exception as exc:
                log.error("dropping stored update %s: it no longer parses (%s)", update_id, _described(exc))
                self._done.append(update_id)
                continue
            if parsed is None:
                self._done.append(update_id)
            else:
                self._spawn(update_id, parsed, retry=True)
        replayed = {int(update_id) for update_id, _ in left if update_id.isdigit()}
        offset: int | None = None
        while True:
            await self._wait_for_room()
            try:
                raw = await bot_api.call(self.bot, "getUpdates", {
                    "offset": offset, "limit": BATCH, "timeout": self.timeout, "allowed_updates": self.allowed_updates})
                if not isinstance(raw, list):
                    raise ValueError(f"getUpdates answered {type(raw).__name__}, not an array")
            except asyncio.CancelledError:
                raise
            except TelegramUnauthorizedError:
                raise  # the token was revoked: no retry will help (see wait())
            except Exception as exc:
                await self._sleep(self._failed(exc))
                continue
            self._worked()
            if not raw:
                continue
            readable = [item for item in raw if isinstance(item, dict) and type(item.get("update_id")) is int]
            if len(readable) < len(raw):
                log.error("%d update(s) without an update_id dropped", len(raw) - len(readable))
                raw = readable
                if not raw:
                    continue  # nothing to confirm them by: Telegram never sends such
            # confirmed by the next getUpdates once stored (an unreadable or skipped last one too)
            last = max(item["update_id"] for item in raw) + 1
            if replayed and offset is not None and offset > max(replayed):
                replayed = set()  # confirmed: Telegram sends them no more
            if replayed:  # Telegram's copies of what the inbox already holds (see the module's doc)
                raw = [item for item in raw if item.get("update_id") not in replayed]
                if not raw:
                    offset = last
                    continue
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            rows, handled = [], []
            for item in raw:
                update_id = str(item["update_id"])
                try:
                    parsed = self.handler.parse(item)
                except Exception as exc:
                    log.error("update %s cannot be parsed; dropped: %s", update_id, _described(exc))
                    continue
                if parsed is not None:  # one the bot ignores is confirmed, not stored
                    handled.append((update_id, parsed))
                    rows.append((update_id, _stored_json(item)))
            try:
                await self.db.atomic(lambda tx: inbox.store(tx, CHANNEL, rows, now))
            except Exception as exc:  # e.g. the database is locked: fetch the same batch again
                log.warning("could not store %d update(s) (%s); retrying in %.1fs", len(rows), exc,
                            self.retry_delay)
                await asyncio.sleep(self.retry_delay)
                continue
            offset = last
            for update_id, parsed in handled:
                self._spawn(update_id, parsed)

    def _spawn(self, update_id: str, parsed: Any, retry: bool = False) -> None:
        task = asyncio.create_task(self._handle(update_id, parsed, retry))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        if len(self._tasks) + BATCH > self.max_in_flight:
            self._room.clear()

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if len(self._tasks) + BATCH <= self.max_in_flight:
            self._room.set()

    async def _handle(self, update_id: str, parsed: Any, retry: bool) -> None:
        """Handle one update. Nothing is logged for an update handled as usual (a line each, at a
        thousand taps a second, was a few per cent of the CPU), but for those finished once the
        stop began: the operator sees what the stop waited for."""
        delay = self.retry_delay
        started = self._clock()
        while True:
            try:
                await self.handler.handle(parsed, retry)
            except NotHandled as exc:  # locked before anything was done: it stays in the inbox, tried again
                log.warning("update %s waits: the database is busy (%s); trying again in %.1fs",
                            update_id, exc, delay)
                await asyncio.sleep(delay)
                delay, retry = min(delay * 2, BUSY_BACKOFF_CAP), True
                continue
            except Exception:
                log.exception("update %s failed", update_id)
            else:
                if self._stopping:
                    log.info("update %s is handled, %.0f ms after its handling began, while stopping", update_id,
                             (self._clock() - started) * 1000)
            break
        self._done.append(update_id)

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
