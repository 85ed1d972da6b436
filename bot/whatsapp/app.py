"""The WhatsApp channel running: its webhook server and sender, alone or beside Telegram.

Beside Telegram it shares the Telegram app's database, engine, delivery, outbox and scheduler
(one community, one tally, whichever channel its members use); alone it runs its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from bot import serve
from bot import drawing
from bot.config import Config
from bot.delivery import Delivery
from bot.flows.engine import Engine
from bot.http_server import HttpServer
from bot.leader import RETRY, SchedulerSeat
from bot.outbox import OutboxWorker
from bot.scheduler import Scheduler
from bot.storage import inbox, whatsapp as store
from bot.storage.db import Database
from bot.storage.pg import PgDatabase
from bot.storage.stores import database
from bot.whatsapp.channel import WhatsAppChannel
from bot.whatsapp.sender import CHANNEL, WhatsAppSender
from bot.whatsapp.ingest import GroupCommit
from bot.whatsapp.webhook import PATH, inbox_writer, routes

if TYPE_CHECKING:
    from bot.app import TelegramApp

log = logging.getLogger(__name__)
KEEP_SENT = 30 * 24 * 3600.0  # a tap under a message older than this is answered as stale
PRUNE_EVERY = 6 * 3600.0


@dataclass
class WhatsAppApp:
    config: Config
    telegram: "TelegramApp | None" = None  # started: its database, engine and delivery are shared
    rng: random.Random | None = None
    sweep_interval: float = 10.0
    edit_interval: float = 3.0
    retry_delay: float = 1.0
    rate: float = 80.0
    clock: Callable[[], float] = time.time
    session: aiohttp.ClientSession | None = None  # for the Cloud API (tests pass one of their own)
    server: HttpServer | None = None  # shared with Telegram's webhook (``qatysu run``); else its own
    port: int = field(default=0, init=False)       # where the webhook listens, once started
    db: Database | PgDatabase = field(init=False)
    engine: Engine = field(init=False)
    delivery: Delivery = field(init=False)
    sender: WhatsAppSender = field(init=False)
    channel: WhatsAppChannel = field(init=False)
    inbox_writer: GroupCommit = field(init=False)  # the webhook's group commit
    _own: bool = field(default=False, init=False)
    _outbox: OutboxWorker | None = field(default=None, init=False)
    _scheduler: SchedulerSeat | None = field(default=None, init=False)
    _own_server: bool = field(default=False, init=False)
    _pruning: asyncio.Task | None = field(default=None, init=False)
    _adopting: asyncio.Task | None = field(default=None, init=False)  # several workers: what dead ones left
    _absent: dict = field(default_factory=dict, init=False)  # a worker whose messages wait → since when it is gone
    worker: int | None = field(default=None, init=False)  # this worker's id on PostgreSQL (bot/leader.py)

    async def start(self) -> None:
        config = self.config
        wa = config.whatsapp
        assert wa is not None, "WHATSAPP_TOKEN is required"
        if self.telegram is not None:
            self.db, self.engine, self.delivery = self.telegram.db, self.telegram.engine, self.telegram.delivery
        else:
            self._own = True
            self.db = await database(config.db_path).open()
            self.engine = Engine(self.db, rng=self.rng, default_locale=config.locale, default_tz=config.tz,
                                 operator_name=config.operator_name, operator_bin=config.operator_bin)
            self.delivery = Delivery(self.db, {}, edit_interval=self.edit_interval, redraw=self.engine.redraw)
            drawing.start()  # the drawing process and the renderers, ready before the first chart
            self._outbox = OutboxWorker(self.delivery)
            self._outbox.start()
            self._scheduler = SchedulerSeat(
                self.db, lambda guard=None: Scheduler(self.engine, self.delivery, interval=self.sweep_interval,
                                                      guard=guard), retry=min(RETRY, self.sweep_interval))
            await self._scheduler.start()
        self.sender = WhatsAppSender(wa, self.db, session=self.session, rate=self.rate,
                                     default_locale=config.locale, clock=self.clock)
        self.delivery.senders[CHANNEL] = self.sender
        await self._prune()
        self._pruning = asyncio.create_task(self._prune_forever())
        self.channel = WhatsAppChannel(self.engine, self.delivery, self.sender, self.db,
                                       default_locale=config.locale, retry_delay=self.retry_delay)
        if self.server is None:
            self.server = HttpServer(config.http_host, config.http_port, "WhatsApp's webhook",
                                     access_log=config.http_access_log)
            self._own_server = True
        seat = self.telegram.scheduler if self.telegram is not None else self._scheduler
        self.worker = seat.worker if seat is not None else None
        self.inbox_writer = inbox_writer(self.db)
        for route in routes(wa, self.db, self.channel, self.inbox_writer, worker=self.worker):
            self.server.mount(route.method, route.path, route.handler)
        if not self.server.listening:
            await self.server.start()
        self.port = self.server.port
        if self._own:  # alone in the process: what TelegramApp does for it otherwise (see bot/app.py)
            serve.tune_gc()
        if self.worker is None:  # one process: what the inbox holds was left by its last run
            left = await self.channel.replay()
            if left:
                log.info("handling %d WhatsApp message(s) received before the last stop", left)
        else:  # one of several workers: what dead workers left, once they are surely gone
            self._adopting = asyncio.create_task(self._adopt_forever(seat.retry))
        log.info("WhatsApp webhook listening on %s:%d%s", self.server.host, self.port, PATH)

    async def adopt(self, absent_for: float) -> int:
        """Handle the messages that workers gone for ``absent_for`` seconds or more stored and did
        not handle (their worker lock is free: ``bot/storage/leader.py``). A worker whose lock's
        connection broke for a moment (a server restart) has it again within seconds, and keeps
        its messages: only one absent at two looks ``absent_for`` apart loses them. The number
        of messages taken."""
        from bot.storage import leader

        now = time.monotonic()

        async def look(tx):
            return await inbox.owners(tx, CHANNEL), await leader.live_workers(tx)

        owners, live = await self.db.atomic(look)
        for owner in owners - live:
            self._absent.setdefault(owner, now)
        for owner in list(self._absent):
            if owner not in owners or owner in live:
                del self._absent[owner]
        # None: stored by a version that ran one process only (PostgreSQL's first release names the
        # worker): no worker will handle it, so it is taken at once
        dead = {owner for owner, since in self._absent.items() if owner is None or now - since >= absent_for}
        if not dead:
            return 0
        me = self.worker
        taken = await self.db.atomic(lambda tx: inbox.adopt(tx, CHANNEL, dead, me))
        if taken:
            log.info("handling %d WhatsApp message(s) that a stopped worker left", len(taken))
        for message_id, stored in taken:
            self.channel.submit(message_id, stored, retry=True)  # its answer, if it handled one, given again
        return len(taken)

    async def _adopt_forever(self, every: float) -> None:
        while True:
            try:
                await self.adopt(2 * every)
            except Exception:
                log.exception("taking the WhatsApp messages a stopped worker left failed; tried again later")
            await asyncio.sleep(every)

    async def _prune(self) -> None:
        before = self.clock() - KEEP_SENT
        await self.db.atomic(lambda tx: store.prune(tx, before))

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY)
            try:
                await self._prune()
            except Exception:
                log.exception("pruning WhatsApp's sent messages failed; tried again later")

    async def stop_receiving(self, grace: float = 10.0) -> None:
        """Take no new message (its own server closes its port) and handle those in hand within
        ``grace`` seconds; the rest stays in the inbox for the next start."""
        until = time.monotonic() + grace
        for name in ("_pruning", "_adopting"):
            task = getattr(self, name)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                setattr(self, name, None)
        if self._own_server and self.server is not None:
            server, self.server = self.server, None
            await server.stop(_left(until))
        if hasattr(self, "channel"):
            await self.channel.stop(_left(until))

    async def stop(self, grace: float = 10.0) -> None:
        """Stop what was started (all of it, or what a failed start got to): no new message is
        taken, those in hand are handled within ``grace`` seconds (the rest stays in the inbox for
        the next start), and, alone, the outbox's send in flight ends before the database closes."""
        until = time.monotonic() + grace
        await self.stop_receiving(grace)
        if self._own and hasattr(self, "delivery"):
            if self._scheduler is not None:
                await self._scheduler.stop(_left(until))
                self._scheduler = None
            try:
                async with asyncio.timeout(_left(until)):
                    await self.delivery.flush()
            except TimeoutError:
                await self.delivery.cancel()  # asked for again at the next start
            if self._outbox is not None:
                await self._outbox.stop(_left(until))
                self._outbox = None
        if hasattr(self, "sender"):
            self.delivery.senders.pop(CHANNEL, None)
            await self.sender.close()
            del self.sender
        if self._own and hasattr(self, "db"):
            await self.db.close()
            del self.db


def _left(until: float) -> float:
    return max(0.0, until - time.monotonic())
