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

Several workers (PostgreSQL, ``qatysu run`` in N processes) send from one outbox with leases
(``bot.storage.outbox``): a pass ``claim``s up to ``BATCH`` chats' oldest messages for ``LEASE``
seconds (``FOR UPDATE SKIP LOCKED``: a claim skips what another worker is taking), sends them one
after the other, and releases what it did not finish (a chat waiting for its interval, a pass cut
short); while a send lasts, the leases are renewed every third of ``LEASE``. So a message is sent
by one worker, a chat's messages go in order and one at a time across all workers, and a worker
that dies leaves its chats to the others once its leases run out (at most ``LEASE`` seconds).
What holds when a worker dies (SIGKILL, a crash, the machine's power) during a send, exactly:

* a message whose send had not begun is sent by another worker: nothing is lost;
* a message not ``once`` whose request had left is sent again by another worker: it arrives
  twice if the dead worker's request reached the channel, the instant between the request and
  the commit that removes it (the same window as a single process's crash and restart);
* a ``once`` message whose send had begun is dropped, as after a restart (at most once).

A live worker keeps its leases as long as it can reach the database; one cut off from it for
longer than two thirds of ``LEASE`` in the middle of a send may see another worker send that
message too (and, when it records its send, the chat's next message go out beside the other's).
The workers' clocks must agree to well within a third of ``LEASE`` (NTP does).

On SQLite, one process, the same code runs: the pass's claim is an ``UPDATE … RETURNING`` where
it was a ``SELECT``, and a starting worker clears the leases its predecessor left (nobody else can
hold them), so a restart resumes at once as before. On PostgreSQL a worker restarted under the
same name (a container: same host name, same pid) takes back its predecessor's leases at once;
one under a new name leaves them to run out.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
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
LEASE = 20.0   # seconds a worker holds the chats it claimed (renewed every third while it sends)
BATCH = 200    # chats claimed in one pass
_instances = itertools.count(1)  # the outbox workers of this process, in the order they were made


class OutboxWorker:
    def __init__(self, delivery: Delivery, *, clock: Callable[[], float] = time.time, idle: float = 1.0,
                 lease: float = LEASE, batch: int = BATCH) -> None:
        self.delivery = delivery
        self.db = delivery.db
        self.clock = clock
        self.idle = idle
        self.lease = lease
        self.batch = batch
        # Who holds a lease: the host, the process and the worker in it. No live worker has the
        # same; one that does was this one's predecessor (a container restarted: same host name,
        # same pid), whose leases it takes back at its first pass instead of waiting them out.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{next(_instances)}"
        self._held: set[int] = set()  # the messages this worker holds leases on (the pass's)
        self._predecessor = True  # its leases are released at the first pass (see drain_once)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None
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
        self._keeper = asyncio.create_task(self._keep_leases())

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
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        if self._held:  # a send cut off, or the pass it was in: another worker may take them now
            held, self._held = sorted(self._held), set()
            try:
                await self.db.atomic(lambda tx: outbox.release(tx, self.worker, held))
            except Exception:  # they run out on their own
                log.exception("could not release the outbox's leases; they end within %.0f s", self.lease)

    async def _keep_leases(self) -> None:
        """Renew the leases held, every third of ``lease``, for as long as a pass holds any (a
        send that waits long for its slot, a long pass)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if not self._held:
                continue
            try:
                until = self.clock() + self.lease
                held = await self.db.atomic(lambda tx: outbox.renew(tx, self.worker, until), isolation="read committed")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not renew the outbox's leases")
                continue
            if held < len(self._held):
                log.warning("the outbox lost %d of its %d leases (this worker was cut off for longer than %.0f s?)",
                            len(self._held) - held, len(self._held), self.lease)

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
        if self._predecessor:  # what a process before this one left leased: SQLite's one process
            self._predecessor = False  # had them all; elsewhere, those under this worker's own name
            mine = self.worker if outbox.shared(self.db) else None
            await self.db.atomic(lambda tx: outbox.release(tx, mine), isolation="read committed")
        now = self.clock()
        queued = await self.db.atomic(lambda tx: outbox.claim(tx, self.worker, now, now + self.lease, self.batch),
                                      isolation="read committed")
        if not queued:
            soonest = await self.db.atomic(outbox.next_due, isolation="read committed")  # a glance at the queue
            return self.idle if soonest is None else max(0.0, soonest - now)
        held = self._held = {item.id for item in queued}
        try:
            wait = await self._send(queued, held)
        except asyncio.CancelledError:
            raise  # stop() releases what is held
        except BaseException:
            await self._release(held)
            raise
        await self._release(held)
        return wait

    async def _release(self, held: set[int]) -> None:
        """Give up the leases of what the pass did not finish (a chat that waits, a pass cut short)."""
        if held:
            ids = sorted(held)
            await self.db.atomic(lambda tx: outbox.release(tx, self.worker, ids))
            held.clear()

    async def _send(self, queued: list[Queued], held: set[int]) -> float:
        """Send the claimed messages in order; ``held`` loses each one whose fate is recorded."""
        blocked: set[tuple[str, str]] = set()
        progress = False
        waits: list[float] = []
        for item in queued:
            if self._stopping:
                break
            message = item.message
            if message is None:  # left as it is, or dropped (released at the end of the pass)
                if (again := self._unread.get(item.id, 0.0)) > self.clock():
                    waits.append(again - self.clock())
                    continue
                if wait := await self._set_aside(item):
                    waits.append(wait)
                else:
                    held.discard(item.id)
                    progress = True
                continue
            key = (message.channel, message.chat_id)
            now = self.clock()
            if message.once and item.sending_since is not None:
                log.info("not sending a message to %s:%s again: a send of it began before a restart and may have"
                         " gone out (at most once)", message.channel, message.chat_id)
                await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
                held.discard(item.id)
                progress = True
                continue
            if now - item.queued_at >= MAX_AGE:
                log.warning("dropping a message to %s:%s not sent within %.0f h of being queued (%d attempts)",
                            message.channel, message.chat_id, MAX_AGE / 3600, item.attempts)
                await self.db.atomic(lambda tx: outbox.sent(tx, [item.id]))
                held.discard(item.id)
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
                held.discard(item.id)
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
            held.discard(item.id)
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
