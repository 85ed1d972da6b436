"""Several workers on one PostgreSQL database (issue #15): real ``qatysu run --webhook``
processes, Telegram's webhooks spread over them by the fake Bot API as a load balancer would
(``tests/workers.py``). Any worker takes any update; a vote burst split across two gives exact
tallies; a worker killed mid-burst loses no acknowledged vote and counts none twice (what it did
not answer is delivered again, to the survivor); the scheduler moves to the survivor within 30 s
and a reminder due after the kill is sent once; twenty identical taps over two workers leave one
effect; two workers racing to close one ballot close it once."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.outbox import LEASE
from bot.storage import ballots
from bot.storage.pg import PgDatabase, migrations
from tests.daytime import quiet_hours_elsewhere
from tests.stores import PG, pg_url  # noqa: F401  (fixtures)
from tests.test_crash_safety import ballot_village
from tests.test_e2e_telegram import Bot, button_for, say
from tests.test_health import health
from tests.workers import Workers

pytestmark = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")
# Several workers send each outbox message once only with the outbox's leases (migration 023);
# before they are merged two workers' outboxes may both send a post one of them queued.
LEASES = any(number == 23 for number, _, _ in migrations())




async def village(tg, url: str, members: int, *, task_owner: bool = False):
    """A linked village with four problems, ``members`` members and an open sticker ballot, set up
    by one bot polling (then stopped); with ``task_owner``, the first member also owns a task of the
    plan, whose weekly check-in prompt is planned (the scheduler plans it at its start)."""
    runner = Bot(tg, url)
    await runner.start()
    try:
        aigerim, group, users, ballot = await ballot_village(tg, runner, members)
        await quiet_hours_elsewhere(runner.app.db)
        if task_owner:
            await say(tg, users[0], "/start")  # a private chat with the bot
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            async with runner.app.db.transaction() as tx:
                owner = await tx.scalar("SELECT member_id FROM identities WHERE channel = 'telegram' AND external_id = ?",
                                        (str(users[0].id),))
                await tx.execute("INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                                 " VALUES (1, 1, 1, 'Clean the culvert', 'clean the culvert', ?, ?)", (owner, now))
    finally:
        await runner.stop()
    return aigerim, group, users, ballot


async def stickers(url: str) -> dict[int, dict[int, int]]:
    async with PgDatabase(url) as db:
        async with db.transaction() as tx:
            return await ballots.all_stickers(tx, 1)


async def counts(url: str) -> tuple[dict[int, int], int]:
    async with PgDatabase(url) as db:
        async with db.transaction() as tx:
            return dict(await ballots.options(tx, 1)), (await ballots.get(tx, 1)).turnout


async def test_a_vote_burst_split_across_two_workers_gives_exact_tallies(tg, pg_url, tmp_path):
    _, group, users, ballot = await village(tg, pg_url, 40)
    workers = Workers(tg, pg_url, tmp_path)
    await workers.start()
    try:
        _, (standing_by,) = workers.scheduler()
        await standing_by.wait_for_line("scheduler: standing by")
        said = []
        for worker in workers.all:  # each worker's `qatysu health`, as Docker's HEALTHCHECK runs it in its container
            result = await asyncio.to_thread(health, tmp_path, **{k: v for k, v in worker.env.items()
                                                                   if k.startswith(("TELEGRAM_", "QATYSU_"))})
            assert result.returncode == 0 and f"answers on 127.0.0.1:{worker.port}" in result.stdout, result.stdout
            said.append(result.stdout)
        assert sum("scheduler: this worker runs it" in s for s in said) == 1, said
        assert sum("scheduler: standing by" in s for s in said) == 1, said
        taps = [tg.press(user, ballot, button_for(ballot, number), chat=group)
                for user in users for number in (1, 2, 3)]
        answers = await asyncio.gather(*(tg.answer_to(tap, timeout=60) for tap in taps))
        assert all(answer["text"].startswith("Sticker placed") for answer in answers), answers
        await workers.delivered()
        delivered = [tg.webhook_deliveries[w.url] for w in workers.all]
        assert min(delivered) >= 30, f"the burst must be split across both workers: {delivered}"
        state = await stickers(pg_url)
        assert len(state) == 40 and all(v == {1: 1, 2: 1, 3: 1} for v in state.values())
        assert await counts(pg_url) == ({1: 40, 2: 40, 3: 40, 4: 0}, 40)
    finally:
        await workers.stop()
    for worker in workers.all:
        assert worker.process.returncode == 0 and "Traceback" not in worker.text(), worker.text()


async def test_a_worker_killed_mid_burst_loses_no_vote_and_the_survivor_runs_the_scheduler(tg, pg_url, tmp_path):
    _, group, users, ballot = await village(tg, pg_url, 40, task_owner=True)
    workers = Workers(tg, pg_url, tmp_path)
    await workers.start()
    scheduler, (survivor,) = workers.scheduler()
    try:
        await survivor.wait_for_line("scheduler: standing by")
        async with PgDatabase(pg_url) as db:  # the scheduler planned the task's weekly check-in prompt
            assert await db.scalar("SELECT COUNT(*) FROM reminders WHERE kind = 'checkin'") == 1
        taps = [tg.press(user, ballot, button_for(ballot, number), chat=group)
                for user in users for number in (1, 2, 3)]
        ids = {tap["callback_query"]["id"] for tap in taps}
        deadline = time.monotonic() + 30
        while len(ids & set(tg.callback_answers)) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        scheduler.kill()
        killed = time.monotonic()
        acknowledged = ids & set(tg.callback_answers)
        assert 30 <= len(acknowledged) < len(taps), "the kill must land in the middle of the burst"
        async with PgDatabase(pg_url) as db:  # the prompt falls due after the kill
            async with db.transaction() as tx:
                await tx.execute("UPDATE reminders SET due_at = ? WHERE kind = 'checkin'",
                                 ((datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat(timespec="seconds"),))

        answers = await asyncio.gather(*(tg.answer_to(tap, timeout=60) for tap in taps))
        assert all(answer["text"].startswith("Sticker placed") for answer in answers), \
            [a["text"] for a in answers if not a["text"].startswith("Sticker placed")]
        took_over = await survivor.wait_for_line("scheduler: this worker runs it", timeout=30)
        assert took_over - killed < 30
        state = await stickers(pg_url)
        assert len(state) == 40, f"{40 - len(state)} members lost votes"
        assert all(v == {1: 1, 2: 1, 3: 1} for v in state.values()), "a vote was lost or counted twice"
        assert await counts(pg_url) == ({1: 40, 2: 40, 3: 40, 4: 0}, 40)

        # the killed worker may have held a lease on this chat: it ends within the outbox's LEASE
        prompt = await tg.next_message(users[0].id, contains="Clean the culvert", timeout=LEASE + 15)
        assert prompt["text"].startswith("🔔 How is your task #1 «Clean the culvert» going?")
        await asyncio.sleep(3.0)  # sweeps enough to send it twice
        assert sum("Clean the culvert" in (m["text"] or "") for m in tg.messages(users[0])) == 1
    finally:
        await workers.stop()
    assert survivor.process.returncode == 0 and "Traceback" not in survivor.text(), survivor.text()


async def test_twenty_identical_taps_over_two_workers_leave_one_effect(tg, pg_url, tmp_path):
    _, group, users, ballot = await village(tg, pg_url, 1)
    workers = Workers(tg, pg_url, tmp_path)
    await workers.start()
    try:
        edits = len([c for c in tg.calls("editMessageText") if c.params.get("message_id") == ballot["message_id"]])
        data = button_for(ballot, 2)
        taps = [tg.press(users[0], ballot, data, chat=group) for _ in range(20)]
        answers = await asyncio.gather(*(tg.answer_to(tap, timeout=30) for tap in taps))
        await workers.delivered()
        assert all(tg.webhook_deliveries[w.url] >= 5 for w in workers.all), tg.webhook_deliveries
        placed = [a for a in answers if (a.get("text") or "").startswith("Sticker placed")]
        assert len(placed) == 1, [a.get("text") for a in answers]
        assert await stickers(pg_url) == {next(iter(await stickers(pg_url))): {2: 1}}
        assert (await counts(pg_url))[0][2] == 1

        def redraws() -> list:
            return [c for c in tg.calls("editMessageText")
                    if c.params.get("message_id") == ballot["message_id"] and c.ok][edits:]

        deadline = time.monotonic() + 10
        while not redraws() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)
        assert len(redraws()) == 1, [c.params.get("text") for c in redraws()]
        assert "2. Балалар алаңы жоқ — 1" in tg.message(group, ballot["message_id"])["text"]
    finally:
        await workers.stop()


async def test_two_workers_racing_to_close_one_ballot_close_it_once(tg, pg_url, tmp_path):
    aigerim, group, users, ballot = await village(tg, pg_url, 3)
    workers = Workers(tg, pg_url, tmp_path)
    await workers.start()
    try:
        for user in users:
            await tg.answer_to(tg.press(user, ballot, button_for(ballot, 1), chat=group), timeout=30)
        async with PgDatabase(pg_url) as db:  # its closing time comes now too: the scheduler races them
            async with db.transaction() as tx:
                await tx.execute("UPDATE ballots SET closes_at = ? WHERE id = 1",
                                 ((datetime.now(timezone.utc)).isoformat(timespec="seconds"),))
        before = tg.mark()
        closes = [tg.send(aigerim, "/close", group) for _ in range(2)]
        await workers.delivered()
        assert all(tg.webhook_deliveries[w.url] >= 1 for w in workers.all), tg.webhook_deliveries
        await tg.wait_for(lambda call: call.method == "sendPhoto", timeout=20)
        await asyncio.sleep(3.0)  # sweeps and outbox rounds enough to post it twice
        async with PgDatabase(pg_url) as db:
            assert await db.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ballot.closed'") == 1
            assert await db.scalar("SELECT status FROM ballots WHERE id = 1") == "closed"
        results = [c for c in tg.calls("sendPhoto", since=before) if c.ok]
        if LEASES:  # the post is queued once; that it is also sent once is the outbox's leases' part
            assert len(results) == 1, [c.params.get("caption") for c in results]
        assert results and all("3 жапсырманың 3" in c.params["caption"] for c in results)
        assert closes[0]["update_id"] != closes[1]["update_id"]
    finally:
        await workers.stop()
