"""Durable polling: bounded under a burst, and never stopped by one odd update."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update

from bot.handlers.polling import CHANNEL, DurablePolling
from bot.storage import inbox
from bot.storage.db import Database

class Dispatched:
    """An aiogram ``Dispatcher`` as the poller's handler, for these tests of the poller alone:
    updates read by aiogram's ``Update`` model and fed to it (with ``retry`` in its handlers' data)."""

    def __init__(self, bot: Bot, dp: Dispatcher) -> None:
        self.bot, self.dp = bot, dp

    def parse(self, raw):
        return Update.model_validate(raw, context={"bot": self.bot})

    async def handle(self, update: Update, retry: bool = False) -> None:
        await self.dp.feed_update(self.bot, update, retry=retry)



class Recorder:
    """A dispatcher whose handler notes each message and waits while ``gate`` is closed."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.dp = Dispatcher()
        self.dp.message()(self.handle)

    async def handle(self, message: Message) -> None:
        self.seen.append(message.from_user.id)
        await self.gate.wait()

    async def until(self, count: int, timeout: float = 5.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if len(self.seen) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.seen)} of {count} updates handled")


@asynccontextmanager
async def running(polling: DurablePolling, recorder: Recorder):
    """The poller started; stopped at the end, its handlers let go first."""
    await polling.start()
    try:
        yield polling
    finally:
        recorder.gate.set()
        await polling.stop()


@pytest.fixture
async def polling_parts(tg, tmp_path):
    bot = Bot(tg.token, session=tg.session())
    async with Database(str(tmp_path / "p.db")) as db:
        yield bot, db
    await bot.session.close()


def message_update(update_id: int, user_id: int) -> str:
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1, "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": f"U{user_id}"}, "text": "hello"}})


async def test_a_burst_waits_at_telegram_beyond_max_in_flight(tg, polling_parts):
    bot, db = polling_parts
    users = [tg.user(100 + i, f"U{i}", "en") for i in range(350)]
    for user in users:
        tg.send(user, "hello")
    recorder = Recorder()
    recorder.gate.clear()
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1, max_in_flight=200)
    async with running(polling, recorder):
        await recorder.until(200)
        await asyncio.sleep(0.3)  # time enough to fetch more, were it allowed
        assert len(recorder.seen) == 200, "handled at once beyond max_in_flight"
        assert tg.pending() == 250, "fetched beyond max_in_flight while handlers were busy"
        recorder.gate.set()
        await recorder.until(350)
        assert sorted(recorder.seen) == sorted(u.id for u in users), "every update handled once"


async def test_stored_updates_beyond_the_bound_and_a_broken_one_are_handled_then_polling_goes_on(
        tg, polling_parts, caplog):
    bot, db = polling_parts
    rows = [(str(i), message_update(i, 1000 + i)) for i in range(1, 251)]
    rows.insert(100, ("9999", '{"update_id": 9999, "message": {"date": "not a date"}}'))
    await db.atomic(lambda tx: inbox.store(tx, CHANNEL, rows, "2026-03-02T05:00:00"))
    later = tg.user(7, "Later", "en")
    tg.send(later, "after the restart")
    recorder = Recorder()
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1, max_in_flight=100,
                             flush_interval=0.05)
    with caplog.at_level(logging.ERROR, logger="bot.handlers.polling"):
        async with running(polling, recorder):
            await recorder.until(251)
            assert sorted(recorder.seen) == sorted([*range(1001, 1251), later.id])
            assert "dropping stored update 9999" in caplog.text
            await asyncio.sleep(0.2)
            assert await db.atomic(lambda tx: inbox.pending(tx, CHANNEL)) == []  # all done, the broken one too


async def test_a_message_aiogram_fills_with_placeholders_is_stored_and_handled(tg, polling_parts):
    bot, db = polling_parts
    user = tg.user(5, "Linker", "en")
    recorder = Recorder()
    recorder.gate.clear()  # hold the handler, so the update is still in the inbox
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1)
    async with running(polling, recorder):
        tg.send(user, "see https://example.kz", extra={"link_preview_options": {"url": "https://example.kz"}})
        await recorder.until(1)
        stored = await db.atomic(lambda tx: inbox.pending(tx, CHANNEL))
        assert len(stored) == 1 and "https://example.kz" in stored[0][1]
        recorder.gate.set()
        tg.send(user, "and polling goes on")
        await recorder.until(2)


async def test_handlers_stuck_at_the_bound_are_reported(tg, polling_parts, caplog):
    bot, db = polling_parts
    for i in range(150):
        tg.send(tg.user(300 + i, f"S{i}", "en"), "hello")
    recorder = Recorder()
    recorder.gate.clear()
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1, max_in_flight=100,
                             stall_warning=0.1)
    with caplog.at_level(logging.WARNING, logger="bot.handlers.polling"):
        async with running(polling, recorder):
            await recorder.until(100)
            await asyncio.sleep(0.3)
            assert "100 updates have been in handling" in caplog.text


async def test_stopping_just_as_room_comes_free_does_not_hang(tg, polling_parts):
    bot, db = polling_parts
    polling = DurablePolling(bot, Dispatched(bot, Recorder().dp), db, allowed_updates=["message"], timeout=1)
    polling._room.clear()  # as when max_in_flight updates are in handling
    await polling.start()
    await asyncio.sleep(0.05)  # the poller waits for room
    runner = polling._runner
    polling._room.set()  # room comes free in the very tick stop() cancels the poller
    try:
        await asyncio.wait_for(polling.stop(), 3)
    finally:
        runner.cancel()


async def test_get_updates_failing_in_every_way_loses_no_update(tg, tmp_path, caplog):
    """Telegram answering getUpdates with 500, with 429 and its retry_after, with a proxy's HTML
    page, and not at all within the client's timeout: the bot keeps polling, waits as long as
    a 429 asks, and every update is handled once."""
    bot = Bot(tg.token, session=tg.session(timeout=2))
    users = [tg.user(400 + i, f"F{i}", "en") for i in range(5)]
    recorder = Recorder()
    async with Database(str(tmp_path / "f.db")) as db:
        polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1, retry_delay=0.05)
        with caplog.at_level(logging.WARNING, logger="bot.handlers.polling"):
            async with running(polling, recorder):
                tg.fail_next(2, status=500, methods="getUpdates")
                tg.send(users[0], "after two 500s")
                await recorder.until(1)

                before = tg.count_429
                tg.throttle_for(1.5, retry_after=2, methods="getUpdates")
                tg.send(users[1], "after a 429")
                await recorder.until(2, timeout=6)
                assert tg.count_429 - before == 1, "polled again before the 429's retry_after"

                tg.fail_next(1, status=502, body="<html><h1>502 Bad Gateway</h1></html>", methods="getUpdates")
                tg.send(users[2], "after a proxy's page")
                await recorder.until(3)

                tg.slow(3.0, methods="getUpdates")  # the answer comes after the client gave up
                tg.send(users[3], "after a timeout")
                await asyncio.sleep(2.5)
                tg.slow(0, methods="getUpdates")
                tg.send(users[4], "and on")
                await recorder.until(5, timeout=10)
                await asyncio.sleep(0.2)
    await bot.session.close()
    assert sorted(recorder.seen) == [u.id for u in users], "an update lost or handled twice"
    # Each run of failures is logged when it starts and when it ends, not at every failure (the
    # 429 and the 502 may fall in one run, and the timeout's retry in another).
    assert caplog.text.count("getUpdates failed") >= 3
    assert caplog.text.count("getUpdates failed") == caplog.text.count("getUpdates works again")


async def test_only_an_event_not_handled_is_tried_again(tg, polling_parts):
    """A locked database before the action began (NotHandled) is tried again; one met after the
    action was done (e.g. while sending its answer) is not, or the answer would go twice."""
    from bot.flows.engine import NotHandled
    from bot.storage.db import Busy

    bot, db = polling_parts
    raised = {"NotHandled": 0, "Busy": 0}
    dp = Dispatcher()

    @dp.message()
    async def handle(message: Message) -> None:
        kind = "NotHandled" if message.text == "first" else "Busy"
        raised[kind] += 1
        if raised[kind] == 1:
            raise NotHandled("locked") if kind == "NotHandled" else Busy("locked while answering")

    polling = DurablePolling(bot, Dispatched(bot, dp), db, allowed_updates=["message"], timeout=1, retry_delay=0.02)
    await polling.start()
    try:
        tg.send(tg.user(11, "A", "en"), "first")
        tg.send(tg.user(12, "B", "en"), "second")
        for _ in range(100):
            if raised["NotHandled"] >= 2 and raised["Busy"] >= 1:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    finally:
        await polling.stop()
    assert raised == {"NotHandled": 2, "Busy": 1}


async def test_a_stored_update_with_text_sqlite_cannot_hold_is_read_back_at_start(tg, polling_parts):
    bot, db = polling_parts
    payload = json.dumps({"update_id": 77, "message": {
        "message_id": 1, "date": 1, "chat": {"id": 500, "type": "private"},
        "from": {"id": 500, "is_bot": False, "first_name": "U"}, "text": "x\ud800y"}})  # a lone surrogate: kept escaped
    await db.atomic(lambda tx: inbox.store(tx, CHANNEL, [("77", payload)], "2026-03-02T05:00:00"))
    recorder = Recorder()
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1)
    async with running(polling, recorder):
        await recorder.until(1)
    assert recorder.seen == [500]


async def test_an_unreachable_telegram_is_tried_ever_less_often_and_logged_once_a_minute(tg, polling_parts, caplog):
    """Telegram out of reach for 40 tries (a closed port), then back: the waits double up to
    the cap, the log has a line when it starts, one a minute while it lasts and one when it
    ends, and the update that waited is handled."""
    import socket

    from aiogram.client.telegram import TelegramAPIServer

    bot, db = polling_parts
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    bot.session.api = TelegramAPIServer.from_base(f"http://127.0.0.1:{closed}")
    now, waits, logged_at = [0.0], [], []

    async def sleep(seconds: float) -> None:  # the clock moves on, no time passes
        waits.append(seconds)
        now[0] += seconds
        if len(waits) == 40:
            bot.session.api = tg.api_server()  # reachable again
        await asyncio.sleep(0)

    class At(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged_at.append((now[0], record.getMessage()))

    handler = At(logging.WARNING)
    logging.getLogger("bot.handlers.polling").addHandler(handler)
    user = tg.user(21, "Back", "en")
    tg.send(user, "are you there?")
    recorder = Recorder()
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1, retry_delay=1.0,
                             retry_cap=30.0, sleep=sleep, clock=lambda: now[0])
    try:
        async with running(polling, recorder):
            await recorder.until(1, timeout=20)
    finally:
        logging.getLogger("bot.handlers.polling").removeHandler(handler)
    assert recorder.seen == [user.id]
    assert waits[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0] and max(waits) == 30.0 and len(waits) == 40
    failed = [(at, text) for at, text in logged_at if "getUpdates failed" in text]
    assert f"127.0.0.1:{closed}" in failed[0][1], "the log says which address is out of reach"
    gaps = [b[0] - a[0] for a, b in zip(failed, failed[1:])]
    assert all(gap >= 60 for gap in gaps), gaps
    outage = sum(waits)
    assert outage / 60 - 1 <= len(failed) <= outage / 60 + 1, (len(failed), outage)
    assert "getUpdates works again, after 40 failure(s)" in logged_at[-1][1]


async def test_a_token_revoked_while_running_stops_polling_and_says_so(tg, polling_parts, caplog):
    """Telegram answers 401: no retry helps, so polling ends (the process exits, see
    test_startup) instead of retrying for ever or running without receiving anything."""
    from aiogram.exceptions import TelegramUnauthorizedError

    bot, db = polling_parts
    recorder = Recorder()
    polling = DurablePolling(bot, Dispatched(bot, recorder.dp), db, allowed_updates=["message"], timeout=1, retry_delay=0.01)
    async with running(polling, recorder):
        tg.token = "999:REVOKED"
        with pytest.raises(TelegramUnauthorizedError):
            await asyncio.wait_for(polling.wait(), 5)
    assert "polling stopped" not in caplog.text  # said once, by `qatysu run`, without a traceback
