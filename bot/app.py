"""Putting the pieces together: database, engine, delivery and the Telegram channel."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import bot.handlers  # noqa: F401  (first: imports aiogram with its types built on first use)
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiohttp import web

from bot import serve
from bot.config import CannotRun, Config
from bot import drawing
from bot.delivery import Delivery
from bot.flows.engine import Engine, NotHandled
from bot.handlers.polling import DurablePolling
from bot.handlers.telegram import ALLOWED_UPDATES, CHANNEL, TelegramSender, TelegramUpdates, set_commands
from bot.handlers.telegram_updates import Malformed
from bot.http_server import HttpServer
from bot.leader import RETRY, SchedulerSeat
from bot.outbox import OutboxWorker
from bot.scheduler import Scheduler
from bot.storage import updates
from bot.storage.db import Busy, Database
from bot.storage.pg import PgDatabase
from bot.storage.stores import database, shown

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
DEFAULT_API = "https://api.telegram.org"
START_TIMEOUT = 10  # seconds for each Bot API request at start: a Telegram out of reach fails fast


def _why(exc: BaseException, api: str, doing: str) -> str:
    """One line saying what failed while ``doing`` something."""
    if isinstance(exc, TelegramUnauthorizedError):
        return "Telegram refused the token (401 Unauthorized): TELEGRAM_BOT_TOKEN is wrong or was revoked"
    if isinstance(exc, TelegramNetworkError):
        return f"cannot reach the Telegram Bot API at {api} ({exc.message}) while {doing}"
    if isinstance(exc, TelegramAPIError):
        return f"Telegram refused {doing}: {exc.message}"
    return f"{doing} failed: {type(exc).__name__}: {exc}".replace("\n", " ")


class Beside(Protocol):
    async def stop_receiving(self, grace: float = 0.0) -> None: ...
    async def stop(self, grace: float = 0.0) -> None: ...


def _left(until: float) -> float:
    return max(0.0, until - time.monotonic())


@dataclass
class TelegramApp:
    """The running Telegram bot; ``start()`` returns once it is receiving updates."""

    config: Config
    rng: random.Random | None = None
    edit_interval: float = 3.0
    polling_timeout: int = 30
    db: Database | PgDatabase = field(default=None, init=False)  # set by start(): QATYSU_DB's store
    bot: Bot = field(default=None, init=False)
    updates: TelegramUpdates = field(init=False)  # what handles each update, polled or by webhook
    engine: Engine = field(init=False)
    delivery: Delivery = field(default=None, init=False)
    server: HttpServer | None = None  # shared with WhatsApp (``qatysu run``); else the webhook's own
    _own_server: bool = field(default=False, init=False)
    scheduler: SchedulerSeat | None = field(default=None, init=False)  # on PostgreSQL: one worker's at a time
    outbox: OutboxWorker = field(default=None, init=False)
    sweep_interval: float = 10.0
    session: AiohttpSession | None = None  # tests pass one of their own
    retry_delay: float = 1.0               # after a failed getUpdates
    double_tap: float = 1.0                # seconds within which a repeated press is one press
    limits: dict = field(default_factory=dict)  # TelegramSender's rate and intervals (tests: none)
    clock: Callable[[], datetime] | None = None  # the engine's and scheduler's; tests: real time, shifted
    polling: DurablePolling | None = field(default=None, init=False)

    async def start(self) -> None:
        """Start, or raise ``CannotRun`` saying what failed, with everything started closed again."""
        config = self.config
        assert config.telegram_token, "TELEGRAM_BOT_TOKEN is required"
        api = config.telegram_api_base or DEFAULT_API
        session = self.session or (AiohttpSession(api=TelegramAPIServer.from_base(config.telegram_api_base))
                                   if config.telegram_api_base else AiohttpSession())
        self.bot = Bot(config.telegram_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        doing = "checking the token (getMe)"
        try:
            me = await self.bot.get_me(request_timeout=START_TIMEOUT)
            doing = f"opening the database {shown(config.db_path)} (QATYSU_DB)"
            self.db = await database(config.db_path).open()
            doing = "starting"
            await self._start_running(me.username or "qatysu_bot")
            if config.telegram_webhook_url:
                await self._start_webhook()
            else:
                doing = "switching to long polling (deleteWebhook)"
                # Updates that arrived while the bot was down are kept (no drop_pending_updates).
                await self.bot.delete_webhook(drop_pending_updates=False, request_timeout=START_TIMEOUT)
                self.polling = DurablePolling(self.bot, self.updates, self.db, allowed_updates=ALLOWED_UPDATES,
                                              timeout=self.polling_timeout, retry_delay=self.retry_delay)
                await self.polling.start()
            doing = "starting the scheduler"
            self.scheduler = SchedulerSeat(self.db, self._new_scheduler, retry=min(RETRY, self.sweep_interval))
            await self.scheduler.start()
        except BaseException as exc:  # a Ctrl-C during the start too: what was started is stopped
            try:
                await self.stop()
            except Exception:  # what failed may fail again on the way out; the first failure is the news
                log.debug("stopping after a failed start failed too", exc_info=True)
            if not isinstance(exc, Exception) or isinstance(exc, CannotRun):
                raise
            raise CannotRun(_why(exc, api, doing)) from exc
        serve.tune_gc()
        log.info("Telegram bot @%s is running (%s); WhatsApp: %s", me.username,
                 "webhook" if config.telegram_webhook_url else "long polling",
                 "configured" if config.whatsapp else "not configured (WHATSAPP_TOKEN)")

    def _new_scheduler(self, guard=None) -> Scheduler:
        return Scheduler(self.engine, self.delivery, interval=self.sweep_interval, guard=guard)

    async def _start_running(self, username: str) -> None:
        config = self.config
        self.engine = Engine(self.db, bot_username=username, rng=self.rng,
                             default_locale=config.locale, default_tz=config.tz,
                             operator_name=config.operator_name, operator_bin=config.operator_bin,
                             double_tap=self.double_tap, **({"clock": self.clock} if self.clock else {}))
        self.delivery = Delivery(self.db, {CHANNEL: TelegramSender(self.bot, username=username, **self.limits)},
                                 edit_interval=self.edit_interval, redraw=self.engine.redraw)
        drawing.start()  # the drawing process and the renderers, ready before the first chart
        self.outbox = OutboxWorker(self.delivery)
        self.outbox.start()
        self.updates = TelegramUpdates(self.bot, self.engine, self.delivery)
        await set_commands(self.bot)

    async def _start_webhook(self) -> None:
        config = self.config
        # Telegram gets its 200 only after the update is handled (and stored), so a crash makes
        # Telegram deliver it again instead of losing it; every delivery is then a ``retry``: one
        # already handled gets its first answer again, which the crash may have kept from going.
        # Once handled, its answer is not kept: a retry then (the 200 was lost) stays silent.
        db, handler = self.db, self.updates
        secret = (config.telegram_webhook_secret or "").encode()

        async def webhook(request: web.Request) -> web.Response:
            if secret and not hmac.compare_digest(
                    request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode(), secret):
                return web.Response(body="Unauthorized", status=401)
            try:
                raw = json.loads(await request.read())
            except ValueError:
                return web.Response(body="not JSON", status=400)
            try:
                incoming = handler.parse(raw)
            except Malformed as exc:  # answered, or Telegram would deliver it again and again
                log.error("update %s cannot be parsed; dropped: %s",
                          raw.get("update_id") if isinstance(raw, dict) else "?", exc)
                return web.json_response({})
            if incoming is not None:
                try:
                    await handler.handle(incoming, retry=True)
                except (NotHandled, Busy) as exc:  # nothing was done (the database busy or out of reach): Telegram delivers it again
                    log.warning("update %s not handled, the database is busy or out of reach (%s); Telegram delivers it again",
                                incoming.update_id, exc)
                    return web.Response(body="busy; deliver it again", status=503)
                try:
                    await db.atomic(lambda tx: updates.delivered(tx, CHANNEL, [incoming.update_id]))
                except Busy:  # answered all the same: its kept answer is dropped later (scheduler's prune)
                    log.warning("update %s was answered, but its kept answer could not be dropped yet",
                                incoming.update_id)
            return web.json_response({})

        if self.server is None:
            self.server = HttpServer(config.http_host, config.http_port, "Telegram's webhook",
                                     access_log=config.http_access_log)
            self._own_server = True
        self.server.mount("POST", WEBHOOK_PATH, webhook)
        if not self.server.listening:
            await self.server.start()
        url = config.telegram_webhook_url + WEBHOOK_PATH
        try:
            await self.bot.set_webhook(url, secret_token=config.telegram_webhook_secret,
                                       allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False,
                                       request_timeout=START_TIMEOUT)
        except Exception as exc:
            raise CannotRun(_why(exc, config.telegram_api_base or DEFAULT_API,
                                 f"the webhook {url} (setWebhook)")) from exc

    async def stop_receiving(self, grace: float = 10.0) -> None:
        """Take no new update (polling stops; the webhook's own server closes its port) and
        answer those in hand within ``grace`` seconds (those left stay in the inbox, or, by
        webhook, unanswered: Telegram delivers them again)."""
        polling, self.polling = self.polling, None
        try:
            if polling is not None:
                await polling.stop(grace)
        finally:
            if self._own_server and self.server is not None:
                server, self.server = self.server, None
                await server.stop(grace)

    async def stop(self, grace: float = 10.0, beside: "Beside | None" = None) -> None:
        """Stop what was started (all of it, or what a failed start got to). Every part is stopped
        even if one fails (the first failure is raised after): an open database keeps the process
        from exiting. Within ``grace`` seconds (0: at once) the updates in hand are finished, the
        redraws due are drawn, and the outbox's send in flight ends. ``beside`` (the WhatsApp
        channel on this database) stops receiving with Telegram, and its sender closes after
        the outbox's last send, before the database closes."""
        until = time.monotonic() + grace
        failures: list[Exception] = []

        async def step(name: str, stop) -> None:
            part = getattr(self, name)
            if part is not None:
                try:
                    await stop(part)
                except Exception as exc:
                    failures.append(exc)
                setattr(self, name, None)

        async def drawn(delivery: Delivery) -> None:
            try:
                async with asyncio.timeout(_left(until)):
                    await delivery.flush()
            except TimeoutError:
                await delivery.cancel()  # asked for again at the next start

        try:
            await self.stop_receiving(_left(until))
        except Exception as exc:
            failures.append(exc)
        if beside is not None:
            try:
                await beside.stop_receiving(_left(until))
            except Exception as exc:
                failures.append(exc)
        await step("scheduler", lambda scheduler: scheduler.stop(_left(until)))
        if self.delivery is not None:
            try:
                await drawn(self.delivery)
            except Exception as exc:
                failures.append(exc)
        await step("outbox", lambda outbox: outbox.stop(_left(until)))
        if beside is not None:
            try:
                await beside.stop(_left(until))
            except Exception as exc:
                failures.append(exc)
        if self.bot is not None:
            try:
                await self.bot.session.close()
            except Exception as exc:
                failures.append(exc)
        await step("db", lambda db: db.close())
        if failures:
            raise failures[0]
