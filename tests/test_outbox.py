"""The outbox: group posts, notifications and broadcasts reach everyone within Telegram's
limits, wait out 429s, and survive a restart."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone

from bot.delivery import Delivery
from bot.flows.types import Message
from bot.handlers.telegram import TelegramSender
from bot.outbox import MAX_AGE, OutboxWorker
from bot.storage import outbox
from bot.storage.db import Database
from tests.test_e2e_telegram import NO_LIMITS, Bot

REAL_LIMITS = {"rate": 30.0, "private_interval": 1.0, "group_interval": 3.0}


async def queue(app, messages):
    async with app.db.transaction() as tx:
        await outbox.add(tx, messages, datetime.now(timezone.utc).isoformat())
    app.outbox.wake()


class FakeClock:
    """The worker's time, moved on by the test: hours of backoff pass in a moment."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def stepped_worker(app, **limits) -> tuple[OutboxWorker, FakeClock]:
    """The app's outbox worker replaced by one the test runs pass by pass on a fake clock."""
    await app.outbox.stop()
    clock = FakeClock()
    sender = TelegramSender(app.bot, **{**NO_LIMITS, **limits})
    return OutboxWorker(Delivery(app.db, {"telegram": sender}), clock=clock), clock


async def run_until(worker: OutboxWorker, clock: FakeClock, done, *, seconds: float, each_pass=lambda: None) -> None:
    """Pass after pass, the fake clock moved on by the wait each pass asks for, until ``done()``;
    fails when that takes more than ``seconds`` of the worker's time."""
    deadline = clock.now + seconds
    while not await done():
        assert clock.now < deadline, "the outbox did not finish in time"
        each_pass()
        clock.now += max(await worker.drain_once(), 0.01)


async def queued(app) -> int:
    async with app.db.transaction() as tx:
        return await outbox.size(tx)


async def _empty(app) -> bool:
    return await queued(app) == 0


async def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_broadcast_drains_within_telegrams_limits_and_survives_a_restart(tg, tmp_path):
    tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30)
    runner = Bot(tg, str(tmp_path / "outbox.db"), limits=REAL_LIMITS)
    app = await runner.start()
    users = [tg.user(7000 + i, f"U{i}", "en", started=True) for i in range(90)]
    group = tg.group(-100600, "Ауыл", with_bot=True)
    messages = [Message("telegram", str(u.id), f"Digest for U{i}") for i, u in enumerate(users)]
    messages += [Message("telegram", str(group.id), f"Group post {i}") for i in range(2)]
    started = time.monotonic()
    await queue(app, messages)
    await wait_until(lambda: len(tg.calls("sendMessage")) >= 30, 10)
    await runner.stop()  # mid-broadcast
    app = await runner.start()
    await wait_until(lambda: all(tg.messages(u.id) for u in users) and len(tg.messages(group.id)) >= 2, 20)
    elapsed = time.monotonic() - started
    assert tg.count_429 == 0
    assert all(len(tg.messages(u.id)) == 1 for u in users), "someone got the digest twice"
    assert [m["text"] for m in tg.messages(group.id)] == ["Group post 0", "Group post 1"]
    assert elapsed >= 90 / 30 - 0.5  # never faster than 30 a second
    async with app.db.transaction() as tx:
        assert await outbox.size(tx) == 0
    await runner.stop()


async def test_a_429_storm_delays_the_broadcast_but_it_finishes(tg, bot):
    users = [tg.user(8000 + i, f"U{i}", "en", started=True) for i in range(10)]
    tg.throttle_for(3.0, retry_after=1)
    await queue(bot.app, [Message("telegram", str(u.id), "Reminder") for u in users])
    await wait_until(lambda: all(tg.messages(u.id) for u in users), 15)
    assert tg.count_429 >= 1
    assert all(len(tg.messages(u.id)) == 1 for u in users)


async def test_server_errors_are_retried(tg, bot):
    user = tg.user(9000, "U", "en", started=True)
    tg.fail_next(2, status=500, methods=["sendMessage"])
    await queue(bot.app, [Message("telegram", str(user.id), "Hello")])
    await wait_until(lambda: tg.messages(user.id), 15)


async def test_a_person_who_blocked_the_bot_does_not_stall_the_rest(tg, bot):
    blocked = tg.user(9100, "Blocked", "en", started=True)
    tg.block(blocked)
    other = tg.user(9101, "Other", "en", started=True)
    await queue(bot.app, [Message("telegram", str(blocked.id), "Hi"), Message("telegram", str(other.id), "Hi")])
    await wait_until(lambda: tg.messages(other.id), 5)
    async with bot.app.db.transaction() as tx:
        assert await outbox.size(tx) == 0


async def test_a_long_outage_of_the_bot_api_delays_a_broadcast_but_loses_nothing(tg, bot):
    """Half an hour of 500s, then a proxy's HTML 502 page: far beyond the eight attempts (about
    two minutes of backoff) after which the outbox used to drop a message for good."""
    users = [tg.user(9200 + i, f"U{i}", "en", started=True) for i in range(20)]
    group = tg.group(-100700, "Ауыл", with_bot=True)
    messages = [Message("telegram", str(u.id), f"Digest for U{i}") for i, u in enumerate(users)]
    messages += [Message("telegram", str(group.id), f"Group post {i}") for i in range(3)]
    worker, clock = await stepped_worker(bot.app)
    started = clock.now
    tg.fail_next(10**9, status=500, methods=["sendMessage"])
    await queue(bot.app, messages)

    def outage() -> None:
        if clock.now - started >= 45 * 60:
            tg.fail_next(0)  # the Bot API is back
        elif clock.now - started >= 30 * 60:
            tg.fail_next(10**9, status=502, body="<html><h1>502 Bad Gateway</h1></html>", methods=["sendMessage"])

    await run_until(worker, clock, lambda: _empty(bot.app), seconds=60 * 60, each_pass=outage)
    assert all([m["text"] for m in tg.messages(u.id)] == [f"Digest for U{i}"] for i, u in enumerate(users)), \
        "a digest was lost or sent twice"
    assert [m["text"] for m in tg.messages(group.id)] == [f"Group post {i}" for i in range(3)]
    assert clock.now - started >= 45 * 60
    assert len([c for c in tg.calls("sendMessage") if not c.ok]) >= 10 * len(messages)


async def test_a_group_with_a_long_backlog_does_not_hold_back_other_chats(tg, bot):
    """After an outage a group may have hundreds of posts queued, one per 3 s; the private
    messages queued behind them go out at once, not after the backlog."""
    group = tg.group(-100800, "Ауыл", with_bot=True)
    users = [tg.user(9300 + i, f"U{i}", "en", started=True) for i in range(5)]
    worker, clock = await stepped_worker(bot.app, rate=30.0, private_interval=1.0, group_interval=3.0)
    started = clock.now
    await queue(bot.app, [Message("telegram", str(group.id), f"Post {i}") for i in range(260)]
                + [Message("telegram", str(u.id), "Your problem was accepted") for u in users])

    async def everyone_has_theirs() -> bool:
        return all(tg.messages(u.id) for u in users)

    await run_until(worker, clock, everyone_has_theirs, seconds=20)
    assert clock.now - started < 5
    posts = [m["text"] for m in tg.messages(group.id)]
    assert posts == [f"Post {i}" for i in range(len(posts))]


async def test_a_message_still_not_sent_after_a_day_is_dropped_with_a_warning(tg, bot, caplog):
    """Tried all day, at least every five minutes, then dropped: the expiry rule."""
    user = tg.user(9400, "U", "en", started=True)
    worker, clock = await stepped_worker(bot.app)
    started = clock.now
    tg.fail_next(10**9, status=500, methods=["sendMessage"])
    await queue(bot.app, [Message("telegram", str(user.id), "The ballot closes tonight")])

    async def almost_a_day() -> bool:
        return clock.now - started >= MAX_AGE - 10 * 60

    await run_until(worker, clock, almost_a_day, seconds=MAX_AGE)
    assert await queued(bot.app) == 1, "dropped before its day was over"
    assert len(tg.calls("sendMessage")) >= (MAX_AGE - 10 * 60) / 300
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        await run_until(worker, clock, lambda: _empty(bot.app), seconds=20 * 60)
    assert clock.now - started >= MAX_AGE
    assert any("not sent within 24 h" in r.getMessage() for r in caplog.records)
    tg.fail_next(0)
    await worker.drain_once()
    assert tg.messages(user.id) == []


async def test_a_message_queued_more_than_a_day_ago_is_not_sent(tg, bot, caplog):
    """The bot was down for longer than a day: what it had queued is stale by now."""
    user = tg.user(9500, "U", "en", started=True)
    fresh = tg.user(9501, "V", "en", started=True)
    worker, clock = await stepped_worker(bot.app)
    await queue(bot.app, [Message("telegram", str(user.id), "The ballot closes tonight")])
    clock.now += MAX_AGE + 60
    async with bot.app.db.transaction() as tx:
        await outbox.add(tx, [Message("telegram", str(fresh.id), "Hello")],
                         datetime.fromtimestamp(clock.now, timezone.utc).isoformat())
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        await run_until(worker, clock, lambda: _empty(bot.app), seconds=60)
    assert tg.messages(user.id) == []
    assert [m["text"] for m in tg.messages(fresh.id)] == ["Hello"]
    assert any("not sent within 24 h" in r.getMessage() for r in caplog.records)


async def test_permanent_errors_give_up_at_once(tg, bot):
    """Unchanged by the endless retries: a blocked bot (403) or a chat that does not exist (400)
    is tried once, then dropped."""
    blocked = tg.user(9600, "Blocked", "en", started=True)
    tg.block(blocked)
    worker, clock = await stepped_worker(bot.app)
    await queue(bot.app, [Message("telegram", str(blocked.id), "Hi"), Message("telegram", "987654321", "Hi")])
    await run_until(worker, clock, lambda: _empty(bot.app), seconds=1)
    attempts = tg.calls("sendMessage")
    assert sorted((str(c.chat_id), c.status) for c in attempts) == [(str(blocked.id), 403), ("987654321", 400)]


async def test_stopping_just_as_the_worker_is_woken_does_not_hang(tmp_path):
    async with Database(str(tmp_path / "o.db")) as db:
        worker = OutboxWorker(Delivery(db, {}), idle=5.0)
        worker.start()
        await asyncio.sleep(0.05)  # the worker waits for a wake-up
        task = worker._task
        worker.wake()  # woken in the very tick stop() cancels it
        try:
            await asyncio.wait_for(worker.stop(), 3)
        finally:
            task.cancel()


async def test_a_chat_that_is_gone_is_given_up_at_once(tg, bot):
    worker, clock = await stepped_worker(bot.app)
    user = tg.user(9700, "Gone", "en", started=True)
    tg.fail_next(1, 404, description="Not Found: chat not found", methods="sendMessage")
    await queue(bot.app, [Message("telegram", str(user.id), "Hi")])
    await run_until(worker, clock, lambda: _empty(bot.app), seconds=1)
    assert [c.status for c in tg.calls("sendMessage")] == [404]


async def test_a_chat_gets_its_messages_in_order_when_the_first_one_fails(tg, bot):
    worker, clock = await stepped_worker(bot.app)
    group = tg.group(-4343, "Ауыл", with_bot=True)
    tg.fail_next(1, 500, methods="sendMessage")  # the first post fails once, then waits its backoff
    await queue(bot.app, [Message("telegram", str(group.id), text) for text in ("1 open", "2 closed", "3 results")])
    await worker.drain_once()
    clock.now += 0.5  # a pass (woken by anything) before the first one's retry is due
    await worker.drain_once()
    await run_until(worker, clock, lambda: _empty(bot.app), seconds=60)
    delivered = [c.params["text"] for c in tg.calls("sendMessage") if c.status == 200]
    assert delivered == ["1 open", "2 closed", "3 results"]


async def test_a_reply_that_failed_is_not_overtaken_by_the_next_one(tg, bot):
    """Two replies to one action; the first meets a passing 500 and goes to the outbox. The
    second waits behind it, so the member reads them in the order they were written."""
    john = tg.user(3, "John", "en")
    tg.send(john, "/start")
    choose = await tg.next_message(john.id)
    tg.press_button(john, choose, "English")
    consent = await tg.next_message(john.id)
    tg.press_button(john, consent, "I agree")
    ask = await tg.next_message(john.id)
    tg.fail_next(1, status=500, methods=["sendMessage"])
    tg.press_button(john, ask, "John")  # answered by a greeting, then the menu
    greeting = await tg.next_message(john.id, timeout=10)
    menu = await tg.next_message(john.id, timeout=10)
    assert "John" in greeting["text"] and "not in a community" in menu["text"], (greeting["text"], menu["text"])


async def test_a_429_delays_only_its_own_chat_in_the_outbox(db):
    """One reply meets a 429 (retry after 30 s), another chat's a passing 500: the first waits
    out its 30 s in the outbox, the other is tried again at once."""
    from bot.delivery import RetryLater

    class Failing:
        rate = 30.0

        def min_interval(self, chat_id: str) -> float:
            return 0.0

        async def send(self, message, image):
            raise RetryLater(30) if message.chat_id == "1" else RuntimeError("500")

    delivery = Delivery(db, {"telegram": Failing()})
    started = time.time()
    await delivery.deliver([Message("telegram", "1", "To one"), Message("telegram", "2", "To two")])
    async with db.transaction() as tx:
        waits = {r[0]: r[1] for r in await tx.all("SELECT chat_id, not_before FROM outbox")}
    assert waits["1"] >= started + 29 and waits["2"] == 0.0


async def test_a_queued_edit_replaces_the_older_edits_of_the_same_message(db):
    """While a group post waits in the outbox, every vote's redraw of it queues an edit: only
    the newest is kept, or a long outage would leave hundreds of stale edits to send, one per
    3 s, ahead of the group's next real post."""
    post = Message("telegram", "-100", "Ballot", tag="ballot:1")
    edits = [Message("telegram", "-100", f"Ballot, {n} votes", tag="ballot:1", edit=True) for n in (1, 2, 3)]
    other = Message("telegram", "-100", "Another view", tag="ballot:2", edit=True)
    now = datetime.now(timezone.utc).isoformat()
    async with db.transaction() as tx:
        await outbox.add(tx, [post], now)
        for edit in edits:
            await outbox.add(tx, [edit, other] if edit is edits[0] else [edit], now)
        queued = [Message.from_json(r[0]) for r in await tx.all("SELECT payload FROM outbox ORDER BY id")]
    assert [m.text for m in queued] == ["Ballot", "Another view", "Ballot, 3 votes"]


async def test_the_outbox_drops_an_edit_of_a_message_never_sent(tg, bot):
    """An edit queued for a message that was never sent (its post was refused for good) is
    dropped, not retried for a day ahead of the chat's later posts."""
    user = tg.user(9100, "U", "en", started=True)
    await queue(bot.app, [Message("telegram", str(user.id), "Counts", tag="never:1", edit=True),
                          Message("telegram", str(user.id), "A later post")])
    assert (await tg.next_message(user.id, timeout=10))["text"] == "A later post"
    for _ in range(100):  # the row goes once the send is answered
        if await queued(bot.app) == 0:
            break
        await asyncio.sleep(0.02)
    assert await queued(bot.app) == 0 and not tg.calls("editMessageText")


async def test_a_chart_posted_to_many_members_is_drawn_once_and_each_gets_it(db, monkeypatch):
    """A result fanned out one to one (WhatsApp) draws its chart once, not once per member: the
    same renderer and arguments are the same picture. Another chart is drawn on its own."""
    from bot import drawing
    from bot.flows.types import Chart

    async def here(fn, *args, **kwargs):  # in this process, where the drawings are counted
        return fn(*args, **kwargs)

    monkeypatch.setattr(drawing, "run", here)
    drawn: list[tuple] = []

    def chart(*args) -> bytes:
        drawn.append(args)
        return repr(args).encode()

    class Recording:
        rate = 80.0
        got: dict[str, bytes] = {}

        def min_interval(self, chat_id: str) -> float:
            return 0.0

        async def send(self, message, image):
            await asyncio.sleep(0)
            self.got[message.chat_id] = image
            return f"m{message.chat_id}"

    sender = Recording()
    delivery = Delivery(db, {"whatsapp": sender})
    result = Chart(chart, ([3, 5, 1], {"labels": ["Жол", "Су"]}))
    await asyncio.gather(*(delivery.deliver([Message("whatsapp", str(i), "Нәтиже", chart=result)])
                           for i in range(50)))
    assert drawn == [([3, 5, 1], {"labels": ["Жол", "Су"]})]
    assert set(sender.got.values()) == {chart([3, 5, 1], {"labels": ["Жол", "Су"]})} and len(sender.got) == 50
    drawn.clear()
    await delivery.deliver([Message("whatsapp", "x", "Басқа", chart=Chart(chart, ([1, 1, 1],)))])
    assert drawn == [([1, 1, 1],)] and sender.got["x"] == repr(([1, 1, 1],)).encode()


async def test_a_row_queued_before_links_were_neutral_goes_out_as_it_was_written(tg, bot):
    """An outbox row the version before wrote (schema 1: Telegram's URLs in its text and on its
    button) is sent with the same links, now written by the channel."""
    user = tg.user(9300, "U", "en", started=True)
    text = ("Invite members with this link:\nhttps://t.me/qatysu_test_bot?start=K7M2QX9P\n\nTo link your group "
            "chat, add me to it with this link:\nhttps://t.me/qatysu_test_bot?startgroup=K7M2QX9P\n<b>K7M2QX9P</b>")
    row = {"v": 1, "channel": "telegram", "chat_id": str(user.id), "text": text,
           "buttons": [[{"text": "Open the ballot", "data": None, "url": "https://t.me/qatysu_test_bot?start=b_1",
                         "contact": False}],
                       [{"text": "Site", "data": None, "url": "https://example.kz/plan", "contact": False}]],
           "chart": None, "document": None, "tag": None, "edit": False, "durable": True, "drawn_at": 1780000000.0}
    async with bot.app.db.transaction() as tx:
        await tx.execute("INSERT INTO outbox (channel, chat_id, payload, created_at) VALUES (?, ?, ?, ?)",
                         ("telegram", str(user.id), json.dumps(row), datetime.now(timezone.utc).isoformat()))
    bot.app.outbox.wake()
    await wait_until(lambda: tg.messages(user.id), 5)
    [sent] = tg.messages(user.id)
    assert sent["source"] == text
    assert [(b["text"], b["url"]) for b in tg.buttons(sent)] == [
        ("Open the ballot", "https://t.me/qatysu_test_bot?start=b_1"), ("Site", "https://example.kz/plan")]
