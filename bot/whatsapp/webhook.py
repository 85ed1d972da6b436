"""The webhook Meta posts WhatsApp messages and status callbacks to: ``/whatsapp/webhook``.

GET answers Meta's verification (``hub.challenge`` for the right ``hub.verify_token``, else 403).
A POST must carry ``X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, raw body)``: without it,
or wrong, 401 and nothing stored; over 1 MB, 413; not JSON, 400. Entries for another phone number
id are ignored. The messages are written to the durable inbox (by message id: one delivered
twice, or delivered again after it was handled, is handled once) before the 200, since Meta
delivers again what it got no 200 for, and are handled after it; status callbacks are recorded
against the messages they concern. POSTs that arrive together are written in one transaction and
answered once it has committed (503 to each when it fails); the stored messages are handled
when the POSTs pause (``bot/whatsapp/ingest.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot.config import WhatsAppConfig
from bot.storage import inbox, whatsapp as store
from bot.storage.db import Database, Tx
from bot.whatsapp.channel import WhatsAppChannel
from bot.whatsapp.ingest import GroupCommit, NotStored
from bot.whatsapp.sender import CHANNEL

log = logging.getLogger(__name__)
PATH = "/whatsapp/webhook"
BODY_MAX = 1024 * 1024


def parse(body: Any, phone_number_id: str,
          worker: int | None = None) -> tuple[list[tuple[str, str, str, float]], list[dict]]:
    """The messages (id, sender, stored JSON, timestamp) and status callbacks for our number; the
    stored JSON names the ``worker`` that stores it, when several share the database."""
    messages: list[tuple[str, str, str, float]] = []
    statuses: list[dict] = []
    received = round(time.time(), 3)  # a double tap is judged by when it came, not when it is handled
    entries = body.get("entry") if isinstance(body, dict) else None
    for entry in _list(entries):
        for change in _list(entry.get("changes")) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if not isinstance(metadata, dict) or str(metadata.get("phone_number_id", "")) != phone_number_id:
                continue  # another number's (a shared app), or not a message at all: not ours to answer
            names = {str(c.get("wa_id")): str(c["profile"].get("name", "")) for c in _list(value.get("contacts"))
                     if isinstance(c, dict) and isinstance(c.get("profile"), dict)}
            for message in _list(value.get("messages")):
                if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
                    continue
                sender = str(message["from"])
                kept = {"message": message, "name": names.get(sender, ""), "received": received}
                if worker is not None:  # handled by this worker; should it die first, by another (bot/leader.py)
                    kept["worker"] = worker
                stored = json.dumps(kept, ensure_ascii=False)
                messages.append((str(message["id"])[:200], sender, stored, _timestamp(message.get("timestamp"))))
            statuses.extend(s for s in _list(value.get("statuses")) if isinstance(s, dict) and s.get("id"))
    return messages, statuses


@dataclass
class Received:
    """What one POST brought for our number: messages (id, sender, stored JSON, timestamp) and
    status callbacks."""

    messages: list[tuple[str, str, str, float]]
    statuses: list[dict]


async def keep(tx: Tx, posts: list[Received]) -> list[list[str]]:
    """Write what POSTs brought, in one transaction: each message not seen before to the inbox,
    each sender's last message (their 24-hour window), each status against its message. The ids
    of each POST's messages new to the inbox (a message id seen before is handled once)."""
    now = time.time()
    received_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new = [await inbox.store_new(tx, CHANNEL, [(m[0], m[2]) for m in post.messages], received_at) for post in posts]
    await store.wrote_many(tx, [(sender, min(at, now)) for post in posts for _, sender, _, at in post.messages])
    for post in posts:
        for status in post.statuses:
            code = next((e.get("code") for e in _list(status.get("errors")) if isinstance(e, dict)), None)
            await store.status(tx, str(status["id"]), str(status.get("status", "")),
                               _timestamp(status.get("timestamp")), code if isinstance(code, int) else None,
                               str(status.get("recipient_id", "")))
    return new


def inbox_writer(db: Database) -> GroupCommit[Received, list[str]]:
    return GroupCommit(db, keep, name="a group of WhatsApp webhooks")


def routes(config: WhatsAppConfig, db: Database, channel: WhatsAppChannel,
           writer: GroupCommit[Received, list[str]] | None = None, worker: int | None = None) -> list[web.RouteDef]:
    secret = config.app_secret.encode()
    writer = inbox_writer(db) if writer is None else writer
    turns = channel.turns

    async def verify(request: web.Request) -> web.Response:
        query = request.query
        if query.get("hub.mode") == "subscribe" and hmac.compare_digest(
                query.get("hub.verify_token", "").encode(), config.verify_token.encode()):
            return web.Response(text=query.get("hub.challenge", ""))
        return web.Response(status=403, text="verification failed")

    async def receive(request: web.Request) -> web.Response:
        turns.arriving()  # the stored messages wait while POSTs arrive
        try:
            return await take(request)
        finally:
            turns.arrived()

    async def take(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > BODY_MAX:
            return web.Response(status=413, text="too large")
        raw = await request.read()  # the application's client_max_size answers 413 to a larger chunked body
        given = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("refused a WhatsApp webhook with %s signature", "a wrong" if given else "no")
            return web.Response(status=401, text="bad signature")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        messages, statuses = parse(body, config.phone_number_id, worker)
        if not messages and not statuses:
            return web.Response(text="ok")

        def handle_new(new: list[str]) -> None:  # committed: handled even if this POST is cancelled now
            fresh = set(new)
            for message_id, sender, stored, _ in messages:
                if message_id in fresh:
                    fresh.discard(message_id)  # twice in one POST: handled once
                    channel.submit(message_id, stored, wa_id=sender)

        try:  # with the POSTs that arrived with it: answered once their transaction has committed
            await writer.write(Received(messages, statuses), then=handle_new)
        except NotStored:
            return web.Response(status=503, text="try again")  # Meta delivers it again
        return web.Response(text="ok")

    return [web.get(PATH, verify), web.post(PATH, receive)]


def application(config: WhatsAppConfig, db: Database, channel: WhatsAppChannel) -> web.Application:
    app = web.Application(client_max_size=BODY_MAX)
    app.add_routes(routes(config, db, channel))
    return app


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _timestamp(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return time.time()
