"""WhatsApp's inbox across several workers on one PostgreSQL database: a worker handles the
messages it stored; those a dead worker stored and did not handle are handled by a survivor
once the dead worker's lock is gone (``bot/leader.py``), each once, and two survivors never both
answer one message; a live worker's messages are never taken from it."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timezone

import pytest

from bot.config import Config
from bot.flows.types import Message, Outcome
from bot.storage import inbox, updates
from bot.storage.leader import LockSession
from bot.whatsapp.app import WhatsAppApp
from bot.whatsapp.webhook import Received, keep, parse
from tests.stores import PG, pg_url  # noqa: F401  (fixtures)
from tests.test_whatsapp_e2e import PHONE_ID, wa_config

pytestmark = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")




async def worker(wa, url: str) -> WhatsAppApp:
    """One WhatsApp worker (its own lock session, so its own worker id), sweeping every 0.5 s:
    a worker gone for 1 s (two looks 0.5 s apart... and then 1 s) loses its messages."""
    app = WhatsAppApp(Config(db_path=url, http_port=0, whatsapp=wa_config(wa)), rng=random.Random(3),
                      edit_interval=0.2, retry_delay=0.02, sweep_interval=0.5)
    await app.start()
    return app


async def store_as(app: WhatsAppApp, worker_id: int, body: dict) -> str:
    """Write what a POST brought to the inbox as worker ``worker_id``'s webhook would; the message id."""
    messages, statuses = parse(body, PHONE_ID, worker_id)
    (new,) = await app.db.atomic(lambda tx: keep(tx, [Received(messages, statuses)]))
    assert len(new) == 1
    return new[0]


async def test_a_dead_workers_messages_are_answered_once_by_the_survivors_and_a_live_ones_never(wa, pg_url):
    first, second = await worker(wa, pg_url), await worker(wa, pg_url)
    dying = LockSession(pg_url)  # a third worker, alive until the test closes its session
    await dying.connect(lambda: None)
    gone = await dying.take_worker_id()
    try:
        assert len({first.worker, second.worker, gone}) == 3
        alma, bota = wa.user("77010000001", "Алма"), wa.user("77010000002", "Бота")
        body, _ = wa.inbound(alma, "text", {"body": "/start"})
        waiting = await store_as(first, gone, body)  # stored; the worker dies before it handles it
        body, _ = wa.inbound(bota, "text", {"body": "/start"})
        handled = await store_as(first, gone, body)  # handled and committed; it died before answering

        async def answered_not_sent(tx):
            await updates.claim(tx, "whatsapp", handled, datetime.now(timezone.utc).isoformat(timespec="seconds"))
            await updates.keep_reply(tx, "whatsapp", handled,
                                     Outcome(messages=[Message("whatsapp", bota.wa_id, "The answer it died before")]))

        await first.db.atomic(answered_not_sent)
        await wa.assert_silent(alma, within=2.5)  # its worker lives: its messages stay its own
        await wa.assert_silent(bota, within=0)
        assert len(await first.db.atomic(lambda tx: inbox.pending(tx, "whatsapp"))) == 2

        await dying.close()  # the worker dies: its lock goes with its session
        greeting = await wa.next_message(alma, timeout=10)
        assert greeting.text.startswith("Сәлеметсіз бе! Мен Qatysu"), greeting.text
        again = await wa.next_message(bota, timeout=10)
        assert again.text == "The answer it died before"
        await asyncio.sleep(2.0)  # both survivors look again and again: nothing is answered twice
        texts = [m.text for m in wa.messages(alma)]
        assert sum(t.startswith("Сәлеметсіз бе! Мен Qatysu") for t in texts) == 1, texts
        assert len(set(texts)) == len(texts), texts
        assert [m.text for m in wa.messages(bota)] == ["The answer it died before"]
        assert await first.db.atomic(lambda tx: inbox.pending(tx, "whatsapp")) == []
        assert {waiting, handled} <= {r[0] for r in await first.db.atomic(
            lambda tx: tx.all("SELECT update_id FROM processed_updates WHERE channel = 'whatsapp'"))}
    finally:
        await dying.close()
        await first.stop()
        await second.stop()


async def test_a_worker_stores_messages_under_its_own_id_and_answers_them(wa, pg_url):
    first, second = await worker(wa, pg_url), await worker(wa, pg_url)
    try:
        wa.webhook_url = f"http://127.0.0.1:{second.port}/whatsapp/webhook"
        alma = wa.user("77010000001", "Алма")
        assert await wa.send_text(alma, "/start") == 200
        await wa.next_message(alma, timeout=10)
        await asyncio.sleep(1.5)  # the other worker looks at the inbox three times meanwhile
        async with first.db.transaction() as tx:
            assert await inbox.pending(tx, "whatsapp") == []  # handled by the worker that stored it
        texts = [m.text for m in wa.messages(alma)]
        assert sum(t.startswith("Сәлеметсіз бе! Мен Qatysu") for t in texts) == 1, texts
        assert len(set(texts)) == len(texts), texts
    finally:
        await first.stop()
        await second.stop()


async def test_a_worker_killed_after_storing_and_handling_leaves_the_answer_to_a_survivor(wa, pg_url, tmp_path):
    """Real ``qatysu run --webhook`` workers serving WhatsApp: the first stores a message (Meta got
    its 200), handles it and commits, and is killed (SIGKILL) while its answer is on the way (the
    network stalls: the answer never arrives). The survivor takes the message once the dead
    worker's lock is gone and gives the answer kept with it: the member gets it once."""
    from bot.storage.pg import PgDatabase
    from tests.workers import Workers

    workers = Workers(None, pg_url, tmp_path, wa=wa, QATYSU_SWEEP_SECONDS="0.5")
    await workers.start()
    dying, survivor = workers[0], workers[1]
    try:
        wa.webhook_url = dying.wa_url  # Meta posts to one worker (the balancer chose it)
        wa.hold()
        alma = wa.user("77010000001", "Алма")
        body, message_id = wa.inbound(alma, "text", {"body": "/start"})
        assert await wa.post(body) == 200  # stored: Meta will not deliver it again
        async with PgDatabase(pg_url) as db:
            deadline = time.monotonic() + 20
            while not (wa.held and await db.scalar("SELECT COUNT(*) FROM processed_updates WHERE update_id = ?",
                                                   (message_id,))):
                assert time.monotonic() < deadline, dying.text()
                await asyncio.sleep(0.05)
        dying.kill()  # handled and committed; its answer hangs on the way
        assert wa.release(apply=False) >= 1 and not wa.messages(alma)
        greeting = await wa.next_message(alma, timeout=20)
        assert greeting.text.startswith("Сәлеметсіз бе! Мен Qatysu"), greeting.text
        await asyncio.sleep(2.0)
        texts = [m.text for m in wa.messages(alma)]
        assert sum(t.startswith("Сәлеметсіз бе! Мен Qatysu") for t in texts) == 1, texts
        assert len(set(texts)) == len(texts), texts
        assert "handling 1 WhatsApp message(s) that a stopped worker left" in survivor.text(), survivor.text()
        async with PgDatabase(pg_url) as db:
            assert await db.scalar("SELECT COUNT(*) FROM inbox") == 0
    finally:
        wa.release(apply=False)
        await workers.stop()
    assert survivor.process.returncode == 0 and "Traceback" not in survivor.text(), survivor.text()
