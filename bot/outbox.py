"""The outbox worker: sends queued messages at the rate each channel allows, waits out its
``retry_after``, and picks up where it was after a restart (the queue is a table).

What happens to a message that does not go through:

* ``Undeliverable`` (the person blocked the bot, the chat is gone): dropped at once.
* ``RetryLater`` (a 429): sent again after its ``retry_after``.
* Any other failure (5xx, a timeout, a lost connection) is taken as passing: the message is tried
  again after 1, 2, 4 … seconds, then every ``BACKOFF_CAP`` seconds, however long it lasts.
* At most once: a message marked ``once`` (a reminder) whose send began in a process that died
  before recording it is dropped, not sent again (it may have gone out).
* Expiry, the only way a message is dropped without a permanent error: one still not sent
  ``MAX_AGE`` (a day) after it was queued is dropped with a warning. An outage of the Bot API
  is over long before that, while a post or notice a day late is more likely to mislead (a
  ballot it announces may have closed) than to help; the facilitator can post again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.delivery import Delivery, RetryLater, Undeliverable
from bot.storage import outbox
from bot.storage.outbox import Queued

log = logging.getLogger(__name__)
BACKOFF_CAP = 300.0     # seconds: a failing message is tried again at least every five minutes
MAX_AGE = 24 * 3600.0   # seconds after it was queued that a message not yet sent is dropped
UNREAD_RECHECK = 60.0   # seconds between two looks at a queued message this version cannot read
WINDOW = 1.05  # a second, and a margin for the time a request takes to arrive


class OutboxWorker:
    def __init__(self, delivery: Delivery, *, clock: Callable[[], float] = time.time, idle: float = 1.0) -> None:
        self.delivery = delivery
        self.db = delivery.db
        self.clock = clock
        self.idle = idle
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._paused_until = 0.0  # at start: one window for what a predecessor sent last
        self.sent = 0
        self.retried = 0
        self._failing = False  # the last send failed (logged once per run of failures)
        self._stopping = False  # stop() was called: no send is begun any more
        # queued messages this version cannot read (a newer one wrote them): when to look at each again
        self._unread: dict[int, float] = {}
        delivery.wake_outbox = self.wake

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        # A process that just restarted cannot know what its predecessor sent in its last
        # second: wait one window before the first send.
        self._paused_until = self.clock() + WINDOW
        self._stopping = False
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace: float = 0.0) -> None:
        """Stop sending: the send in flight, if any, is finished within ``grace`` seconds and
        taken off the queue (cut off, it would go again after a restart); the rest of the queue
        stays for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            if grace > 0:
                await asyncio.wait({self._task}, timeout=grace)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                wait = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed")
                wait = self.idle
            if self._stopping:
                break
            self._wake.clear()
            try:  # not asyncio.wait_for, which on Python 3.11 can swallow stop()'s cancel
                async with asyncio.timeout(max(0.01, min(wait, self.idle))):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def drain(self) -> None:
        """Send everything that is due now (the simulator and tests call this)."""
        while await self.drain_once() == 0 and not self._stopping:
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
            if self._stopping:
                break
            message = item.message
            if message is None:
                if (again := self._unread.get(item.id, 0.0)) > self.clock():
                    waits.append(again - self.clock())
                    continue
                if wait := await self._set_aside(item):
                    waits.append(wait)
                else:
                    progress = True
                continue
            key = (message.channel, message.chat_id)
            now = self.clock()
            if message.once and item.sending_since is not None:
                log.info("not sending a message to %s:%s again: a send of it began before a restart and may have"
                         " gone out (at most once)", message.channel, message.chat_id)
                await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
                progress = True
                continue
            if now - item.queued_at >= MAX_AGE:
                log.warning("dropping a message to %s:%s not sent within %.0f h of being queued (%d attempts)",
                            message.channel, message.chat_id, MAX_AGE / 3600, item.attempts)
                await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
                progress = True
                continue
            sender = self.delivery.senders.get(message.channel)
            if sender is None or key in blocked:
                continue
            if self._paused_until > now:  # just started: the predecessor's last second
                waits.append(self._paused_until - now)
                break
            # The channel's limits are shared with the answers sent at once (``Delivery.pacer``):
            # a chat one of them just used waits its interval here too.
            pacer = self.delivery.pacer(message.channel)
            if paused := pacer.paused():  # the channel said to wait, for every chat
                waits.append(paused)
                break
            if chat_wait := pacer.chat_wait(message.chat_id):
                blocked.add(key)  # keep this chat's order: nothing later for it in this pass
                waits.append(chat_wait)
                continue
            if message.once:  # marked first: a crash from here on leaves it marked, and it is not sent again
                await self.db.atomic(lambda tx: outbox.sending(tx, item.id, self.clock()))
            try:  # in the pacer's next overall slot left by interactive traffic
                await self.delivery.send_one(sender, message)
            except RetryLater as exc:  # the pacer holds the chat (or the channel) for it
                if message.once:
                    await self.db.atomic(lambda tx: outbox.not_sent(tx, item.id))
                self.retried += 1
                blocked.add(key)
                waits.append(exc.seconds)
                continue
            except Undeliverable as exc:
                log.info("dropping a message to %s:%s: %s", message.channel, message.chat_id, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # passing: tried again later, never dropped for it
                blocked.add(key)
                delay = min(2.0 ** min(item.attempts, 16), BACKOFF_CAP)
                until = self.clock() + delay
                await self.db.atomic(lambda tx: outbox.postpone(tx, item.id, until, failed=True))
                self._note_failure(message, exc, item.attempts + 1, delay)
                waits.append(delay)
                continue
            else:
                self.sent += 1
                if self._failing:
                    self._failing = False
                    log.warning("sending through %s works again; the outbox catches up", message.channel)
            # Removed at once, so a stop right after sends it again at most once more.
            await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
            progress = True
        if progress:
            return 0.0  # look again at once
        return min(waits) if waits else self.idle

    async def _set_aside(self, item: Queued) -> float:
        """A message this version cannot read (a newer one wrote it, say with a chart this one does
        not have): not sent, and left as it is for a version that can (its row unchanged, so a newer
        worker sends it at once), as long as a message may wait; its chat's later messages wait
        behind it, to keep their order. This worker looks at it again every ``UNREAD_RECHECK``
        seconds, logging it once. Returns how long until then (0: it was dropped)."""
        left = item.queued_at + MAX_AGE - self.clock()
        if left <= 0:
            log.warning("dropping queued message %d, unread within %.0f h: %s", item.id, MAX_AGE / 3600,
                        item.unreadable)
            await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
            self._unread.pop(item.id, None)
            return 0.0
        if item.id not in self._unread:
            log.error("queued message %d cannot be read by this version, not sent: left for a version that can "
                      "(dropped if still unsent %.0f h after it was queued): %s", item.id, MAX_AGE / 3600,
                      item.unreadable)
        delay = min(UNREAD_RECHECK, left)
        self._unread[item.id] = self.clock() + delay
        return delay

    def _note_failure(self, message, exc: Exception, attempts: int, delay: float) -> None:
        """A warning when sends start failing, not one per message (an outage fails them all)."""
        if not self._failing:
            self._failing = True
            log.warning("sending to %s:%s failed (%s: %s); the outbox keeps retrying every message",
                        message.channel, message.chat_id, type(exc).__name__, exc)
        log.debug("a message to %s:%s failed %d times (%s); next try in %.0f s", message.channel,
                  message.chat_id, attempts, exc, delay)
