"""Step 6 end to end: the real bot over HTTP, its scheduler sweeping on its own — a ballot about
to close reminds, in private, only the members who have not voted in it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

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
