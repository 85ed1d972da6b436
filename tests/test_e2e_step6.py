"""Step 6 end to end: the real bot over HTTP, its scheduler sweeping on its own — a ballot about
to close reminds, in private, only the members who have not voted in it; a prompt planned before a
restart arrives once after it; reminders and a digest to 1,000 members and 3 groups within
Telegram's limits, each once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from tests.conftest import open_store
from tests.daytime import quiet_hours_elsewhere
from tests.test_crash_safety import linked_village
from tests.test_e2e_telegram import Bot, button_for, say


async def test_a_closing_ballot_reminder_reaches_only_the_non_voters_over_http(tg, tmp_path):
    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.2)
    await bot.start()
    try:
        aigerim, group, users = await linked_village(tg, bot, 3)  # M0..M2, English
        await quiet_hours_elsewhere(bot.app.db)
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
        await quiet_hours_elsewhere(bot.app.db)
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
        async with open_store(bot.db_path) as db:  # the prompt falls due while the bot is down
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


class ShiftedClock:
    """Real time, moved by ``shift``: the seconds pass as on the wall, from another hour, and the
    test moves the clock on where the original waited the wall's seconds out (the bot's only
    test knob here; nothing in the database is edited to make a reminder due)."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.shift

    def set(self, to: datetime) -> None:
        """From now on the clock reads ``to``, and runs on at the wall's pace."""
        self.shift = to - datetime.now(timezone.utc)


async def test_a_check_in_prompt_set_for_a_minute_ahead_arrives_once_by_the_clock_across_a_restart(tg, tmp_path):
    clock = ShiftedClock()
    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.5, clock=clock)
    await bot.start()
    try:
        aigerim, group, users = await linked_village(tg, bot, 2)
        owner = users[0]
        await say(tg, owner, "/start")
        now = clock().isoformat(timespec="seconds")
        async with bot.app.db.transaction() as tx:  # a task of the plan, the first member responsible
            await tx.execute("INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                             " VALUES (1, 1, 1, 'Clean the culvert', 'clean the culvert', 2, ?)", (now,))
        await bot.stop()
        await bot.start()  # plans the task's weekly check-in prompt: 09:00 in Almaty, 7 days on
        due = datetime.fromisoformat(await bot.app.db.scalar("SELECT due_at FROM reminders WHERE kind = 'checkin'"))
        await bot.stop()

        def prompts() -> int:
            return sum("Clean the culvert" in (m["text"] or "") for m in tg.messages(owner))

        clock.set(due - timedelta(minutes=1))  # a week later: a minute before
        set_at = clock()
        await bot.start()
        await asyncio.sleep(1.0)  # sweeps at the minute's start
        clock.set(set_at + timedelta(seconds=20))  # 20 s of the clock on, as the wall's 20 s before
        await asyncio.sleep(1.0)
        assert prompts() == 0  # not yet
        await bot.stop()  # the bot restarts in between
        clock.set(clock() + timedelta(seconds=2))
        await bot.start()
        clock.set(due - timedelta(seconds=2.5))  # the minute's last seconds
        await asyncio.sleep(1.0)  # two sweeps, the last at due - 1.5 s by the clock (or later, if the loop lags)
        assert clock() < due and prompts() == 0  # not before the minute
        prompt = await tg.next_message(owner.id, contains="Clean the culvert", timeout=60)
        arrived = (clock() - set_at).total_seconds()
        assert 59 <= arrived < 64  # on the minute, by the clock (a sweep every 0.5 s)
        assert prompt["text"].startswith("🔔 How is your task #1 «Clean the culvert» going?")
        await asyncio.sleep(2.0)  # sweeps enough to send it twice
        assert prompts() == 1
        assert await bot.app.db.scalar("SELECT COUNT(*) FROM reminders WHERE kind = 'checkin'"
                                       " AND status = 'sent'") == 1
    finally:
        await bot.stop()


async def _members_and_three_groups(tg, bot, members: int):
    """``members`` members (seen in the group), 3 linked groups, a task and an open ballot, all planned
    by a restart; then the ballot closes within the hour and the digest is due now. Returns the
    members, the groups and the ballot's message in the first group.

    The set-up (onboarding, proposals, the ballot: ~15 messages to one chat) goes unpaced, the
    fake enforcing nothing yet; from the restart on, what step 6 sends runs under Telegram's
    limits on both sides: the fake refuses past them, the bot paces itself by them."""
    from tests.test_outbox import REAL_LIMITS

    aigerim, group, _ = await linked_village(tg, bot, 0)
    await quiet_hours_elsewhere(bot.app.db)
    await say(tg, aigerim, "/choose 1", group)
    users = [tg.user(20_000 + i, f"M{i}", "en", started=True) for i in range(members)]
    groups = [group, tg.group(-100322, "Ауыл 2", with_bot=True), tg.group(-100323, "Ауыл 3", with_bot=True)]
    now = datetime.now(timezone.utc)
    async def members_and_groups(tx) -> None:  # one transaction on the bot's connection (atomic: no thread hand-overs)
        for user in users:  # members who joined earlier, seen in the group (no "a vote is open" for them)
            member = await tx.insert("INSERT INTO members (name, locale, consent_at, created_at, active_community)"
                                     " VALUES (?, 'en', 'now', 'now', 1)", (user.first_name,))
            await tx.execute("INSERT INTO identities VALUES ('telegram', ?, ?, 'now')", (str(user.id), member))
            await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                             " VALUES (1, ?, 'member', 'now')", (member,))
            await tx.execute("INSERT INTO group_presence VALUES (1, ?)", (member,))
        for extra in groups[1:]:
            await tx.execute("INSERT INTO group_links (channel, chat_id, community_id, linked_at)"
                             " VALUES ('telegram', ?, 1, 'now')", (str(extra.id),))
        await tx.execute("INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                         " VALUES (1, 1, 1, 'Clean the culvert', 'clean the culvert', 1, ?)", (now.isoformat(),))

    await bot.app.db.atomic(members_and_groups)
    ballot = await say(tg, aigerim, "/poll dots 3 2d", group)
    tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30)
    await bot.stop()
    bot.overrides["limits"] = REAL_LIMITS
    await bot.start()  # plans the task's reminders and the digest
    async with bot.app.db.transaction() as tx:  # the vote closes within the hour; the digest is due now
        await tx.execute("UPDATE ballots SET opened_at = ?, closes_at = ?",
                         ((now - timedelta(hours=2)).isoformat(timespec="seconds"),
                          (now + timedelta(minutes=59)).isoformat(timespec="seconds")))
        await tx.execute("UPDATE reminders SET due_at = ? WHERE kind = 'digest'",
                         (now.isoformat(timespec="seconds"),))
    return users, groups, ballot


def _reminded(tg, user) -> int:
    return sum("closes at" in (m["text"] or "") for m in tg.messages(user))


def _digests(tg, group) -> int:
    return sum((m["caption"] or "").startswith("📊") for m in tg.messages(group))


async def test_reminders_and_a_digest_to_a_thousand_members_and_three_groups_arrive_once_within_the_limits(
        tg, tmp_path):
    from tests.test_outbox import wait_until

    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.2)  # Telegram's limits from the set-up's end
    await bot.start()
    try:
        users, groups, _ = await _members_and_three_groups(tg, bot, 1000)  # the scale is the point: ~35 s at 30/s
        await wait_until(lambda: all(any("closes at" in (m["text"] or "") for m in tg.messages(u)) for u in users)
                         and all(any((m["caption"] or "").startswith("📊") for m in tg.messages(g)) for g in groups),
                         120)
        await asyncio.sleep(1.0)
        refused = [c for c in tg.calls() if c.status == 429 and ("closes at" in (c.params.get("text") or "")
                                                               or (c.params.get("caption") or "").startswith("📊"))]
        assert refused == []  # the reminders and the digest broke no limit
        assert all(_reminded(tg, u) == 1 for u in users)
        assert all(_digests(tg, g) == 1 for g in groups)
    finally:
        await bot.stop()


async def test_while_a_vote_burst_runs_the_reminders_the_digest_and_the_live_counts_break_no_limit(tg, tmp_path):
    """The live counts of the group's ballot (edited at once, as members vote) and the outbox's
    reminders and digest share Telegram's 30 messages a second: not one request is refused, and
    every member's vote is answered while the broadcast drains. 300 voters and 150 more members:
    the broadcast (~16 s at 30/s) outlasts the burst (~6 s) that starts after its first 50; the
    1,000-member scale is the test above's."""
    from tests.test_e2e_telegram import button_for
    from tests.test_outbox import wait_until

    bot = Bot(tg, str(tmp_path / "bot.db"), sweep_interval=0.2)  # Telegram's limits from the set-up's end
    await bot.start()
    try:
        users, groups, ballot = await _members_and_three_groups(tg, bot, 450)
        await wait_until(lambda: sum(map(lambda u: _reminded(tg, u), users)) >= 50, 30)  # the broadcast runs
        voters = users[:300]
        answers = []
        for i, user in enumerate(voters):  # 300 votes over ~6 s, while the reminders drain
            answers.append(asyncio.create_task(tg.answer_to(
                tg.press(user, ballot, button_for(ballot, 1 + i % 3), chat=groups[0]), timeout=20)))
            await asyncio.sleep(0.02)
        toasts = await asyncio.gather(*answers)
        assert all(t["text"] for t in toasts)  # each vote answered
        await wait_until(lambda: all(_reminded(tg, u) for u in users[300:])
                         and all(_digests(tg, g) for g in groups), 120)
        await bot.app.delivery.flush()
        await asyncio.sleep(1.0)
        assert [(c.method, c.params.get("chat_id"), (c.params.get("text") or "")[:40])
                for c in tg.calls() if c.status == 429] == []  # no limit broken, by anything
        assert tg.count_429 == 0
        assert all(_reminded(tg, u) == 1 for u in users[300:])  # the voters may have voted before theirs
        assert all(_reminded(tg, u) <= 1 for u in voters)
        assert all(_digests(tg, g) == 1 for g in groups)
        counts = tg.chat(groups[0].id)._bot_messages
        shown = next(m for m in counts if m["message_id"] == ballot["message_id"])
        assert "300" in shown["text"]  # the live counts caught up with every vote
    finally:
        await bot.stop()
