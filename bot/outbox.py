"""The outbox worker: sends queued messages at the rate each channel allows, waits out its
``retry_after``, retries failures with backoff, and picks up where it was after a restart
(the queue is a table)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.delivery import Delivery, RetryLater, Undeliverable
from bot.storage import outbox

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
WINDOW = 1.05  # a second, and a margin for the time a request takes to arrive
PACE = 0.95    # of the channel's rate: room for requests that arrive a little late or early


class OutboxWorker:
    def __init__(self, delivery: Delivery, *, clock: Callable[[], float] = time.time, idle: float = 1.0) -> None:
        self.delivery = delivery
        self.db = delivery.db
        self.clock = clock
        self.idle = idle
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._next_in_chat: dict[tuple[str, str], float] = {}
        self._paused_until = 0.0
        self._last_send = 0.0
        self.sent = 0
        self.retried = 0
        delivery.wake_outbox = self.wake

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        # A process that just restarted cannot know what its predecessor sent in its last
        # second: wait one window before the first send.
        self._paused_until = self.clock() + WINDOW
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                wait = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed")
                wait = self.idle
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, min(wait, self.idle)))
            except asyncio.TimeoutError:
                pass

    async def drain(self) -> None:
        """Send everything that is due now (the simulator and tests call this)."""
        while await self.drain_once() == 0:
            pass

    async def drain_once(self) -> float:
        """One pass over what is due; returns how long to wait before the next (0: go on)."""
        now = self.clock()
        queued = await self.db.atomic(lambda tx: outbox.due(tx, now))
        if not queued:
            soonest = await self.db.atomic(outbox.next_due)
            return self.idle if soonest is None else max(0.0, soonest - now)
        blocked: set[tuple[str, str]] = set()
        progress = False
        waits: list[float] = []
        for item in queued:
            message = item.message
            key = (message.channel, message.chat_id)
            sender = self.delivery.senders.get(message.channel)
            if sender is None or key in blocked:
                continue
            now = self.clock()
            if self._paused_until > now:  # the channel said to wait, for every chat
                waits.append(self._paused_until - now)
                break
            chat_ready = self._next_in_chat.get(key, 0.0)
            if chat_ready > now:
                blocked.add(key)  # keep this chat's order: nothing later for it in this pass
                waits.append(chat_ready - now)
                continue
            slot = self._rate_slot(sender, now)
            if slot > now:  # the overall rate: wait for the slot rather than skip
                await asyncio.sleep(slot - now)
                now = self.clock()
            self._last_send = now
            self._next_in_chat[key] = now + sender.min_interval(message.chat_id)
            try:
                await self.delivery.send_one(sender, message)
            except RetryLater as exc:
                self.retried += 1
                until = self.clock() + exc.seconds
                if exc.everywhere:
                    self._paused_until = until
                self._next_in_chat[key] = until
                blocked.add(key)
                waits.append(exc.seconds)
                continue
            except Undeliverable as exc:
                log.info("dropping a message to %s:%s: %s", message.channel, message.chat_id, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                blocked.add(key)
                if item.attempts + 1 >= MAX_ATTEMPTS:
                    log.error("giving up on a message to %s:%s after %d attempts: %s", message.channel,
                              message.chat_id, item.attempts + 1, exc)
                else:
                    delay = min(2 ** item.attempts, 300)
                    until = self.clock() + delay
                    await self.db.atomic(lambda tx: outbox.postpone(tx, item.id, until, failed=True))
                    waits.append(delay)
                    continue
            else:
                self.sent += 1
            # Removed at once, so a stop right after sends it again at most once more.
            await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
            progress = True
        if progress:
            return 0.0  # look again at once
        return min(waits) if waits else self.idle

    def _rate_slot(self, sender, now: float) -> float:
        """The earliest time the channel's overall rate allows another message: messages are
        spaced evenly, a little under the rate, so no one-second window ever holds too many."""
        return max(now, self._last_send + 1.0 / (sender.rate * PACE))
