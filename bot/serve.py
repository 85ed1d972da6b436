"""``qatysu run`` running: the channels configured, one HTTP server for their webhooks, until
SIGTERM or SIGINT; then a clean stop within ``STOP_WITHIN`` seconds.

The clean stop, in order: no new update is taken (polling stops, the HTTP server closes its
socket: new webhooks go to another worker or are delivered again by their sender); the updates
in hand finish their transaction and are answered; the redraws due are drawn; the outbox ends
the send in flight (the rest of the queue waits for the next start); the scheduler stops after
its sweep under way; the database is checkpointed and closed. What was not handled in time
stays in the inbox (polling, WhatsApp) or unanswered (Telegram's webhook, which delivers it
again), and the next start handles it. Past the bound the process exits anyway.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

from bot.config import CannotRun, Config
from bot.http_server import HttpServer

if TYPE_CHECKING:
    from bot.app import TelegramApp
    from bot.whatsapp.app import WhatsAppApp

log = logging.getLogger("bot.run")
STOP_WITHIN = 8.0  # seconds from the signal to the exit: under Docker's 10 s before its SIGKILL
CLOSING = 1.5      # of which kept for closing the database when the clean stop runs late


def http_serves(config: Config) -> str | None:
    """What the one HTTP server serves, for the operator (None: no server, Telegram polls alone)."""
    served = ([] if not (config.telegram_token and config.telegram_webhook_url) else ["Telegram's"]) + \
             ([] if config.whatsapp is None else ["WhatsApp's"])
    if not served:
        return None
    return f"{' and '.join(served)} webhook{'s' if len(served) > 1 else ''}"


async def serve(config: Config, telegram: "TelegramApp | None", whatsapp: "WhatsAppApp | None") -> bool:
    """Run until a signal asks to stop (then True) or Telegram's polling ends by itself (then
    ``CannotRun``, after everything is stopped). A failed start raises ``CannotRun`` with what it
    started stopped again."""
    serves = http_serves(config)
    server = None if serves is None else HttpServer(config.http_host, config.http_port, serves,
                                                          access_log=config.http_access_log)
    for app in (telegram, whatsapp):
        if app is not None:
            app.server = server
    asked = _stop_on_signals()
    ended: asyncio.Task | None = None
    try:
        starting = asyncio.create_task(_start(server, telegram, whatsapp))
        if not await _first(starting, asked):
            return True  # asked to stop while starting: what started is stopped below
        starting.result()  # a failed start: CannotRun
        if server is not None:
            server.role = _role(telegram, whatsapp)
        if telegram is not None and telegram.polling is not None:
            ended = asyncio.create_task(telegram.polling.wait())
        await _first(ended, asked)
    finally:
        await _stop(server, telegram, whatsapp, asked)
    if ended is not None and ended.done() and not ended.cancelled() and ended.exception() is not None:
        from bot.app import DEFAULT_API, _why  # aiogram's errors, said in one line

        exc = ended.exception()  # logged where it happened, if it needs a traceback
        raise CannotRun(_why(exc, config.telegram_api_base or DEFAULT_API, "polling")) from exc
    return asked.is_set()


def _role(telegram, whatsapp):
    """What /health says of this worker's part among several (PostgreSQL): None on SQLite."""
    seat = telegram.scheduler if telegram is not None else getattr(whatsapp, "_scheduler", None)
    if seat is None or seat.leadership is None:
        return None
    leadership = seat.leadership
    return lambda: (f"worker {leadership.worker}; scheduler: "
                    f"{'this worker runs it' if leadership.leading else 'standing by'}")


async def _start(server: HttpServer | None, telegram, whatsapp) -> None:
    if server is not None:
        await server.start()  # first: a port taken is said before anything else is done
    if telegram is not None:
        await telegram.start()
    if whatsapp is not None:
        try:
            await whatsapp.start()  # beside Telegram: on its database, engine and outbox
        except CannotRun:
            raise
        except Exception as exc:
            raise CannotRun(f"starting WhatsApp failed: {type(exc).__name__}: {exc}".replace("\n", " ")) from exc


async def _first(task: asyncio.Task | None, asked: asyncio.Event) -> bool:
    """Wait for ``task`` (None: forever) or the stop signal; True if the task ended first,
    False if asked to stop (the task, still running, is cancelled)."""
    waiting = asyncio.create_task(asked.wait())
    tasks = {waiting} if task is None else {task, waiting}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if task is not None and task.done():
        return True
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return False


def _stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGTERM or SIGINT, which logs "stopping" and arms the bound."""
    loop = asyncio.get_running_loop()
    asked = asyncio.Event()

    def on_signal(signum: int) -> None:
        if asked.is_set():
            return  # already stopping, within the bound
        asked.set()
        log.info("stopping (%s): no new updates; finishing those in hand (at most %.0f s)",
                 signal.Signals(signum).name, STOP_WITHIN)
        _exit_anyway_after(STOP_WITHIN + 1.0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    return asked


def _exit_anyway_after(seconds: float) -> None:
    """The last resort, should the clean stop itself hang (a thread that does not return)."""
    def exit_now() -> None:
        log.error("stopping took longer than %.0f s; exiting without waiting further", seconds)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()


async def _stop(server: HttpServer | None, telegram, whatsapp, asked: asyncio.Event) -> None:
    """Stop everything, within the bound once a signal asked for it (after a failed start or
    the end of polling there is nothing in hand to wait for long)."""
    started = time.monotonic()
    within = STOP_WITHIN if asked.is_set() else 2.0

    async def clean(grace: float) -> None:
        until = time.monotonic() + grace
        # no new update from either side at once; those in hand answered
        await asyncio.gather(*([] if server is None else [server.stop(grace)]),
                             *([] if telegram is None else [telegram.stop_receiving(grace)]))
        if whatsapp is not None:
            await whatsapp.stop_receiving(max(0.0, until - time.monotonic()))
        if telegram is not None:
            await telegram.stop(max(0.0, until - time.monotonic()), beside=whatsapp)
        elif whatsapp is not None:
            await whatsapp.stop(max(0.0, until - time.monotonic()))

    try:
        async with asyncio.timeout(within):
            await clean(within - CLOSING)
    except TimeoutError:
        log.warning("the clean stop did not end within %.0f s; closing at once", within)
        try:
            async with asyncio.timeout(CLOSING):
                await clean(0.0)
        except Exception:
            log.debug("closing at once failed", exc_info=True)
    except Exception:
        if asked.is_set():
            log.exception("stopping failed")  # logged, not raised over why it stopped
        else:
            log.debug("stopping after a failure failed too", exc_info=True)
    if asked.is_set():
        log.info("stopped in %.1f s", time.monotonic() - started)


def tune_gc() -> None:
    """Once the bot has started: the objects made at start-up (aiogram, the flows) are not walked by
    every collection, and young collections are rarer. Each update allocates a few hundred objects:
    with the default threshold (700) a young collection ran every ~3 updates, ~12 % of a burst's
    CPU; at 10,000 it is ~1.5 % (bench/README.md)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
