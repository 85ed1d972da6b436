"""``qatysu run`` as an operator runs it, in a child process against the fake Bot API and the fake
WhatsApp Cloud API: one HTTP server for Telegram's and WhatsApp's webhooks (it used to refuse
the two together), and a clean stop on SIGTERM (it used to die on the signal, mid-work)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from bot.delivery import Delivery
from bot.flows.types import Message
from bot.outbox import OutboxWorker
from bot.serve import STOP_WITHIN
from bot.storage import outbox
from bot.storage.db import Database
from tests.conftest import open_store, store_target
from tests.test_e2e_telegram import TOKEN
from tests.test_health import health
from tests.test_startup import closed_port
from tests.test_whatsapp_e2e import PHONE_ID, SECRET, VERIFY, WA_TOKEN, wa_say

WITHIN = 60.0  # seconds for a start, the interpreter's included (a loaded machine)


class Run:
    """``python -m bot run`` in a child process, its stderr in a file."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("TELEGRAM_", "QATYSU_", "WHATSAPP_"))}
        self.env.update(QATYSU_DB=store_target(str(tmp_path / "run.db")), **env)  # or a PostgreSQL database
        self.cwd, self.log = tmp_path, tmp_path / "run.log"
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0

    async def start(self) -> None:
        self.runs += 1
        with open(self.log, "ab") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.cwd, env=self.env,
                stdout=asyncio.subprocess.DEVNULL, stderr=err)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    async def until(self, condition, what: str, timeout: float = WITHIN) -> None:
        deadline = time.monotonic() + timeout
        while not await condition():
            assert self.process.returncode is None, f"exited {self.process.returncode} before {what}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s:\n{self.text()}"
            await asyncio.sleep(0.05)

    async def terminate(self) -> tuple[int, float]:
        """SIGTERM; its exit code and how long it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), STOP_WITHIN + 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"still running {STOP_WITHIN + 10:.0f} s after SIGTERM:\n{self.text()}") from None
        return code, time.monotonic() - started

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def free_port() -> int:
    return closed_port()


async def get(url: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status
    except aiohttp.ClientError:
        return None


async def test_one_port_serves_telegrams_and_whatsapps_webhooks_and_a_sigterm_stops_it_cleanly(tg, wa, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = Run(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url, TELEGRAM_WEBHOOK_URL=base,
              TELEGRAM_WEBHOOK_SECRET="s3cret", QATYSU_HTTP_HOST="127.0.0.1", QATYSU_HTTP_PORT=str(port),
              WHATSAPP_TOKEN=WA_TOKEN, WHATSAPP_PHONE_NUMBER_ID=PHONE_ID, WHATSAPP_APP_SECRET=SECRET,
              WHATSAPP_VERIFY_TOKEN=VERIFY, WHATSAPP_API_BASE=wa.base_url, WHATSAPP_API_VERSION=wa.version)
    await run.start()
    try:
        async def listening() -> bool:
            return bool(tg.webhook_url) and "WhatsApp webhook listening" in run.text()

        await run.until(listening, "webhooks")
        assert tg.webhook_url == f"{base}/telegram/webhook" and tg.webhook_secret == "s3cret"
        # Telegram's update, with its secret, on the port
        john = tg.user(3, "John", "en")
        update = tg.send(john, "/start")
        assert await tg.deliver_webhook(update, secret="wrong") in (401, 403)
        assert await tg.deliver_webhook(update) == 200
        assert "Choose your language" in (await tg.next_message(john.id))["text"]
        # WhatsApp's verification and a signed message, on the same port
        challenge = f"{base}/whatsapp/webhook?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=42"
        assert await get(challenge) == 200
        assert await get(challenge.replace(VERIFY, "wrong")) == 403
        wa.webhook_url = f"{base}/whatsapp/webhook"
        alma = wa.user("77010000001", "Алма")
        assert await wa.post(wa.inbound(alma, "text", {"body": "сәлем"})[0], signature="sha256=" + "0" * 64) == 401
        choose = await wa_say(wa, alma, "сәлем")
        assert choose.kind == "interactive" and "English" in [title for _, title in choose.options]
        assert await get(f"{base}/health") == 200 and await get(f"{base}/nothing") == 404
        env = {key: value for key, value in run.env.items() if key.startswith(("TELEGRAM_", "QATYSU_", "WHATSAPP_"))}
        healthy = await asyncio.to_thread(health, tmp_path, **env)
        assert healthy.returncode == 0 and healthy.stdout.startswith("healthy: the webhook server answers"), \
            healthy.stdout + healthy.stderr

        code, took = await run.terminate()
    finally:
        await run.kill()
    log = run.text()
    assert code == 0 and took < STOP_WITHIN + 1, (code, took, log)
    assert "Traceback" not in log and "Unclosed" not in log, log
    assert len([line for line in log.splitlines() if "stopping (SIGTERM)" in line]) == 1, log
    assert len([line for line in log.splitlines() if " stopped in " in line]) == 1, log
    assert await get(f"{base}/health") is None  # the listener is closed
    gone = await asyncio.to_thread(health, tmp_path, **env)
    assert gone.returncode == 1 and gone.stdout.startswith("unhealthy: the webhook server does not answer")


async def test_whatsapp_alone_stops_cleanly_on_sigterm_and_handles_what_it_kept_at_the_next_start(wa, tmp_path):
    port = free_port()
    run = Run(tmp_path, QATYSU_HTTP_PORT=str(port), WHATSAPP_TOKEN=WA_TOKEN, WHATSAPP_PHONE_NUMBER_ID=PHONE_ID,
              WHATSAPP_APP_SECRET=SECRET, WHATSAPP_VERIFY_TOKEN=VERIFY, WHATSAPP_API_BASE=wa.base_url,
              WHATSAPP_API_VERSION=wa.version)
    wa.webhook_url = f"http://127.0.0.1:{port}/whatsapp/webhook"  # QATYSU_HTTP_HOST's default
    alma, berik = wa.user("77010000001", "Алма"), wa.user("77010000002", "Берік")
    await run.start()
    try:
        await run.until(lambda: _true("WhatsApp webhook listening" in run.text()), "the webhook")
        await wa_say(wa, alma, "сәлем")
        code, took = await run.terminate()
        assert code == 0 and took < STOP_WITHIN + 1, (code, took, run.text())
        try:  # nobody listens: Meta delivers it again later
            refused = await wa.send_text(berik, "сәлем") != 200
        except aiohttp.ClientConnectionError:
            refused = True
        assert refused
        await run.start()
        await run.until(lambda: _true(run.text().count("WhatsApp webhook listening") == 2), "the webhook again")
        await wa_say(wa, berik, "сәлем")  # Meta's retry
        await wa.assert_silent(alma, within=0.5)  # what was answered before the stop is not answered again
        code, _ = await run.terminate()
        assert code == 0
    finally:
        await run.kill()
    log = run.text()
    assert "Traceback" not in log and log.count("stopping (SIGTERM)") == 2 and log.count(" stopped in ") == 2, log


async def test_a_sigterm_while_taps_flow_loses_no_acknowledged_update_and_sends_nothing_twice(tg, tmp_path):
    """Long polling: forty members have their language question; their taps come in a stream,
    each answered slowly (sendMessage takes 0.1 s), and SIGTERM lands in the middle. The bot
    exits 0 within the bound; every tap Telegram counts as delivered (confirmed by an offset) was
    answered or is still in the inbox, the restart answers the rest, and nobody gets an answer
    twice."""
    run = Run(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url)
    users = [tg.user(100 + n, f"Member{n}", "en") for n in range(40)]
    await run.start()
    try:
        await run.until(lambda: _true(tg.stats["getUpdates"]), "polling")
        for user in users:
            tg.send(user, "/start")

        async def asked_all() -> bool:
            return all(any("Choose your language" in (m["text"] or "") for m in tg.messages(u.id)) for u in users)

        await run.until(asked_all, "every language question")
        questions = {u.id: tg.last(u.id) for u in users}
        tg.slow(0.1, methods=["sendMessage"])
        taps = []

        async def tapping() -> None:
            for user in users:
                taps.append(tg.press_button(user, questions[user.id], "English"))
                await asyncio.sleep(0.03)

        stream = asyncio.create_task(tapping())
        await run.until(lambda: _true(len(taps) >= len(users) // 2), "half the taps")
        code, took = await run.terminate()
        await stream
        confirmed = tg.confirmed_offset
        tg.slow(0, methods=["sendMessage"])
        log = run.text()
        assert code == 0 and took < STOP_WITHIN + 1, (code, took, log)
        assert "Traceback" not in log, log
        stopping = log.split("stopping (SIGTERM)", 1)[1]
        assert " stopped in " in stopping, log
        assert "is handled" in stopping.split(" stopped in ", 1)[0], "no tap was in hand at the signal"

        def consents(user) -> list:
            return [m for m in tg.all_messages(user.id) if "agree" in (m["text"] or "").lower()
                    and m["message_id"] != questions[user.id]["message_id"]]

        answered = {u.id for u in users if consents(u)}
        async with open_store(run.env["QATYSU_DB"]) as db:
            async with db.transaction() as tx:
                kept = {int(row[0]) for row in await tx.all("SELECT update_id FROM inbox WHERE channel = 'telegram'")}
        acknowledged = [tap for tap in taps if tap["update_id"] < confirmed]
        assert acknowledged, "SIGTERM came before any tap was taken: the test proves nothing"
        for tap in acknowledged:
            user_id = tap["callback_query"]["from"]["id"]
            assert user_id in answered or tap["update_id"] in kept, f"tap {tap['update_id']} was lost"
        assert len(answered) < len(users), "every tap was handled before the stop: the test proves nothing"

        await run.start()  # the inbox's and Telegram's leftovers are handled

        async def all_answered() -> bool:
            return all(consents(u) for u in users)

        await run.until(all_answered, "every tap answered after the restart")
        await asyncio.sleep(1.0)  # time for a second answer, if one were coming
        for user in users:
            assert len(consents(user)) == 1, f"{user.first_name} got {len(consents(user))} answers"
        answers = [c for c in tg.calls("answerCallbackQuery") if c.ok]
        assert len({c.params["callback_query_id"] for c in answers}) == len(answers), "a tap answered twice"
        code, _ = await run.terminate()
        assert code == 0
    finally:
        await run.kill()


async def _true(value) -> bool:
    return bool(value)


async def test_the_outbox_stops_after_the_send_in_flight_and_keeps_the_rest(tmp_path):
    """A stop during a send lets it finish and takes it off the queue (cut off, it would go again
    after a restart); what was not begun stays queued."""
    sent: list[str] = []
    sending = asyncio.Event()

    class SlowSender:
        rate = 1000.0

        def min_interval(self, chat_id: str) -> float:
            return 0.0

        async def send(self, message: Message, image) -> int:
            sending.set()
            await asyncio.sleep(0.3)
            sent.append(message.text)
            return len(sent)

    async with Database(str(tmp_path / "outbox.db")) as db:
        delivery = Delivery(db, {"telegram": SlowSender()})
        messages = [Message("telegram", str(7 + n), f"message {n}") for n in range(3)]
        async with db.transaction() as tx:
            await outbox.add(tx, messages, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        worker = OutboxWorker(delivery)
        worker.start()
        worker._paused_until = 0.0  # no predecessor's window to wait out here
        await asyncio.wait_for(sending.wait(), 5)  # the first send is in flight
        assert sent == []
        await worker.stop(grace=2.0)
        assert sent == ["message 0"]
        async with db.transaction() as tx:
            left = await outbox.due(tx, time.time() + 3600)
        assert [item.message.text for item in left] == ["message 1", "message 2"]


async def test_an_update_that_cannot_finish_does_not_keep_the_process_past_the_bound(tg, tmp_path):
    """The network to Telegram stalls while a message is answered: the stop waits for it only
    as long as the bound allows, exits 0 all the same, and the update, still in the inbox, is
    answered once at the next start."""
    run = Run(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url)
    john = tg.user(7, "John", "en")
    await run.start()
    try:
        await run.until(lambda: _true(tg.stats["getUpdates"]), "polling")
        tg.hold(methods=["sendMessage"])
        tg.send(john, "/start")
        await run.until(lambda: _true(tg.confirmed_offset > 0 or tg.pending() == 0), "the update taken")
        await asyncio.sleep(0.5)  # its answer hangs
        code, took = await run.terminate()
        assert tg.release(apply=False) >= 1  # the process is gone: what hung had no effect
        assert code == 0 and took < STOP_WITHIN + 1, (code, took, run.text())
        assert not [m for m in tg.all_messages(john.id)]
        await run.start()
        assert "Choose your language" in (await tg.next_message(john.id, timeout=WITHIN))["text"]
        await asyncio.sleep(0.5)
        assert len(tg.all_messages(john.id)) == 1
        code, _ = await run.terminate()
        assert code == 0
    finally:
        await run.kill()
    assert "Traceback" not in run.text(), run.text()
