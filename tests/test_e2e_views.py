"""Over HTTP, under Telegram's limits (the fake refuses what breaks them): members answering a
private ballot in a burst, some tapping twice before their message is redrawn, all get every
answer acknowledged, their message redrawn to the end, and every score stored — no request
refused, no more edits than answers."""

from __future__ import annotations

import asyncio

from bot.storage import ballots
from tests.test_crash_safety import PROBLEMS, linked_village
from tests.test_e2e_telegram import Bot, say
from tests.test_outbox import REAL_LIMITS, wait_until

MEMBERS = 30


async def test_a_private_ballot_burst_finishes_within_telegrams_limits_and_coalesces_quick_taps(tg, tmp_path):
    tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30)
    bot = Bot(tg, str(tmp_path / "bot.db"), limits=REAL_LIMITS)
    await bot.start()
    try:
        aigerim, group, users = await linked_village(tg, bot, MEMBERS)
        invitation = await say(tg, aigerim, "/poll matrix", group)
        payload = invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1]
        for user in users:
            tg.send(user, f"/start {payload}")
        firsts = await asyncio.gather(*(tg.next_message(u, contains="Priority matrix", timeout=30) for u in users))
        mark = tg.mark()
        taps = 0

        async def answer(user, message) -> list[dict]:
            nonlocal taps
            answers = []
            for step in range(2 * len(PROBLEMS)):
                shown = tg.message(user.id, message["message_id"])
                before = shown["text"]
                value = str(1 + (user.id + step) % 3)
                button = next(b for row in shown["reply_markup"]["inline_keyboard"] for b in row
                              if b["text"].endswith(value))
                pressed = [tg.press(user, shown, button["callback_data"])]
                if step % 2 == 0 and user.id % 2:  # importance tapped twice, before the message is redrawn
                    pressed.append(tg.press(user, shown, button["callback_data"]))
                taps += len(pressed)
                answers += await asyncio.gather(*(tg.answer_to(p, timeout=30) for p in pressed))
                await wait_until(lambda: tg.message(user.id, message["message_id"])["text"] != before, 60)
            return answers

        answered = await asyncio.gather(*(answer(u, m) for u, m in zip(users, firsts)))
        await bot.app.delivery.flush()
        assert all(a["text"] for member in answered for a in member)  # every tap acknowledged
        assert all("Thank you" in tg.message(u.id, m["message_id"])["text"] for u, m in zip(users, firsts))
        assert tg.count_429 == 0 and [c for c in tg.calls() if c.status == 429] == []
        edits = [c for c in tg.calls(since=mark) if c.method == "editMessageText"]
        assert len(edits) <= MEMBERS * 2 * len(PROBLEMS) < taps  # no more redraws than answers
        async with bot.app.db.transaction() as tx:
            scores = await ballots.all_scores(tx, 1)
        assert len(scores) == MEMBERS and all(len(s) == len(PROBLEMS) for s in scores.values())
    finally:
        await bot.stop()
