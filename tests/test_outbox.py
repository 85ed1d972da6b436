"""The outbox: group posts, notifications and broadcasts reach everyone within Telegram's
limits, wait out 429s, and survive a restart."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from bot.flows.types import Message
from bot.storage import outbox
from tests.test_e2e_telegram import Bot

REAL_LIMITS = {"rate": 30.0, "private_interval": 1.0, "group_interval": 3.0}


async def queue(app, messages):
    async with app.db.transaction() as tx:
        await outbox.add(tx, messages, datetime.now(timezone.utc).isoformat())
    app.outbox.wake()


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
