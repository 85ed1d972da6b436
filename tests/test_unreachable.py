"""A member who blocked the bot is marked unreachable and skipped, until they write again."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from tests.daytime import quiet_hours_elsewhere
from tests.test_crash_safety import linked_village
from tests.test_e2e_telegram import Bot, button_for, say


async def _unreachable(bot) -> list[str]:
    rows = await bot.app.db.atomic(lambda tx: tx.all(
        "SELECT external_id FROM unreachable ORDER BY external_id"))
    return [r[0] for r in rows]


async def _remind_closing(bot) -> None:
    now = datetime.now(timezone.utc)
    async with bot.app.db.transaction() as tx:  # as if opened two hours ago, closing in 59 minutes
        await tx.execute("UPDATE ballots SET opened_at = ?, closes_at = ? WHERE status = 'open'",
                         ((now - timedelta(hours=2)).isoformat(timespec="seconds"),
                          (now + timedelta(minutes=59)).isoformat(timespec="seconds")))


async def test_a_member_who_blocked_the_bot_is_skipped_until_they_write_again(tg, tmp_path):
    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.2)
    await bot.start()
    try:
        aigerim, group, users = await linked_village(tg, bot, 2)
        await quiet_hours_elsewhere(bot.app.db)
        for member in users:
            await say(tg, member, "/start")
        blocker, other = users
        tg.block(blocker)
        ballot = await say(tg, aigerim, "/poll dots 3 2d", group)
        await tg.answer_to(tg.press(aigerim, ballot, button_for(ballot, 1), chat=group))
        await _remind_closing(bot)
        await tg.next_message(other.id, contains="closes at", timeout=10)
        for _ in range(50):  # the refused reminder marks the blocker
            if await _unreachable(bot):
                break
            await asyncio.sleep(0.1)
        assert await _unreachable(bot) == [str(blocker.id)]

        await say(tg, aigerim, "/close", group)  # a second ballot: its reminder skips the blocker at once
        # its post, not the close's last message (else the reminder's set-up below may come before the ballot
        # is stored: on PostgreSQL the /poll is handled while the close's messages still go out)
        ballot = await say(tg, aigerim, "/poll dots 3 2d", group, contains="🗳")
        calls_before = len(tg.sent)
        await _remind_closing(bot)
        await tg.next_message(other.id, contains="closes at", timeout=10)
        await asyncio.sleep(1.0)
        tried = [c for c in tg.calls("sendMessage", since=calls_before) if c.params.get("chat_id") == blocker.id]
        assert not tried, "nothing is sent to a person marked unreachable"

        tg.unblock(blocker)
        await say(tg, blocker, "/status")  # they write again: reachable
        assert await _unreachable(bot) == []
    finally:
        await bot.stop()
