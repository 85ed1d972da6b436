"""A fake WhatsApp Cloud API on 127.0.0.1 for end-to-end tests.

The bot sends to it as to Meta's Graph API (``POST /{version}/{phone_number_id}/messages`` and
``/media``, ``Authorization: Bearer``); tests act as WhatsApp users through it, and it posts
their messages to the bot's webhook signed as Meta signs them::

    async with FakeWhatsApp(token="T", app_secret="S") as wa:
        wa.webhook_url = "http://127.0.0.1:PORT/whatsapp/webhook"
        alma = wa.user("77010000001", "Алма")
        await wa.send_text(alma, "/start")
        menu = await wa.next_message(alma)
        await wa.press(alma, menu, "қазақша")

Every send is checked against the Cloud API's documented limits (refused with its error shape
and code, and kept in ``wa.refused``): text body ≤4,096; interactive body ≤1,024; reply buttons
≤3, titles ≤20, ids unique; list rows ≤10 in all, titles ≤24, descriptions ≤72, the list's
button label ≤20; image/document captions ≤1,024, media by an uploaded id; free-form messages
only within 24 hours of the user's last message (else 131047), templates always (if approved:
``templates``). Errors can be injected (``fail_next``): 130429 throughput, 131056 pair rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

JSON = dict[str, Any]
WINDOW = 24 * 3600.0
ERRORS = {
    100: "Invalid parameter",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131051: "Unsupported message type",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    130429: "Rate limit hit",
    132001: "Template name does not exist in the translation",
    190: "Invalid OAuth access token",
}


class Refusal(Exception):
    def __init__(self, code: int, details: str, status: int = 400) -> None:
        super().__init__(f"({code}) {details}")
        self.code, self.details, self.status = code, details, status


@dataclass
class WaUser:
    wa_id: str
    name: str


@dataclass
class Received:
    """One message a user received: ``kind`` (text, interactive, image, document, template),
    ``text`` (body, caption or the template's parameters), ``options`` [(id, title)] offered."""

    id: str
    to: str
    kind: str
    payload: JSON
    text: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    media: bytes | None = None


class FakeWhatsApp:
    def __init__(self, *, token: str = "wa-test-token", app_secret: str = "wa-app-secret",
                 phone_number_id: str = "1055500001", version: str = "v21.0",
                 templates: dict[str, tuple[str, ...]] | None = None) -> None:
        self.token, self.app_secret, self.phone_number_id, self.version = token, app_secret, phone_number_id, version
        self.templates = templates if templates is not None else {"qatysu_notice": ("kk", "ru", "en")}
        self.webhook_url: str | None = None
        self.users: dict[str, WaUser] = {}
        self.received: dict[str, list[Received]] = {}
        self.refused: list[tuple[JSON, int]] = []
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.last_inbound: dict[str, float] = {}
        self.offset = 0.0  # seconds added to the fake's clock (advance)
        self._cursor: dict[str, int] = {}
        self._faults: list[tuple[int, str | None]] = []
        self._hold: asyncio.Future[bool] | None = None  # sends wait for it (hold, release)
        self.held = 0  # sends held since the last hold()
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.port = 0

    # --- server ------------------------------------------------------------------------------
    async def __aenter__(self) -> "FakeWhatsApp":
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_post("/{version}/{phone}/messages", self._messages)
        app.router.add_post("/{version}/{phone}/media", self._media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = ClientSession()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, hours: float) -> None:
        self.offset += hours * 3600

    def fail_next(self, code: int, times: int = 1, to: str | None = None) -> None:
        """The next ``times`` sends (to ``to``, or anyone) are refused with ``code``."""
        self._faults.extend([(code, to)] * times)

    def hold(self) -> None:
        """Sends from now on hang (the network stalls) until ``release``."""
        self._hold = asyncio.get_running_loop().create_future()
        self.held = 0

    def release(self, *, apply: bool = True) -> int:
        """End the hold: the held sends go through (``apply``) or never arrive (the sender died
        meanwhile: they get a 500 and are not received). How many were held."""
        if self._hold is not None and not self._hold.done():
            self._hold.set_result(apply)
        self._hold = None
        return self.held

    def _check_request(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise Refusal(190, ERRORS[190], status=401)
        if request.match_info["phone"] != self.phone_number_id or request.match_info["version"] != self.version:
            raise Refusal(100, "Unsupported post request: unknown phone number id or version")

    @staticmethod
    def _error(exc: Refusal) -> web.Response:
        return web.json_response({"error": {
            "message": f"(#{exc.code}) {ERRORS.get(exc.code, 'Error')}", "type": "OAuthException", "code": exc.code,
            "error_data": {"messaging_product": "whatsapp", "details": exc.details},
            "fbtrace_id": "Afake"}}, status=exc.status)

    async def _media(self, request: web.Request) -> web.Response:
        try:
            self._check_request(request)
            form = await request.post()
            if form.get("messaging_product") != "whatsapp":
                raise Refusal(100, "messaging_product must be whatsapp")
            upload = form.get("file")
            if not hasattr(upload, "file"):
                raise Refusal(100, "file is required")
            data = upload.file.read()  # type: ignore[union-attr]
            mime = str(form.get("type") or upload.content_type)  # type: ignore[union-attr]
            media_id = str(next(self._ids) + 9_000_000)
            self.uploads[media_id] = (data, mime)
            return web.json_response({"id": media_id})
        except Refusal as exc:
            return self._error(exc)

    async def _messages(self, request: web.Request) -> web.Response:
        payload: JSON = {}
        try:
            self._check_request(request)
            try:
                payload = await request.json()
            except ValueError:
                raise Refusal(100, "the body is not JSON") from None
            received = self._validate(payload)
            for i, (code, to) in enumerate(self._faults):
                if to is None or to == payload.get("to"):
                    del self._faults[i]
                    raise Refusal(code, ERRORS.get(code, "injected"))
        except Refusal as exc:
            self.refused.append((payload, exc.code))
            return self._error(exc)
        if self._hold is not None:
            self.held += 1
            if not await asyncio.shield(self._hold):
                return web.json_response({"error": {"message": "held, never arrived", "code": 1}}, status=500)
        self.received.setdefault(received.to, []).append(received)
        self._changed.set()
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": received.to, "wa_id": received.to}],
                                  "messages": [{"id": received.id}]})

    def _validate(self, p: JSON) -> Received:
        if p.get("messaging_product") != "whatsapp":
            raise Refusal(100, "messaging_product must be whatsapp")
        to = str(p.get("to", ""))
        if to not in self.users:
            raise Refusal(131026, "the recipient is not a WhatsApp user")
        kind = p.get("type", "text")
        if kind != "template" and self.now() - self.last_inbound.get(to, float("-inf")) > WINDOW:
            raise Refusal(131047, "more than 24 hours have passed since the recipient last replied")
        received = Received(id=f"wamid.{next(self._ids)}", to=to, kind=kind, payload=p)
        if kind == "text":
            body = _text(p, "text", "body")
            _limit(body, 1, 4096, "text.body")
            received.text = body
        elif kind in ("image", "document"):
            media = p.get(kind) or {}
            if media.get("id") not in self.uploads:
                raise Refusal(131009, f"{kind}.id is not an uploaded media id")
            _limit(media.get("caption", ""), 0, 1024, f"{kind}.caption")
            if kind == "document" and not media.get("filename"):
                raise Refusal(100, "document.filename is required")
            received.text, received.media = media.get("caption", ""), self.uploads[media["id"]][0]
        elif kind == "interactive":
            received.text, received.options = self._interactive(p.get("interactive") or {})
        elif kind == "template":
            template = p.get("template") or {}
            languages = self.templates.get(template.get("name", ""))
            if languages is None or (template.get("language") or {}).get("code") not in languages:
                raise Refusal(132001, "no approved template with that name and language")
            params = [x.get("text", "") for c in template.get("components", []) if c.get("type") == "body"
                      for x in c.get("parameters", [])]
            for value in params:
                _limit(value, 1, 1024, "template parameter")
                if "\n" in value or "\t" in value:
                    raise Refusal(132000, "template parameters may not hold new lines or tabs")
            received.text = "\n".join(params)
        else:
            raise Refusal(131051, f"type {kind!r} is not supported")
        return received

    @staticmethod
    def _interactive(i: JSON) -> tuple[str, list[tuple[str, str]]]:
        body = _text(i, "body", "text")
        _limit(body, 1, 1024, "interactive.body.text")
        action = i.get("action") or {}
        options: list[tuple[str, str]] = []
        if i.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                raise Refusal(131009, "reply buttons: 1 to 3")
            for b in buttons:
                reply = b.get("reply") or {}
                if b.get("type") != "reply":
                    raise Refusal(131009, "button type must be reply")
                _limit(reply.get("id", ""), 1, 256, "button id")
                _limit(reply.get("title", ""), 1, 20, "button title")
                options.append((reply["id"], reply["title"]))
            if len({o[1] for o in options}) != len(options):
                raise Refusal(131009, "button titles must be unique")
        elif i.get("type") == "list":
            _limit(action.get("button", ""), 1, 20, "list button label")
            sections = action.get("sections") or []
            if not 1 <= len(sections) <= 10:
                raise Refusal(131009, "list sections: 1 to 10")
            for section in sections:
                for row in section.get("rows") or []:
                    _limit(row.get("id", ""), 1, 200, "row id")
                    _limit(row.get("title", ""), 1, 24, "row title")
                    _limit(row.get("description", ""), 0, 72, "row description")
                    options.append((row["id"], row["title"]))
            if not 1 <= len(options) <= 10:
                raise Refusal(131009, "list rows: 1 to 10 in all")
        else:
            raise Refusal(131009, f"interactive type {i.get('type')!r} is not supported here")
        if len({o[0] for o in options}) != len(options):
            raise Refusal(131009, "option ids must be unique")
        return body, options

    # --- what users received -------------------------------------------------------------------
    def user(self, wa_id: str, name: str) -> WaUser:
        self.users[wa_id] = user = WaUser(wa_id, name)
        return user

    def messages(self, user: WaUser | str) -> list[Received]:
        return self.received.get(_wa_id(user), [])

    def last(self, user: WaUser | str) -> Received:
        return self.messages(user)[-1]

    async def next_message(self, user: WaUser | str, timeout: float = 5.0, contains: str | None = None) -> Received:
        """The next message to ``user`` not returned before (skipping those without ``contains``)."""
        wa_id = _wa_id(user)
        deadline = time.monotonic() + timeout
        while True:
            got = self.received.get(wa_id, [])
            start = self._cursor.get(wa_id, 0)
            for index in range(start, len(got)):
                if contains is None or contains in got[index].text:
                    self._cursor[wa_id] = index + 1
                    return got[index]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no message to {wa_id} containing {contains!r} within {timeout}s; "
                                     f"got {[m.text[:60] for m in got[start:]]}")
            self._changed.clear()
            try:
                async with asyncio.timeout(left):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def assert_silent(self, user: WaUser | str, within: float = 0.3) -> None:
        wa_id = _wa_id(user)
        await asyncio.sleep(within)
        new = self.received.get(wa_id, [])[self._cursor.get(wa_id, 0):]
        assert not new, f"unexpected messages to {wa_id}: {[m.text[:80] for m in new]}"

    # --- what users send (signed webhooks) ---------------------------------------------------------
    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    async def post(self, body: JSON | bytes, *, signature: str | None = None, signed: bool = True) -> int:
        """POST to the bot's webhook; returns the HTTP status."""
        assert self.webhook_url, "set webhook_url to the bot's /whatsapp/webhook"
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = signature or self.sign(raw)
        assert self._session is not None
        async with self._session.post(self.webhook_url, data=raw, headers=headers) as response:
            await response.read()
            return response.status

    def envelope(self, value: JSON, phone_number_id: str | None = None) -> JSON:
        return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "77001234567",
                             "phone_number_id": phone_number_id or self.phone_number_id}, **value}}]}]}

    def inbound(self, user: WaUser, kind: str, content: JSON, *, context: str | None = None,
                phone_number_id: str | None = None) -> tuple[JSON, str]:
        """The webhook body for one message from ``user`` (and its id)."""
        message_id = f"wamid.in{next(self._ids)}"
        message: JSON = {"from": user.wa_id, "id": message_id, "timestamp": str(int(self.now())), "type": kind,
                         kind: content}
        if context is not None:
            message["context"] = {"from": "77001234567", "id": context}
        return self.envelope({"contacts": [{"profile": {"name": user.name}, "wa_id": user.wa_id}],
                              "messages": [message]}, phone_number_id), message_id

    async def send(self, user: WaUser, kind: str, content: JSON, *, context: str | None = None) -> int:
        body, _ = self.inbound(user, kind, content, context=context)
        status = await self.post(body)
        if status == 200 and kind != "reaction":
            self.last_inbound[user.wa_id] = self.now()
        return status

    async def send_text(self, user: WaUser, text: str) -> int:
        return await self.send(user, "text", {"body": text})

    async def press(self, user: WaUser, message: Received, title: str) -> int:
        """Tap the option titled ``title`` (or starting with it) in an interactive message."""
        for option_id, option_title in message.options:
            if option_title == title:
                break
        else:
            found = [o for o in message.options if o[1].startswith(title)]
            assert len(found) == 1, f"no single option {title!r} in {message.options}"
            option_id, option_title = found[0]
        return await self.press_id(user, message, option_id, option_title)

    async def press_id(self, user: WaUser, message: Received | str, option_id: str, title: str = "?") -> int:
        context = message if isinstance(message, str) else message.id
        kind = "list_reply" if isinstance(message, Received) and message.payload.get(
            "interactive", {}).get("type") == "list" else "button_reply"
        return await self.send(user, "interactive", {"type": kind, kind: {"id": option_id, "title": title}},
                               context=context)

    async def share_contact(self, user: WaUser, phone: str, owner: WaUser | None = None) -> int:
        owner = owner or user
        return await self.send(user, "contacts", [{"name": {"formatted_name": owner.name, "first_name": owner.name},
                                                    "phones": [{"phone": phone, "wa_id": owner.wa_id,
                                                                "type": "CELL"}]}])

    async def post_status(self, message_id: str, status: str, recipient: str, error_code: int | None = None) -> int:
        entry: JSON = {"id": message_id, "status": status, "timestamp": str(int(self.now())),
                       "recipient_id": recipient}
        if error_code is not None:
            entry["errors"] = [{"code": error_code, "title": ERRORS.get(error_code, "error")}]
        return await self.post(self.envelope({"statuses": [entry]}))


UNKNOWN_KINDS: dict[str, JSON] = {
    "location": {"latitude": 43.25, "longitude": 76.95, "name": "Көктерек"},
    "sticker": {"id": "sticker-1", "mime_type": "image/webp", "animated": False},
    "reaction": {"message_id": "wamid.any", "emoji": "👍"},
    "edit": {"original_message_id": "wamid.any", "message": {"type": "text", "text": {"body": "edited"}}},
    "audio": {"id": "voice-1", "mime_type": "audio/ogg; codecs=opus", "voice": True},
}


def _wa_id(user: WaUser | str) -> str:
    return user.wa_id if isinstance(user, WaUser) else user


def _text(p: JSON, outer: str, inner: str) -> str:
    value = (p.get(outer) or {}).get(inner)
    if not isinstance(value, str):
        raise Refusal(100, f"{outer}.{inner} is required")
    return value


def _limit(value: Any, low: int, high: int, what: str) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise Refusal(131009, f"{what} must be {low} to {high} characters, got {value!r:.80}")
