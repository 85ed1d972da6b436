"""Durable polling under a burst: the number of updates being handled at once stays bounded."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher
from aiogram.types import Message

from bot.handlers.polling import DurablePolling
from bot.storage.db import Database


async def test_a_burst_waits_at_telegram_beyond_max_in_flight(tg, tmp_path):
    users = [tg.user(100 + i, f"U{i}", "en") for i in range(350)]
    for user in users:
        tg.send(user, "hello")
    entered: list[int] = []
    release = asyncio.Event()
    dp = Dispatcher()

    @dp.message()
    async def slow(message: Message) -> None:
        entered.append(message.from_user.id)
        await release.wait()

    bot = Bot(tg.token, session=tg.session())
    async with Database(str(tmp_path / "p.db")) as db:
        polling = DurablePolling(bot, dp, db, allowed_updates=["message"], timeout=1, max_in_flight=200)
        await polling.start()
        try:
            for _ in range(100):
                await asyncio.sleep(0.02)
                if len(entered) >= 200:
                    break
            await asyncio.sleep(0.3)  # time enough to fetch more, were it allowed
            assert len(entered) == 200, "handled at once beyond max_in_flight"
            assert tg.pending() >= 150, "fetched beyond max_in_flight while handlers were busy"
            release.set()
            for _ in range(200):
                await asyncio.sleep(0.02)
                if len(entered) == 350:
                    break
            assert sorted(entered) == sorted(u.id for u in users), "every update handled once"
        finally:
            release.set()
            await polling.stop()
            await bot.session.close()
