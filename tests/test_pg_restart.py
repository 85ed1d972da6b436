"""A PostgreSQL restart under load: ``qatysu run`` keeps serving, and no vote is lost or counted twice.

The bot runs as an operator runs it (a child process, Telegram's and WhatsApp's webhooks on one
port) on a PostgreSQL server of this test's own (``PG_LOCAL_PORT`` below; the shared test server
is never restarted). Members vote in a burst; mid-burst the server is stopped (its sessions cut),
stays down longer than a unit of work waits for it, and starts again. While it is down, the
updates in hand wait and run again (``PgDatabase.atomic``: a lost connection is a transient
failure, like a conflict), and what cannot wait longer is refused as Telegram and Meta expect: a
Telegram webhook gets a non-200 (Telegram delivers it again), a WhatsApp POST a 503 unless it is
already committed to the inbox. The senders here deliver again what got no 200, as theirs do.
Once the server is back the pool connects anew: every vote is counted exactly once, the bot
answers again, and its log says once that the database was lost and once that it is back, with
no traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from bot.storage import ballots
from bot.storage.pg import PgDatabase
from tests.stores import PG
from tests.test_e2e_telegram import Bot, PROBLEMS, button_for, new_community, onboard, say
from tests.test_serving import Run, free_port
from tests.test_whatsapp_e2e import PHONE_ID, SECRET, VERIFY, WA_TOKEN

ROOT = Path(__file__).resolve().parent.parent
PORT = 5479  # this test's own server
DOWN = 5.5  # seconds the server stays down: with its stop and start, longer than a unit of work waits (5 s)
TELEGRAM_MEMBERS = 16
WHATSAPP_MEMBERS = 4

pytestmark = pytest.mark.skipif(not PG, reason="needs PostgreSQL installed (QATYSU_TEST_PG: scripts/pg_local.sh)")


def pg_local(*args: str) -> str:
    env = {**os.environ, "PG_LOCAL_PORT": str(PORT), "PG_LOCAL_DIR": f"/tmp/qatysu-pg-restart-{PORT}"}
    done = subprocess.run([str(ROOT / "scripts" / "pg_local.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def own_server():
    url = pg_local("start")
    try:
        yield url
    finally:
        pg_local("stop")


async def seed(url: str, telegram_ids: list[int], wa_ids: list[str]) -> None:
    """Members who joined earlier (stored directly: onboarding them over HTTP is not the point)."""
    async with PgDatabase(url) as db:
        async with db.transaction() as tx:
            for channel, external in [("telegram", str(i)) for i in telegram_ids] + [("whatsapp", w) for w in wa_ids]:
                member = await tx.insert("INSERT INTO members (name, locale, consent_at, active_community, created_at)"
                                         " VALUES (?, 'en', 'now', 1, 'now')", (f"M{external[-4:]}",))
                await tx.execute("INSERT INTO identities VALUES (?, ?, ?, 'now')", (channel, external, member))
                await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                                 " VALUES (1, ?, 'member', 'now')", (member,))


async def server_down(within: float = 20.0) -> None:
    """Return once the test's server refuses connections (it is being restarted)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", PORT)
        except OSError:
            return
        writer.close()
        await asyncio.sleep(0.02)
    raise AssertionError(f"the server did not go down within {within:.0f} s")


class Sender:
    """Telegram's and Meta's side: deliver again, after a pause, what got no 200."""

    def __init__(self) -> None:
        self.refused = 0  # deliveries answered with something else than 200 (or not at all)

    async def deliver(self, post) -> None:
        deadline = time.monotonic() + 40
        while True:
            try:
                if await post() == 200:
                    return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            self.refused += 1
            assert time.monotonic() < deadline, "not accepted within 40 s"
            await asyncio.sleep(0.3)


async def test_a_postgresql_restart_mid_burst_loses_no_vote_and_counts_none_twice(tg, wa, own_server, tmp_path):
    url = own_server
    # The village, set up by the bot in this process: the facilitator, the group, three problems.
    setup = Bot(tg, url)
    await setup.start()
    try:
        aigerim = tg.user(1, "Айгерим", "kk")
        await onboard(tg, aigerim, "қазақша")
        code = await new_community(tg, aigerim)
        group = tg.group(-100777, "Көктерек", with_bot=True)
        await say(tg, aigerim, f"/link {code}", group)
        for text in PROBLEMS[:3]:
            await say(tg, aigerim, f"/propose {text}")
        members = [tg.user(7000 + i, f"M{i}", "en") for i in range(TELEGRAM_MEMBERS)]
        phones = [wa.user(f"7701000{i:04d}", f"W{i}") for i in range(WHATSAPP_MEMBERS)]
        await seed(url, [m.id for m in members], [p.wa_id for p in phones])
        ballot = await say(tg, aigerim, "/poll dots 3", group)
    finally:
        await setup.stop()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = Run(tmp_path, TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_BASE=tg.base_url, TELEGRAM_WEBHOOK_URL=base,
              TELEGRAM_WEBHOOK_SECRET="s3cret", QATYSU_HTTP_HOST="127.0.0.1", QATYSU_HTTP_PORT=str(port),
              WHATSAPP_TOKEN=WA_TOKEN, WHATSAPP_PHONE_NUMBER_ID=PHONE_ID, WHATSAPP_APP_SECRET=SECRET,
              WHATSAPP_VERIFY_TOKEN=VERIFY, WHATSAPP_API_BASE=wa.base_url, WHATSAPP_API_VERSION=wa.version)
    run.env["QATYSU_DB"] = url
    wa.webhook_url = f"{base}/whatsapp/webhook"
    await run.start()
    try:
        await run.until(lambda: _true(bool(tg.webhook_url) and "WhatsApp webhook listening" in run.text()),
                        "the webhooks")
        sender = Sender()
        taps: list[dict] = []
        accepted = asyncio.Event()  # a third of the taps are in: the server goes down

        async def telegram_member(user) -> None:
            for number in (1, 2, 3):
                update = tg.press(user, ballot, button_for(ballot, number), chat=group)
                taps.append(update)
                await sender.deliver(lambda: tg.deliver_webhook(update, timeout=30))
                if len(taps) >= TELEGRAM_MEMBERS:
                    accepted.set()

        async def whatsapp_member(phone) -> None:
            async def post(body) -> None:
                await sender.deliver(lambda: wa.post(body))
                wa.last_inbound[phone.wa_id] = wa.now()  # they wrote: the 24-hour window is open

            async def came(expected: str, since: int) -> str:
                deadline = time.monotonic() + 40
                while True:
                    for message in wa.messages(phone)[since:]:
                        for text in (expected, "no longer works"):
                            if text in message.text:
                                return text
                    assert time.monotonic() < deadline, \
                        f"no {expected!r} to {phone.name}: {[m.text[:40] for m in wa.messages(phone)]}\n{run.text()}"
                    await asyncio.sleep(0.05)

            async def choose(title, expected: str) -> None:
                """Tap ``title`` in the newest message offering it. A message sent while the server
                was down could not be recorded: it is sent again, and the first one's buttons no
                longer work (the member taps the newer one, as a person would)."""
                while True:
                    offering = [m for m in wa.messages(phone) if any(t.startswith(title) for _, t in m.options)]
                    if not offering:
                        await asyncio.sleep(0.05)
                        continue
                    message, since = offering[-1], len(wa.messages(phone))
                    option = next((i, t) for i, t in message.options if t.startswith(title))
                    kind = "list_reply" if message.payload.get("interactive", {}).get("type") == "list" else "button_reply"
                    await post(wa.inbound(phone, "interactive", {"type": kind, kind: {"id": option[0], "title": option[1]}},
                                          context=message.id)[0])
                    if await came(expected, since) == expected:
                        return

            since = len(wa.messages(phone))
            await post(wa.inbound(phone, "text", {"body": "/vote"})[0])
            await came("waiting for you", since)
            await choose("🗳 Sticker voting", "3 stickers left")
            await choose("1 ·", "2 stickers left")

        async def restart() -> None:
            await accepted.wait()
            await asyncio.to_thread(pg_local, "restart", str(DOWN))

        voting = [asyncio.create_task(telegram_member(m)) for m in members[:TELEGRAM_MEMBERS // 2]]
        voting += [asyncio.create_task(whatsapp_member(p)) for p in phones]
        restarting = asyncio.create_task(restart())
        await accepted.wait()
        await server_down()  # the rest vote into the outage (on a quick machine the first half is over by then)
        voting += [asyncio.create_task(telegram_member(m)) for m in members[TELEGRAM_MEMBERS // 2:]]
        await asyncio.wait_for(asyncio.gather(*voting, restarting), 90)
        # that the outage was met is the log's one "units of work wait for it" (below): a quick machine
        # answers every delivery 200 within the busy timeout, with nothing refused

        # Every tap answered with its toast; the bot answers anew after the restart.
        answers = [tg.callback_answers.get(t["callback_query"]["id"]) for t in taps]
        assert all(a is not None and a["text"].startswith("Sticker placed") for a in answers), answers
        assert await tg.deliver_webhook(tg.send(members[0], "/help")) == 200
        assert (await tg.next_message(members[0].id))["text"]
        code, _ = await run.terminate()
        assert code == 0
    finally:
        await run.kill()

    async with PgDatabase(url) as db:
        async with db.transaction() as tx:
            stickers = await ballots.all_stickers(tx, 1)
            counts = dict(await ballots.options(tx, 1))
            turnout = (await ballots.get(tx, 1)).turnout
    assert len(stickers) == TELEGRAM_MEMBERS + WHATSAPP_MEMBERS and turnout == len(stickers)
    assert sorted(sum(s.values()) for s in stickers.values()) == [1] * WHATSAPP_MEMBERS + [3] * TELEGRAM_MEMBERS
    assert sum(counts.values()) == 3 * TELEGRAM_MEMBERS + WHATSAPP_MEMBERS, counts
    log = run.text()
    assert "Traceback" not in log, log
    assert log.count("units of work wait for it") == 1 and log.count("is reachable again") == 1, log


async def _true(value) -> bool:
    return value
