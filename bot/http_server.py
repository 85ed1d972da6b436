"""The bot's one HTTP server on ``QATYSU_HTTP_HOST:QATYSU_HTTP_PORT``: Telegram's webhook
(``/telegram/webhook``), WhatsApp's (``/whatsapp/webhook``) and ``/health``.

Each channel mounts its routes when it starts; the server may already listen by then (a path
not mounted yet answers 404, and Telegram and Meta deliver again what got no 200). Stopping
closes the listening socket first, so new webhooks go to another worker or are delivered again
by their sender, then waits (at most ``grace`` seconds) for the requests in hand to be answered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.log import access_logger

from bot.config import CannotRun

log = logging.getLogger(__name__)
BODY_MAX = 1024 * 1024  # bytes; a larger body is answered 413 (WhatsApp's contract)
HEALTH_PATH = "/health"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpServer:
    def __init__(self, host: str, port: int, serves: str, *, access_log: bool = False) -> None:
        self.host, self.port = host, port  # port 0: any free one (tests); the one taken once started
        self.serves = serves                # for the operator: "Telegram's webhook", "WhatsApp's webhook", …
        self.access_log = access_log        # a line per request on the ``aiohttp.access`` logger (off: a
        # burst of webhooks costs ~5 % less; QATYSU_HTTP_ACCESS_LOG=1 turns it on)
        self._routes: dict[str, dict[str, Handler]] = {HEALTH_PATH: {"GET": self._health}}
        self.role: Callable[[], str] | None = None  # several workers: this one's part ("scheduler: …")
        self._runner: web.AppRunner | None = None

    @property
    def listening(self) -> bool:
        return self._runner is not None

    def mount(self, method: str, path: str, handler: Handler) -> None:
        self._routes.setdefault(path, {})[method.upper()] = handler

    def unmount(self, path: str) -> None:
        self._routes.pop(path, None)

    async def start(self) -> None:
        """Listen, or raise ``CannotRun`` naming the address and the variables that set it."""
        app = web.Application(client_max_size=BODY_MAX)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=access_logger if self.access_log else None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise CannotRun(f"cannot listen for {self.serves} on {self.host}:{self.port} "
                            f"(QATYSU_HTTP_HOST, QATYSU_HTTP_PORT): "
                            f"{os.strerror(exc.errno) if exc.errno else exc}") from exc
        self._runner = runner
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop listening at once; answer the requests in hand within ``grace`` seconds (those
        still running then are cancelled: no 200, so their sender delivers them again)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner._shutdown_timeout = grace  # aiohttp reads it at cleanup; a constructor argument only
            await runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        methods = self._routes.get(request.path)
        if methods is None:
            return web.Response(status=404, text="not found")
        handler = methods.get(request.method)
        if handler is None:
            return web.Response(status=405, text="method not allowed", headers={"Allow": ", ".join(methods)})
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        role = self.role() if self.role is not None else None
        return web.Response(text=f"ok: {self.serves}" + (f"; {role}" if role else ""))
