"""The webhook under a burst: POSTs that arrive together are written in one transaction and each
answered only once it has committed (503 to every POST of a group whose commit fails); stored
messages are handled when the POSTs pause, and a flood is still answered; a SIGKILL while POSTs
are in flight loses none that got its 200 and handles none twice; no access log line by default."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time

import aiohttp
import pytest

from bot.config import ConfigError, load
from bot.http_server import HttpServer
from bot.storage import ballots
from bot.storage.db import Database
from bot.whatsapp.ingest import Turns
from tests.test_whatsapp_e2e import PHONE_ID, SECRET, VERIFY, WA_TOKEN, start_whatsapp, wa_onboard, wa_say


def seen(db_path: str, message_ids: list[str]) -> set[str]:
    """The ids committed to the inbox or handled, as another process reading the file sees them."""
    conn = sqlite3.connect(db_path)
    try:
        marks = ",".join("?" * len(message_ids))
        rows = conn.execute(f"SELECT update_id FROM inbox WHERE update_id IN ({marks}) UNION "
                            f"SELECT update_id FROM processed_updates WHERE update_id IN ({marks})",
                            message_ids + message_ids).fetchall()
        return {r[0] for r in rows}
    finally:
        conn.close()


def write_lock(db_path: str) -> sqlite3.Connection:
    """Another connection holding the database's write lock (a backup, a maintenance script…)."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


@pytest.mark.sqlite_only  # holds the commit with SQLite's write lock, taken by another connection
async def test_posts_arriving_together_are_written_in_one_transaction_and_answered_after_it_commits(wa, wabot):
    users = [wa.user(f"7701000{i:04d}", f"M{i}") for i in range(8)]
    bodies = [wa.inbound(user, "text", {"body": "/start"}) for user in users]
    ids = [message_id for _, message_id in bodies]
    for user in users:
        wa.last_inbound[user.wa_id] = wa.now()
    writer, groups = wabot.inbox_writer, wabot.inbox_writer.groups
    lock = write_lock(wabot.db.path)
    try:
        posts = [asyncio.create_task(wa.post(body)) for body, _ in bodies]
        await until(lambda: writer.pending == len(posts))  # all taken, none committed: the lock holds them
        await asyncio.sleep(0.2)
        assert not any(p.done() for p in posts), "a POST was answered before its rows were committed"
        assert seen(wabot.db.path, ids) == set()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    answered: dict[str, set[str]] = {}
    for message_id, post in zip(ids, posts):
        assert await post == 200
        answered[message_id] = seen(wabot.db.path, [message_id])  # durable as it is answered
    assert all(answered[m] == {m} for m in ids)
    assert writer.groups - groups <= 2  # the first POST's group, then all that came while it waited
    for user in users:  # and each handled once
        menu = await wa.next_message(user)
        assert [t for _, t in menu.options] == ["✓ қазақша", "русский", "English"]
    await wabot.channel.drain()
    for user in users:
        await wa.assert_silent(user, 0.1)


@pytest.mark.sqlite_only  # holds the commit with SQLite's write lock, taken by another connection
async def test_a_group_whose_commit_fails_answers_every_post_503_and_stores_nothing(wa, wabot):
    users = [wa.user(f"7701000{i:04d}", f"M{i}") for i in range(5)]
    bodies = [wa.inbound(user, "text", {"body": "/start"}) for user in users]
    ids = [message_id for _, message_id in bodies]
    for user in users:
        wa.last_inbound[user.wa_id] = wa.now()
    wabot.db.busy_timeout_ms = 300  # the lock outlasts it: the group's transaction gives up
    lock = write_lock(wabot.db.path)
    try:
        statuses = await asyncio.gather(*(wa.post(body) for body, _ in bodies))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        wabot.db.busy_timeout_ms = 5000
    assert statuses == [503] * len(bodies)
    assert seen(wabot.db.path, ids) == set()
    for user in users:
        await wa.assert_silent(user, 0.1)
    # Meta delivers them again: stored, answered 200, each handled once; and a third time: not stored again
    assert await asyncio.gather(*(wa.post(body) for body, _ in bodies)) == [200] * len(bodies)
    await wabot.channel.drain()
    assert await asyncio.gather(*(wa.post(body) for body, _ in bodies)) == [200] * len(bodies)
    await wabot.channel.drain()
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM inbox") == 0
    for user in users:
        assert len(wa.messages(user)) == 1


async def test_a_message_twice_in_one_post_or_in_two_posts_at_once_is_handled_once(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    wa.last_inbound[alma.wa_id] = wa.now()
    body, _ = wa.inbound(alma, "text", {"body": "/start"})
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] = value["messages"] * 2
    assert await asyncio.gather(wa.post(body), wa.post(body)) == [200, 200]
    await wabot.channel.drain()
    assert len(wa.messages(alma)) == 1


# --- the handling of stored messages yields to the webhook ---------------------------------------------------
async def test_stored_messages_wait_while_posts_arrive_and_start_when_they_pause():
    turns = Turns(quiet=0.03, per_round=2, busy_rate=1000)
    started: list[int] = []
    loop = asyncio.get_running_loop()
    turns.arriving()
    for i in range(5):
        turns.add(loop.time() + 60, lambda i=i: started.append(i))
    await asyncio.sleep(0.1)
    assert started == []  # a POST in hand
    turns.arrived()
    turns.arriving()
    turns.arrived()
    await asyncio.sleep(0.01)
    assert started == []  # within the quiet pause after the last POST
    await until(lambda: len(started) == 5, timeout=1)
    assert started == [0, 1, 2, 3, 4]


async def test_a_few_stored_messages_start_per_round_so_posts_are_read_between_them():
    turns = Turns(quiet=0.0, per_round=2)
    started: list[int] = []
    loop = asyncio.get_running_loop()
    for i in range(6):
        turns.add(loop.time(), lambda i=i: started.append(i))
    rounds = []
    for _ in range(4):
        await asyncio.sleep(0)  # one round of the event loop
        rounds.append(len(started))
    assert rounds[-1] == 6 and all(b - a <= 2 for a, b in zip([0] + rounds, rounds))


async def test_during_a_long_flood_stored_messages_start_at_their_deadline_a_few_a_second():
    turns = Turns(quiet=0.05, per_round=4, busy_rate=50)
    started: list[float] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for _ in range(20):
        turns.add(t0 + 0.2, lambda: started.append(loop.time() - t0))
    turns.arriving()  # the flood: a POST always in hand
    try:
        await asyncio.sleep(0.15)
        assert started == []
        await asyncio.sleep(0.3)  # past the deadline: 50 a second while the flood goes on
        assert 4 <= len(started) <= 16, started
        assert all(b - a >= 0.015 for a, b in zip(started, started[1:]))
    finally:
        turns.arrived()
    await until(lambda: len(started) == 20, timeout=1)  # the flood over: the rest at once


async def test_messages_taken_during_a_burst_wait_and_then_each_members_go_in_the_order_they_came(wa, wabot):
    alma, bek = wa.user("77010000001", "Алма"), wa.user("77010000002", "Бек")
    for user in (alma, bek):
        wa.last_inbound[user.wa_id] = wa.now()
    handled: list[tuple[str, str]] = []
    handle = wabot.channel.handle

    async def recorded(message_id, stored, retry=False):
        handled.append((stored["message"]["from"], stored["message"]["text"]["body"]))
        await handle(message_id, stored, retry)

    wabot.channel.handle = recorded
    wabot.channel.turns.arriving()  # a burst of POSTs from elsewhere goes on meanwhile
    try:
        for text in ("/start", "/help", "/mydata"):
            for user in (alma, bek):
                assert await wa.send_text(user, text) == 200
        await asyncio.sleep(0.1)
        assert handled == []  # taken and stored; their handling waits for the burst to pause
    finally:
        wabot.channel.turns.arrived()
    await wabot.channel.drain()
    for user in (alma, bek):
        assert [text for who, text in handled if who == user.wa_id] == ["/start", "/help", "/mydata"]


# --- the access log --------------------------------------------------------------------------------------------
async def access_lines(caplog, access_log: bool) -> list[str]:
    server = HttpServer("127.0.0.1", 0, "test", access_log=access_log)
    await server.start()
    try:
        with caplog.at_level(logging.INFO, logger="aiohttp.access"):
            caplog.clear()
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{server.port}/health") as response:
                    assert response.status == 200
            await asyncio.sleep(0.05)
            return [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    finally:
        await server.stop()


async def test_no_line_per_request_unless_the_operator_asks_for_it(caplog):
    assert load({}).http_access_log is False
    assert load({"QATYSU_HTTP_ACCESS_LOG": "1"}).http_access_log is True
    with pytest.raises(ConfigError, match="QATYSU_HTTP_ACCESS_LOG"):
        load({"QATYSU_HTTP_ACCESS_LOG": "verbose"})
    assert await access_lines(caplog, access_log=False) == []
    lines = await access_lines(caplog, access_log=True)
    assert len(lines) == 1 and '"GET /health HTTP/1.1" 200' in lines[0]


# --- a crash while POSTs are in flight -------------------------------------------------------------------------
MEMBERS = 240


def proposal(i: int) -> str:
    return f"Problem {i}: the road to the school floods every spring"


async def seed_members(db_path: str, wa, count: int) -> list:
    """WhatsApp members of community 1 (stored directly: onboarding them is not the point)."""
    users = [wa.user(f"7702{i:07d}", f"W{i}") for i in range(count)]
    async with Database(db_path) as db:
        async with db.transaction() as tx:
            for user in users:
                member_id = await tx.insert(
                    "INSERT INTO members (name, locale, consent_at, created_at, active_community)"
                    " VALUES (?, 'en', 'now', 'now', 1)", (user.name,))
                await tx.execute("INSERT INTO identities VALUES ('whatsapp', ?, ?, 'now')", (user.wa_id, member_id))
                await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                                 " VALUES (1, ?, 'member', 'now')", (member_id,))
    for user in users:
        wa.last_inbound[user.wa_id] = wa.now()
    return users


class WhatsAppProcess:
    """``qatysu run`` serving WhatsApp alone in a child process: killed with SIGKILL, started again."""

    def __init__(self, wa, db_path: str, port: int) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_"))}
        self.env.update(WHATSAPP_TOKEN=WA_TOKEN, WHATSAPP_PHONE_NUMBER_ID=PHONE_ID, WHATSAPP_APP_SECRET=SECRET,
                        WHATSAPP_VERIFY_TOKEN=VERIFY, WHATSAPP_API_BASE=wa.base_url, QATYSU_DB=db_path,
                        QATYSU_HTTP_PORT=str(port))
        self.url = f"http://127.0.0.1:{port}/whatsapp/webhook"
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        with open(self.env["QATYSU_DB"] + ".log", "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env,
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(self.url.replace("/whatsapp/webhook", "/health")) as response:
                        if response.status == 200 and "WhatsApp" in await response.text():
                            async with session.get(self.url, params={"hub.mode": "subscribe"}) as verify:
                                if verify.status == 403:  # the webhook is mounted
                                    return
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "the bot never listened"
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def problems(db_path: str) -> list[str]:
    async with Database(db_path) as db:
        async with db.transaction() as tx:
            return [r[0] for r in await tx.all("SELECT text FROM problems")]


async def test_sigkill_while_posts_are_in_flight_loses_none_that_got_its_200_and_handles_none_twice(
        wa, tmp_path, unused_tcp_port):
    db_path = str(tmp_path / "kill.db")
    app = await start_whatsapp(wa, db_path)  # a facilitator creates the community on WhatsApp
    bek = wa.user("77010000009", "Бек")
    await wa_onboard(wa, bek, "English")
    await wa_say(wa, bek, "/new")
    await wa_say(wa, bek, "Көктерек ауылы")
    await wa_say(wa, bek, "Талғар ауданы", contains="wa.me")
    await app.stop()
    users = await seed_members(db_path, wa, MEMBERS)
    posts = [wa.inbound(user, "text", {"body": f"/propose {proposal(i)}"}) for i, user in enumerate(users)]

    bot = WhatsAppProcess(wa, db_path, unused_tcp_port)
    wa.webhook_url = bot.url
    await bot.start()
    status: dict[int, int | None] = {}
    try:
        async def post(i: int) -> None:
            try:
                status[i] = await wa.post(posts[i][0])
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status[i] = None  # cut off: no 200, Meta delivers it again

        queue = list(range(MEMBERS))

        async def sender() -> None:
            while queue:
                await post(queue.pop(0))

        senders = [asyncio.create_task(sender()) for _ in range(32)]
        await until(lambda: sum(1 for s in status.values() if s == 200) >= 40, timeout=30)
        bot.kill()
        await asyncio.gather(*senders)
        acknowledged = {i for i, s in status.items() if s == 200}
        assert 40 <= len(acknowledged) < MEMBERS, "the kill must land in the middle of the burst"

        await bot.start()  # what got its 200 is in the inbox: handled now, without being delivered again
        wanted = {proposal(i) for i in acknowledged}
        deadline = time.monotonic() + 60
        while not wanted <= set(await problems(db_path)):
            assert time.monotonic() < deadline, f"{len(wanted - set(await problems(db_path)))} acknowledged lost"
            await asyncio.sleep(0.2)
        for i in sorted(set(range(MEMBERS)) - acknowledged):  # Meta delivers again what got no 200
            assert await wa.post(posts[i][0]) == 200
        deadline = time.monotonic() + 60
        while len(await problems(db_path)) < MEMBERS:
            assert time.monotonic() < deadline, "a proposal was lost"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # anything handled twice would show now
        texts = await problems(db_path)
        assert sorted(texts) == sorted(proposal(i) for i in range(MEMBERS))  # each once
        for user in users:  # none handled twice: a second handling would answer "already proposed"
            assert not any("already proposed" in m.text for m in wa.messages(user)), user
        deadline = time.monotonic() + 30
        while True:  # each answered (at the Cloud API's pace), then out of the inbox
            async with Database(db_path) as db:
                if await db.scalar("SELECT COUNT(*) FROM inbox") == 0:
                    break
            assert time.monotonic() < deadline, "messages stay in the inbox"
            await asyncio.sleep(0.2)
    finally:
        bot.stop()


async def test_a_row_tapped_again_seconds_later_counts_though_both_taps_are_handled_together(wa, wabot):
    """Taps taken during a burst are handled later, one right after the other: whether a tap is
    a double tap is judged by when it came, not by when it was handled."""
    bek = wa.user("77010000009", "Бек")
    await wa_onboard(wa, bek, "English")
    await wa_say(wa, bek, "/new")
    await wa_say(wa, bek, "Көктерек ауылы")
    await wa_say(wa, bek, "Талғар ауданы", contains="wa.me")
    for text in ("Жол жөндеу керек", "Балалар алаңы жоқ"):
        await wa_say(wa, bek, f"/propose {text}", contains="#")
    await wa_say(wa, bek, "/poll dots 2", contains="The vote is open")
    await wa.next_message(bek, contains="Sticker voting")
    listing = await wa_say(wa, bek, "/vote", contains="waiting for you")
    await wa.press(bek, listing, "🗳 Sticker voting")
    ballot = await wa.next_message(bek, contains="You have 2 stickers left.")
    first = next(t for _, t in ballot.options if t.startswith("1 ·"))
    second = next(t for _, t in ballot.options if t.startswith("2 ·"))
    await wabot.channel.drain()

    wabot.channel.turns.arriving()  # a burst of POSTs from others: these taps wait, then go together
    try:
        assert await wa.press(bek, ballot, first) == 200   # placed …
        await asyncio.sleep(1.3)                             # … and, a while later, taken back
        assert await wa.press(bek, ballot, first) == 200
        assert await wa.press(bek, ballot, second) == 200  # placed; and a double tap of it: one press
        assert await wa.press(bek, ballot, second) == 200
    finally:
        wabot.channel.turns.arrived()
    await wabot.channel.drain()
    async with wabot.db.transaction() as tx:
        member = await tx.scalar("SELECT member_id FROM identities WHERE external_id = ?", (bek.wa_id,))
        numbers = {r[0]: r[1] for r in await tx.all("SELECT id, number FROM problems")}
        stickers = (await ballots.all_stickers(tx, 1)).get(member, {})
    assert {numbers[p]: n for p, n in stickers.items() if n} == {2: 1}
