"""Putting the pieces together: database, engine, delivery and the Telegram channel."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from dataclasses import dataclass, field

import bot.handlers  # noqa: F401  (first: imports aiogram with its types built on first use)
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.config import Config
from bot.delivery import Delivery
from bot.flows.engine import Engine
from bot.handlers.polling import DurablePolling
from bot.handlers.telegram import ALLOWED_UPDATES, CHANNEL, TelegramSender, build_dispatcher, set_commands
from bot.outbox import OutboxWorker
from bot.scheduler import Scheduler
from bot.storage import updates
from bot.storage.db import Database

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


@dataclass
class TelegramApp:
    """The running Telegram bot; ``start()`` returns once it is receiving updates."""

    config: Config
    rng: random.Random | None = None
    edit_interval: float = 3.0
    polling_timeout: int = 30
    db: Database = field(init=False)
    bot: Bot = field(init=False)
    dp: Dispatcher = field(init=False)
    engine: Engine = field(init=False)
    delivery: Delivery = field(init=False)
    _runner: web.AppRunner | None = field(default=None, init=False)
    scheduler: Scheduler | None = field(default=None, init=False)
    outbox: OutboxWorker = field(init=False)
    sweep_interval: float = 10.0
    session: AiohttpSession | None = None  # tests pass one of their own
    retry_delay: float = 1.0               # after a failed getUpdates
    double_tap: float = 1.0                # seconds within which a repeated press is one press
    limits: dict = field(default_factory=dict)  # TelegramSender's rate and intervals (tests: none)
    polling: DurablePolling | None = field(default=None, init=False)

    async def start(self) -> None:
        config = self.config
        assert config.telegram_token, "TELEGRAM_BOT_TOKEN is required"
        self.db = await Database(config.db_path).open()
        session = self.session or (AiohttpSession(api=TelegramAPIServer.from_base(config.telegram_api_base))
                                   if config.telegram_api_base else AiohttpSession())
        self.bot = Bot(config.telegram_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        me = await self.bot.get_me()
        self.engine = Engine(self.db, bot_username=me.username or "qatysu_bot", rng=self.rng,
                             default_locale=config.locale, default_tz=config.tz,
                             operator_name=config.operator_name, operator_bin=config.operator_bin,
                             double_tap=self.double_tap)
        self.delivery = Delivery(self.db, {CHANNEL: TelegramSender(self.bot, **self.limits)},
                                 edit_interval=self.edit_interval, redraw=self.engine.redraw)
        self.outbox = OutboxWorker(self.delivery)
        self.outbox.start()
        self.dp = build_dispatcher(self.engine, self.delivery)
        await set_commands(self.bot)
        self.scheduler = Scheduler(self.engine, self.delivery, interval=self.sweep_interval)
        await self.scheduler.start()
        if config.telegram_webhook_url:
            await self._start_webhook()
        else:
            # Updates that arrived while the bot was down are kept (no drop_pending_updates).
            await self.bot.delete_webhook(drop_pending_updates=False)
            self.polling = DurablePolling(self.bot, self.dp, self.db, allowed_updates=ALLOWED_UPDATES,
                                          timeout=self.polling_timeout, retry_delay=self.retry_delay)
            await self.polling.start()
        gc.freeze()  # the objects made at start-up (aiogram, the flows) are not walked by every collection
        # Each update allocates a few hundred objects (pydantic models, aiohttp requests): with the
        # default threshold (700) a young collection ran every ~3 updates, ~12 % of a burst's CPU;
        # at 10,000 it is ~1.5 % (bench/README.md).
        gc.set_threshold(10_000, 10, 10)
        log.info("Telegram bot @%s is running (%s)", me.username,
                 "webhook" if config.telegram_webhook_url else "long polling")

    async def _start_webhook(self) -> None:
        config = self.config
        app = web.Application()
        # Telegram gets its 200 only after the update is handled (and stored), so a crash makes
        # Telegram deliver it again instead of losing it; every delivery is then a ``retry``: one
        # already handled gets its first answer again, which the crash may have kept from going.
        # Once handled, its answer is not kept: a retry then (the 200 was lost) stays silent.
        db = self.db

        async def answered(handler, update: Update, data: dict):
            result = await handler(update, data)
            await db.atomic(lambda tx: updates.delivered(tx, CHANNEL, [str(update.update_id)]))
            return result

        self.dp.update.outer_middleware(answered)
        SimpleRequestHandler(dispatcher=self.dp, bot=self.bot, handle_in_background=False,
                             secret_token=config.telegram_webhook_secret, retry=True).register(app, path=WEBHOOK_PATH)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, config.http_host, config.http_port).start()
        await self.bot.set_webhook(config.telegram_webhook_url + WEBHOOK_PATH,
                                   secret_token=config.telegram_webhook_secret,
                                   allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.polling is not None:
            await self.polling.stop()
            self.polling = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.delivery.throttle.flush()
        await self.outbox.stop()
        await self.bot.session.close()
        await self.db.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
