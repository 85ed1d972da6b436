"""Step 6 end to end: the real bot over HTTP, its scheduler sweeping on its own — a ballot about
to close reminds, in private, only the members who have not voted in it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.storage.db import Database
from tests.test_crash_safety import linked_village
from tests.test_e2e_telegram import Bot, button_for, say


async def test_a_closing_ballot_reminder_reaches_only_the_non_voters_over_http(tg, tmp_path):
    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.2)
    await bot.start()
    try:
        aigerim, group, users = await linked_village(tg, bot, 3)  # M0..M2, English
        for member in users:
            await say(tg, member, "/start")  # a private chat with the bot, as every member has
        ballot = await say(tg, aigerim, "/poll dots 3 2d", group)
        await tg.answer_to(tg.press(users[0], ballot, button_for(ballot, 1), chat=group))
        now = datetime.now(timezone.utc)
        async with bot.app.db.transaction() as tx:  # as if opened two hours ago, closing in 59 minutes
            await tx.execute("UPDATE ballots SET opened_at = ?, closes_at = ? WHERE id = 1",
                             ((now - timedelta(hours=2)).isoformat(timespec="seconds"),
                              (now + timedelta(minutes=59)).isoformat(timespec="seconds")))
        for user in users[1:]:
            reminder = await tg.next_message(user.id, contains="closes at", timeout=10)
            assert reminder["text"].endswith("and you have not voted yet.")
        await tg.next_message(aigerim.id, contains="жабылады", timeout=10)  # the facilitator did not vote either
        await asyncio.sleep(1.0)  # sweeps enough to send anything twice
        for user in users[1:]:
            assert sum("closes at" in (m["text"] or "") for m in tg.messages(user)) == 1
        assert not any("closes at" in (m["text"] or "") for m in tg.messages(users[0]))  # voted: nothing
    finally:
        await bot.stop()


async def test_a_check_in_prompt_due_in_a_moment_arrives_once_across_a_restart_over_http(tg, tmp_path):
    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.2)
    await bot.start()
    try:
        aigerim, group, users = await linked_village(tg, bot, 2)
        owner = users[0]
        await say(tg, owner, "/start")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        async with bot.app.db.transaction() as tx:  # a task of the plan, the first member responsible
            await tx.execute("INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                             " VALUES (1, 1, 1, 'Clean the culvert', 'clean the culvert', 2, ?)", (now,))
        await bot.stop()
        await bot.start()  # the task reminders are planned once a minute, and at start: its weekly prompt
        assert await bot.app.db.scalar("SELECT COUNT(*) FROM reminders WHERE kind = 'checkin'") == 1
        await bot.stop()
        async with Database(bot.db_path) as db:  # the prompt falls due while the bot is down
            async with db.transaction() as tx:
                await tx.execute("UPDATE reminders SET due_at = ? WHERE kind = 'checkin'",
                                 ((datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat(timespec="seconds"),))
        await bot.start()
        prompt = await tg.next_message(owner.id, contains="Clean the culvert", timeout=10)
        assert prompt["text"].startswith("🔔 How is your task #1 «Clean the culvert» going?")
        await asyncio.sleep(1.0)
        assert sum("Clean the culvert" in (m["text"] or "") for m in tg.messages(owner)) == 1
    finally:
        await bot.stop()
