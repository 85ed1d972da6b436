"""Sending through the WhatsApp Cloud API (``bot.delivery.Sender``).

Within 24 hours of a person's last message anything may be sent; outside that window only an
approved template (``WHATSAPP_TEMPLATE_NOTICE``, in the member's language, the message's first
line as its parameter), and without one the message is undeliverable. Errors, for the outbox:
130429 (our number's throughput) and 131056 (too many to one person) → ``RetryLater``; 131047
(the window closed) → the template instead; a recipient who cannot be reached → ``Undeliverable``.
Edits are not sent: WhatsApp cannot edit, and a fresh message for every redraw of a ballot's
counts would flood the chat (what a member asked for comes as a new message, see ``channel``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

import aiohttp

from bot.config import WhatsAppConfig
from bot.delivery import RetryLater, Undeliverable
from bot.flows.types import Message
from bot.i18n import LOCALES, translator
from bot.storage import whatsapp as store
from bot.storage.db import Database
from bot.whatsapp.render import Links, Part, interactive, render, template

log = logging.getLogger(__name__)
CHANNEL = "whatsapp"
WINDOW = 24 * 3600.0
WINDOW_MARGIN = 120.0          # a message must arrive inside the window, not leave just before it ends
MEDIA_TTL = 29 * 24 * 3600.0   # Meta keeps an uploaded media id 30 days
THROUGHPUT_PAUSE = 2.0         # seconds every send waits after 130429
HEARD_MAX = 10_000             # people remembered in memory as just heard from, before the old are dropped
PAIR_PAUSE = 6.0               # one message every 6 s to the same person after 131056
UNREACHABLE = {131026, 131030, 131031, 131021, 131045, 131049, 131050}  # the person cannot be messaged
REFUSED = {100, 131008, 131009, 131051, 131052, 131053, 132000, 132001, 132005, 132007, 132012, 132015, 132016}


class ApiError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}, code {code}: {message}")
        self.status, self.code = status, code


class WhatsAppSender:
    def __init__(self, config: WhatsAppConfig, db: Database, *, session: aiohttp.ClientSession | None = None,
                 rate: float = 80.0, default_locale: str = "kk", clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.db = db
        self.rate = rate  # the Cloud API's default throughput: 80 messages a second
        self.default_locale = default_locale
        self.clock = clock
        self.links = Links(config.display_number)
        self._session = session
        self._own_session = session is None
        self._uploading: dict[str, asyncio.Lock] = {}
        self._heard: dict[str, float] = {}  # the messages being answered: their window is open
        self.url = f"{config.api_base}/{config.api_version}/{config.phone_number_id}"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    def heard(self, wa_id: str, at: float) -> None:
        """A message from ``wa_id`` is being handled: its answer is inside the window even when the
        stored window is gone (the answer to /forget, which erases it)."""
        if len(self._heard) > HEARD_MAX:
            old = self.clock() - WINDOW
            self._heard = {k: v for k, v in self._heard.items() if v > old}
        self._heard[wa_id] = max(at, self._heard.get(wa_id, 0.0))

    def min_interval(self, chat_id: str) -> float:
        return 0.0  # the pair rate allows bursts; a 131056 makes that person's queue wait

    async def edit(self, message: Message, message_id: str) -> None:
        log.debug("not redrawing %s for WhatsApp %s", message.tag, message.chat_id)

    async def send(self, message: Message, image: bytes | None) -> str | None:
        wa_id = message.chat_id
        last, locale = await self.db.atomic(lambda tx: _about(tx, wa_id))
        locale = locale if locale in LOCALES else self.default_locale
        last = max(last or 0.0, self._heard.get(wa_id, 0.0))
        if self.clock() - last > WINDOW - WINDOW_MARGIN:
            return await self._template(message, locale)
        parts = render(message, image, translator(locale), self.links)
        try:
            return await self._send_parts(wa_id, parts)
        except ApiError as exc:
            if exc.code == 131047:  # Meta counts the window differently from us: a template after all
                return await self._template(message, locale)
            raise self._translated(exc) from exc

    async def send_page(self, wa_id: str, sent: store.Sent, page: int) -> None:
        """The next page of a paged list (its "more…" row was tapped)."""
        locale = (await self.db.atomic(lambda tx: _about(tx, wa_id)))[1] or self.default_locale
        parts = interactive(sent.body, sent.options, page, translator(locale))
        try:
            await self._send_parts(wa_id, parts[-1:])
        except ApiError as exc:
            raise self._translated(exc) from exc

    async def _send_parts(self, wa_id: str, parts: list[Part]) -> str | None:
        message_id = None
        for part in parts:
            payload = dict(part.payload)
            if part.media is not None:
                kind = payload["type"]
                payload[kind] = {**payload[kind], "id": await self._media_id(*part.media)}
            message_id = await self._post(wa_id, payload)
            now = self.clock()

            async def record(tx, part: Part = part, message_id: str = message_id) -> None:
                await store.record_sent(tx, message_id, wa_id, now, part.options, part.body, part.page)
                if part.options:  # the latest interactive message's options: what a typed "2" means
                    await store.offered(tx, wa_id, part.options)

            await self.db.atomic(record)
        return message_id

    async def _template(self, message: Message, locale: str) -> str | None:
        name = self.config.templates.get("notice")
        if not name:
            raise Undeliverable(f"{message.chat_id} has not written within 24 hours and no"
                                " WHATSAPP_TEMPLATE_NOTICE is configured")
        try:
            return await self._send_parts(message.chat_id, [template(message, name, locale)])
        except ApiError as exc:
            raise self._translated(exc) from exc

    def _translated(self, exc: ApiError) -> Exception:
        if exc.code == 130429:
            return RetryLater(THROUGHPUT_PAUSE, everywhere=True)
        if exc.code == 131056:
            return RetryLater(PAIR_PAUSE)
        if exc.code in UNREACHABLE or exc.code == 131047:
            return Undeliverable(str(exc))
        if exc.code in REFUSED or (exc.status == 400 and exc.code is not None and exc.code != 131000):
            log.error("WhatsApp refused a message as malformed (a bug: it is dropped): %s", exc)
            return Undeliverable(str(exc))
        return exc  # 5xx, 131000 (something went wrong), an expired token: retried by the outbox

    async def _post(self, wa_id: str, payload: dict) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id, **payload}
        async with self.session.post(f"{self.url}/messages", json=body, headers=self._auth()) as response:
            answer = await _json(response)
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise ApiError(response.status, None, f"unexpected answer {str(answer)[:200]}") from None

    async def _media_id(self, content: bytes, mime: str, filename: str) -> str:
        """The id of ``content`` uploaded: once per file (a chart sent to a hundred members is
        uploaded once), again only when Meta may have forgotten it."""
        digest = hashlib.sha256(content).hexdigest()
        lock = self._uploading.setdefault(digest, asyncio.Lock())
        async with lock:
            fresh_after = self.clock() - MEDIA_TTL
            known = await self.db.atomic(lambda tx: store.media(tx, digest, fresh_after))
            if known is not None:
                return known
            form = aiohttp.FormData()
            form.add_field("messaging_product", "whatsapp")
            form.add_field("type", mime)
            form.add_field("file", content, filename=filename, content_type=mime)
            async with self.session.post(f"{self.url}/media", data=form, headers=self._auth()) as response:
                answer = await _json(response)
            media_id = str(answer.get("id", ""))
            if not media_id:
                raise ApiError(response.status, None, f"upload answered {str(answer)[:200]}")
            now = self.clock()
            await self.db.atomic(lambda tx: store.uploaded(tx, digest, media_id, now))
        self._uploading.pop(digest, None)
        return media_id

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}"}


async def _about(tx, wa_id: str) -> tuple[float | None, str | None]:
    return await store.last_inbound(tx, wa_id), await store.locale_of(tx, wa_id)


async def _json(response: aiohttp.ClientResponse) -> dict:
    try:
        answer = await response.json(content_type=None)
    except ValueError:
        answer = None
    if response.status >= 400 or not isinstance(answer, dict) or "error" in answer:
        error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message", "") if isinstance(error, dict) else str(answer)[:200]
        raise ApiError(response.status, int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None,
                       message)
    return answer
