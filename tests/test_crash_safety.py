"""Crash safety and faults: SIGKILL mid-burst, double taps, a failing Bot API, a locked
database, online backup and the audit log's verification."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import pytest


from bot import cli
from bot.storage import ballots
from bot.storage.db import Database
from tests.conftest import open_store
from tests.test_e2e_telegram import TOKEN, Bot, button_for, new_community, onboard, say

PROBLEMS = ["Жол жөндеу керек", "Балалар алаңы жоқ", "Мектеп автобусы кешігеді", "Ауыз су жиі өшеді"]


async def add_members(db: Database, tg, count: int, first_id: int = 5000, community_id: int = 1):
    """Members who joined earlier (stored directly: onboarding them over HTTP is not the point)."""
    users = [tg.user(first_id + i, f"M{i}", "en") for i in range(count)]
    async with db.transaction() as tx:
        for user in users:
            member_id = await tx.insert("INSERT INTO members (name, locale, consent_at, created_at, active_community)"
                                        " VALUES (?, 'en', 'now', 'now', ?)", (user.first_name, community_id))
            await tx.execute("INSERT INTO identities VALUES ('telegram', ?, ?, 'now')", (str(user.id), member_id))
            await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                             " VALUES (?, ?, 'member', 'now')", (community_id, member_id))
    return users


async def linked_village(tg, bot, members: int, problems: list[str] = PROBLEMS):
    """A community with a linked group, its problems proposed, and members; no ballot yet."""
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100321, "Ауыл", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    for text in problems:
        await say(tg, aigerim, f"/propose {text}")
    return aigerim, group, await add_members(bot.app.db, tg, members)


async def ballot_village(tg, bot, members: int):
    """A linked village with four problems and an open sticker ballot."""
    aigerim, group, users = await linked_village(tg, bot, members)
    ballot = await say(tg, aigerim, "/poll dots 3", group)
    return aigerim, group, users, ballot


async def stickers(db_path: str) -> dict[int, dict[int, int]]:
    async with open_store(db_path) as db:
        async with db.transaction() as tx:
            return await ballots.all_stickers(tx, 1)


async def inbox_size(db_path: str) -> int:
    async with open_store(db_path) as db:
        return await db.scalar("SELECT COUNT(*) FROM inbox")


class BotProcess:
    """``qatysu run`` in a child process, as in production: killed with SIGKILL, started again."""

    def __init__(self, tg, db_path: str) -> None:
        self.env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "QATYSU_DB": db_path}
        self.process: subprocess.Popen | None = None
        # its stderr beside the database file; for a PostgreSQL URL, in the temporary folder
        self.log = db_path + ".log" if "://" not in db_path else os.path.join(
            tempfile.gettempdir(), f"qatysu-bot-{db_path.rsplit('/', 1)[-1]}.log")

    def start(self) -> None:
        with open(self.log, "ab") as log:  # a pipe nobody reads would fill and stall it
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env,
                                            stdout=subprocess.DEVNULL, stderr=log)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    async def stopped(self) -> None:
        """``stop`` with the event loop free meanwhile: the fake Bot API runs on it, and the bot's
        clean stop waits for its long poll, which a blocked fake never answers (``stop`` from a
        test's loop so waits the stop's whole bound, seconds for nothing)."""
        await asyncio.to_thread(self.stop)


async def test_sigkill_mid_burst_loses_no_vote_and_counts_none_twice(tg, tmp_path):
    db_path = str(tmp_path / "kill.db")
    runner = Bot(tg, db_path)
    db_path = runner.db_path  # the file, or its PostgreSQL stand-in (QATYSU_TEST_STORE=postgresql)
    await runner.start()
    _, group, users, ballot = await ballot_village(tg, runner, 60)
    await runner.stop()

    process = BotProcess(tg, db_path)
    process.start()
    try:
        taps = []
        for user in users:  # everyone places three stickers: on #1, #2 and #3
            for number in (1, 2, 3):
                taps.append(tg.press(user, ballot, button_for(ballot, number), chat=group))
        ids = {tap["callback_query"]["id"] for tap in taps}
        deadline = time.monotonic() + 30
        while len(ids & set(tg.callback_answers)) < 40 and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        process.kill()
        acknowledged = ids & set(tg.callback_answers)
        assert 40 <= len(acknowledged) < len(taps), "the kill must land in the middle of the burst"

        process.start()
        expected = {1: 1, 2: 1, 3: 1}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = await stickers(db_path)
            if len(state) == 60 and all(v == expected for v in state.values()):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # anything still replayed now would show as a second toggle
        state = await stickers(db_path)
        assert len(state) == 60, f"{60 - len(state)} members lost votes"
        assert all(v == expected for v in state.values()), "a vote was lost or counted twice"
        async with open_store(db_path) as db:  # the counts kept by triggers agree with the votes
            async with db.transaction() as tx:
                assert dict(await ballots.options(tx, 1)) == {1: 60, 2: 60, 3: 60, 4: 0}
                assert (await ballots.get(tx, 1)).turnout == 60
    finally:
        await process.stopped()


async def test_answers_cut_off_by_a_crash_are_given_after_the_restart(tg, tmp_path):
    """A sticker and a proposal commit, then the process dies before any answer reaches Telegram
    (the network stalls, then SIGKILL). After the restart both updates are replayed from the
    inbox: each counts as a duplicate and changes nothing, yet the member gets the toast, the
    proposer the confirmation, and the group its redrawn counts. Before the answers were kept
    with the update, the replay was silent: a member who saw no toast would tap again and take
    the sticker back."""
    db_path = str(tmp_path / "cut.db")
    runner = Bot(tg, db_path)
    db_path = runner.db_path  # the file, or its PostgreSQL stand-in (QATYSU_TEST_STORE=postgresql)
    await runner.start()
    _, group, users, ballot = await ballot_village(tg, runner, 2)
    await runner.stop()
    proposal = "Көше шамдары түнде жанбайды"

    tg.hold(methods=["answerCallbackQuery", "sendMessage", "editMessageText"])
    process = BotProcess(tg, db_path)
    process.start()
    try:
        tap = tg.press(users[0], ballot, button_for(ballot, 2), chat=group)
        tg.send(users[1], f"/propose {proposal}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = await stickers(db_path)
            async with open_store(db_path) as db:
                proposed = await db.scalar("SELECT COUNT(*) FROM problems WHERE text = ?", (proposal,))
            if proposed and len(state) == 1:
                break
            await asyncio.sleep(0.05)
        assert proposed == 1 and len(state) == 1, "both actions must commit before the crash"
        await asyncio.sleep(0.3)  # past the inbox's flush interval: still nothing may be marked done
        process.kill()
        assert tg.release(apply=False) >= 2  # the toast and the confirmation hung, never arrived
        assert tap["callback_query"]["id"] not in tg.callback_answers
        assert not [m for m in tg.messages(users[1].id) if proposal in m["text"]]

        process.start()
        answer = await tg.answer_to(tap, timeout=30)
        assert answer["text"].startswith("Sticker placed on #2")
        reply = await tg.next_message(users[1].id, timeout=30, contains=proposal)
        assert reply["text"].startswith("Recorded as #5")
        await tg.wait_for("editMessageText", timeout=30)  # the group's counts, redrawn
        assert "2. Балалар алаңы жоқ — 1" in tg.message(group, ballot["message_id"])["text"]
        await asyncio.sleep(0.5)
        state = await stickers(db_path)
        assert state == {next(iter(state)): {2: 1}}, "the sticker was counted again, or taken back"
        async with open_store(db_path) as db:
            assert await db.scalar("SELECT COUNT(*) FROM problems WHERE text = ?", (proposal,)) == 1
    finally:
        tg.release(apply=False)
        await process.stopped()


async def test_an_update_telegram_sends_again_after_a_crash_gets_one_full_answer(tg, tmp_path):
    """The process dies after storing and handling a tap but before confirming it to Telegram
    (and before its toast went out), and a proposal waits in the inbox, stored but not handled.
    At the restart both are in the inbox and Telegram sends both again. Each copy used to be
    handled: the tap's second copy was answered with an empty toast, and whichever answer came
    first was the one the member saw. Now the copy from the inbox alone is handled: one answer
    each, the full one, and nothing counted twice."""
    from bot.storage import inbox

    db_path = str(tmp_path / "again.db")
    runner = Bot(tg, db_path)
    db_path = runner.db_path  # the file, or its PostgreSQL stand-in (QATYSU_TEST_STORE=postgresql)
    await runner.start()
    _, group, users, ballot = await ballot_village(tg, runner, 2)
    await runner.stop()
    proposal = "Көше шамдары түнде жанбайды"

    tg.hold(methods=["answerCallbackQuery"])
    process = BotProcess(tg, db_path)
    process.start()
    try:
        tap = tg.press(users[0], ballot, button_for(ballot, 2), chat=group)
        deadline = time.monotonic() + 30
        while not await stickers(db_path) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await stickers(db_path), "the sticker must commit before the crash"
        await asyncio.sleep(0.3)  # past the inbox's flush interval: its toast still hangs
        process.kill()
        assert tg.release(apply=False) == 1
        tg.redeliver(tap)  # Telegram never saw the offset that confirmed it
        told = tg.send(users[1], f"/propose {proposal}")  # stored by the process that died, not handled
        async with open_store(db_path) as db:
            await db.atomic(lambda tx: inbox.store(tx, "telegram", [(str(told["update_id"]), json.dumps(told))],
                                                   "2026-03-02T05:00:00"))
            assert await db.scalar("SELECT COUNT(*) FROM inbox") == 2

        mark = tg.mark()
        process.start()
        answer = await tg.answer_to(tap, timeout=30)
        assert answer["text"].startswith("Sticker placed on #2")
        reply = await tg.next_message(users[1].id, timeout=30, contains=proposal, since=mark)
        assert reply["text"].startswith("Recorded as #5")
        await tg.wait_confirmed(timeout=10)
        await asyncio.sleep(1.0)  # a second copy, were it handled, would have answered by now
        answers = [c for c in tg.calls("answerCallbackQuery", since=mark)
                   if c.params.get("callback_query_id") == tap["callback_query"]["id"]]
        assert len(answers) == 1, [c.params.get("text") for c in answers]
        assert len([m for m in tg.messages(users[1].id) if proposal in m["text"]]) == 1
        assert await stickers(db_path) == {next(iter(await stickers(db_path))): {2: 1}}
        async with open_store(db_path) as db:
            assert await db.scalar("SELECT COUNT(*) FROM problems WHERE text = ?", (proposal,)) == 1
            assert await db.scalar("SELECT COUNT(*) FROM inbox") == 0
    finally:
        tg.release(apply=False)
        await process.stopped()


async def test_a_redraw_cut_off_by_a_crash_is_drawn_at_the_restart(tg, tmp_path):
    """The group's counts are redrawn at most every 3 s; a tap right after a redraw waits for
    the next one, and the process dies before it. The tap was handled, so nothing replays it:
    at the restart the bot redraws every open ballot itself, or the group would show a count
    one vote short until someone taps again."""
    db_path = str(tmp_path / "redraw.db")
    runner = Bot(tg, db_path)
    db_path = runner.db_path  # the file, or its PostgreSQL stand-in (QATYSU_TEST_STORE=postgresql)
    await runner.start()
    _, group, users, ballot = await ballot_village(tg, runner, 2)
    await runner.stop()

    def shown() -> str:
        return tg.message(group, ballot["message_id"])["text"]

    process = BotProcess(tg, db_path)
    process.start()
    try:
        await tg.answer_to(tg.press(users[0], ballot, button_for(ballot, 1), chat=group), timeout=20)
        await tg.wait_for(lambda call: call.method == "editMessageText" and call.ok, timeout=10)
        assert "1. Жол жөндеу керек — 1" in shown()
        await tg.answer_to(tg.press(users[1], ballot, button_for(ballot, 1), chat=group), timeout=10)
        while await inbox_size(db_path):  # handled and marked done (its redraw is due 3 s after the first)
            await asyncio.sleep(0.05)
        process.kill()
        assert "1. Жол жөндеу керек — 1" in shown()

        process.start()
        await tg.wait_for(lambda call: call.method == "editMessageText" and call.ok, timeout=20)
        assert "1. Жол жөндеу керек — 2" in shown()
    finally:
        await process.stopped()


async def test_a_clean_restart_redraws_nothing(tg, tmp_path):
    """A clean stop draws every redraw still due before it ends, so the next start has nothing
    to redraw (an edit that changes nothing would spend the group's 20 messages a minute)."""
    runner = Bot(tg, str(tmp_path / "clean.db"))
    await runner.start()
    _, group, users, ballot = await ballot_village(tg, runner, 2)
    for user in users:
        await tg.answer_to(tg.press(user, ballot, button_for(ballot, 1), chat=group))
    await runner.stop()
    assert "1. Жол жөндеу керек — 2" in tg.message(group, ballot["message_id"])["text"]
    edits = len(tg.calls("editMessageText"))
    await runner.start()
    try:
        await asyncio.sleep(0.5)
        assert len(tg.calls("editMessageText")) == edits
    finally:
        await runner.stop()


async def test_a_crowd_answering_in_private_within_telegrams_flood_limits_loses_nothing(tg, tmp_path):
    """40 members answer a pairwise ballot at once while the fake applies Telegram's limits (30
    messages a second, one a second per chat) and, for the burst's first two seconds, refuses
    every message and edit with a 429 (the bot paces itself within the limits, so the crowd alone
    no longer draws one): what is refused goes out later, and every member still sees each next
    pair in turn, then the thanks."""
    runner = Bot(tg, str(tmp_path / "flood.db"))  # the set-up unpaced (~15 messages to one chat: 15 s paced)
    await runner.start()
    try:
        aigerim, group, users = await linked_village(tg, runner, 40, PROBLEMS[:3])
        await runner.stop()  # and from the ballot on, the bot paces itself by Telegram's limits
        runner.overrides["limits"] = {"rate": 30.0, "private_interval": 1.0, "group_interval": 3.0}
        await runner.start()
        tg.send(aigerim, "/poll pairwise", group)
        invitation = await tg.next_message(group, timeout=20)  # group posts go one per 3 s
        payload = invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1]
        await asyncio.sleep(1.1)  # the set-up's messages out of the limits' windows
        tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30)

        async def answer_every_pair(user) -> str:
            since = tg.mark()
            tg.send(user, f"/start {payload}")
            pair = await tg.next_message(user.id, timeout=60, since=since)
            for _ in range(3):
                since = tg.mark()
                lowest = min((b["text"] for row in pair["reply_markup"]["inline_keyboard"] for b in row),
                             key=lambda label: int(label.split("#")[1].split()[0]))
                tg.press_button(user, pair, lowest)
                pair = await tg.next_edit(pair, timeout=60, since=since)
            return pair["text"]

        tg.throttle_for(2.0, retry_after=1, methods=["sendMessage", "editMessageText"])
        endings = await asyncio.gather(*(answer_every_pair(user) for user in users))
        assert all("compared all 3 pairs" in text for text in endings)
        assert tg.count_429 > 0, "the crowd must have been refused for this test to mean anything"
        async with runner.app.db.transaction() as tx:
            answers = await ballots.all_answers(tx, 1)
        assert len(answers) == 40 and all(len(a) == 3 for a in answers.values())
    finally:
        await runner.stop()


async def test_twenty_identical_taps_at_once_leave_one_sticker(tg, bot):
    bot.app.engine.double_tap = 1.0
    _, group, users, ballot = await ballot_village(tg, bot, 1)
    data = button_for(ballot, 2)
    taps = [tg.press(users[0], ballot, data, chat=group) for _ in range(20)]
    await asyncio.gather(*(tg.answer_to(t) for t in taps))
    async with bot.app.db.transaction() as tx:
        assert await ballots.all_stickers(tx, 1) == {2: {2: 1}}
        assert dict(await ballots.options(tx, 1))[2] == 1


async def test_a_failing_bot_api_loses_no_action(tg, bot):
    _, group, users, ballot = await ballot_village(tg, bot, 3)
    tg.fail_next(2, status=500, methods=["answerCallbackQuery"])
    update = tg.press(users[0], ballot, button_for(ballot, 1), chat=group)
    await tg.answer_to(update, timeout=10)  # answered after the retries
    tg.throttle_for(1.5, retry_after=1, methods=["sendMessage", "editMessageText"])
    reply = await say(tg, users[1], "/status", contains="seven steps")
    assert "▶️ 1." in reply["text"]
    await tg.answer_to(tg.press(users[2], ballot, button_for(ballot, 1), chat=group), timeout=10)
    async with bot.app.db.transaction() as tx:
        assert dict(await ballots.options(tx, 1))[1] == 2
    assert tg.count_429 >= 1


async def test_a_redraw_held_back_by_a_429_never_overwrites_a_newer_one(tg, bot):
    """The group's counts are redrawn; Telegram refuses the edit with a 429, so that drawing
    waits in the outbox; meanwhile a newer drawing goes through. The one that waited must not
    then be sent over it: the group would show a count one vote short until the next tap."""
    _, group, users, ballot = await ballot_village(tg, bot, 3)
    tg.throttle_for(2.0, retry_after=3, methods=["editMessageText"])
    await tg.answer_to(tg.press(users[0], ballot, button_for(ballot, 1), chat=group))
    await tg.wait_for(lambda call: call.method == "editMessageText" and call.status == 429)
    await asyncio.sleep(2.2)  # the 429s are over; the refused drawing is due in the outbox at 3 s
    await tg.answer_to(tg.press(users[1], ballot, button_for(ballot, 1), chat=group))
    await tg.wait_for(lambda call: call.method == "editMessageText" and call.ok)
    await asyncio.sleep(1.5)  # past the refused drawing's retry_after
    assert "1. Жол жөндеу керек — 2" in tg.message(group, ballot["message_id"])["text"]
    refused = [call for call in tg.calls("editMessageText") if call.status == 429]
    assert len(refused) == 1, "the outbox tried again before the retry_after Telegram asked for"


async def test_a_vote_cast_before_the_ballot_post_went_out_shows_once_it_does(tg, bot):
    """A new ballot's group post waits in the outbox (a passing 500) while a member already
    votes in private through /vote. The redraw of the group's counts has nothing to edit yet:
    it goes to the outbox after the post, so the group sees the vote instead of a zero."""
    aigerim, group, (member,) = await linked_village(tg, bot, 1)
    tg.fail_next(1, status=500, methods=["sendMessage"])
    tg.send(aigerim, "/poll dots", group)
    await tg.wait_for(lambda call: call.method == "sendMessage" and call.status == 500)
    menu = await say(tg, member, "/vote")
    tg.press_button(member, menu, "Sticker voting")
    private = await tg.next_message(member.id)
    first = private["reply_markup"]["inline_keyboard"][0][0]
    await tg.answer_to(tg.press(member, private, first["callback_data"]))
    post = await tg.next_message(group, timeout=10)
    number = first["callback_data"].split(":")[-1]
    await tg.next_edit(post, timeout=10)
    line = next(line for line in tg.message(group, post["message_id"])["text"].splitlines()
                if line.startswith(f"{number}. "))
    assert line.endswith("— 1"), line


@pytest.mark.sqlite_only  # SQLite's write lock, taken by another connection
async def test_a_locked_database_delays_but_never_silently_fails(tg, bot):
    _, group, users, ballot = await ballot_village(tg, bot, 2)

    def hold_lock(seconds: float) -> None:
        raw = sqlite3.connect(bot.db_path, timeout=10)
        raw.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        raw.rollback()
        raw.close()

    holder = threading.Thread(target=hold_lock, args=(1.0,))
    holder.start()
    await asyncio.sleep(0.1)
    answer = await tg.answer_to(tg.press(users[0], ballot, button_for(ballot, 1), chat=group), timeout=15)
    holder.join()
    assert answer["text"].startswith("Sticker placed on #1")

    # locked for longer than SQLite waits: the update stays with Telegram until it can be stored
    bot.app.db.busy_timeout_ms = 300
    await bot.app.db.conn.execute("PRAGMA busy_timeout = 300")
    holder = threading.Thread(target=hold_lock, args=(2.0,))
    holder.start()
    await asyncio.sleep(0.1)
    answer = await tg.answer_to(tg.press(users[1], ballot, button_for(ballot, 1), chat=group), timeout=15)
    holder.join()
    assert answer["text"].startswith("Sticker placed on #1")
    async with bot.app.db.transaction() as tx:
        assert dict(await ballots.options(tx, 1))[1] == 2


@pytest.mark.sqlite_only  # SQLite's write lock, taken by another connection
async def test_an_action_that_meets_a_locked_database_waits_and_is_done_once(tg, bot):
    """The update is already in the inbox when its own transaction finds the database locked for
    longer than SQLite waits: the action is tried again until it is stored, and the member is
    answered once, with what was done — never "nothing was saved, try again", which would make
    them tap again and take the sticker back."""
    _, group, users, ballot = await ballot_village(tg, bot, 1)
    bot.app.db.busy_timeout_ms = 300
    locked = threading.Event()

    def hold_lock(seconds: float) -> None:
        raw = sqlite3.connect(bot.db_path, timeout=10)
        raw.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        raw.rollback()
        raw.close()

    engine, handle = bot.app.engine, bot.app.engine.handle
    holders: list[threading.Thread] = []

    async def locked_first(event):
        if not holders:  # the first time only: the lock comes after the update was stored
            holders.append(threading.Thread(target=hold_lock, args=(1.5,)))
            holders[0].start()
            await asyncio.to_thread(locked.wait)
        return await handle(event)

    engine.handle = locked_first
    mark = len(tg.calls())
    answer = await tg.answer_to(tg.press(users[0], ballot, button_for(ballot, 1), chat=group), timeout=15)
    holders[0].join()
    assert answer["text"].startswith("Sticker placed on #1")
    assert len(tg.calls("answerCallbackQuery", since=mark)) == 1
    holders.clear()
    locked.clear()
    tg.send(users[0], "/propose Көпір құлап жатыр")
    reply = await tg.next_message(users[0].id, timeout=15)
    assert "#5" in reply["text"], reply["text"]
    await asyncio.sleep(0.3)
    assert not [m for m in tg.messages(users[0].id) if "went wrong" in m["text"]]
    async with bot.app.db.transaction() as tx:
        assert dict(await ballots.options(tx, 1))[1] == 1
        assert await tx.scalar("SELECT COUNT(*) FROM problems WHERE text = 'Көпір құлап жатыр'") == 1


@pytest.mark.sqlite_only  # `qatysu backup` (PostgreSQL is backed up with pg_dump)
async def test_online_backup_while_the_bot_runs_keeps_every_vote(tg, bot, tmp_path, monkeypatch):
    _, group, users, ballot = await ballot_village(tg, bot, 5)
    for user in users:
        await tg.answer_to(tg.press(user, ballot, button_for(ballot, 3), chat=group))
    target = str(tmp_path / "backup.db")
    monkeypatch.setenv("QATYSU_DB", bot.db_path)
    status = await asyncio.to_thread(cli.main, ["backup", target])
    assert status == 0
    async with Database(target) as copy:
        async with copy.transaction() as tx:
            assert dict(await ballots.options(tx, 1))[3] == 5
            assert len(await ballots.all_stickers(tx, 1)) == 5


@pytest.mark.sqlite_only  # `qatysu audit` reads a SQLite file, so far
async def test_audit_verify_command_names_the_first_broken_entry(tg, bot, monkeypatch, capsys):
    await ballot_village(tg, bot, 1)
    await bot.stop()
    monkeypatch.setenv("QATYSU_DB", bot.db_path)
    assert await asyncio.to_thread(cli.main, ["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    raw = sqlite3.connect(bot.db_path)
    raw.executescript("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = '{}' WHERE id = 3;")
    raw.close()
    assert await asyncio.to_thread(cli.main, ["audit", "verify"]) == 1
    assert "entry 3" in capsys.readouterr().out


async def test_a_slow_or_timing_out_bot_api_does_not_hold_up_votes(tg, bot):
    _, group, users, ballot = await ballot_village(tg, bot, 2)
    bot.app.bot.session.timeout = 1  # seconds before the client gives up on a request
    tg.slow(3.0, methods=["sendMessage"])  # every message the bot sends now times out
    tg.send(users[0], "/status")  # its reply hangs, then fails; the outbox will retry it
    started = asyncio.get_running_loop().time()
    answer = await tg.answer_to(tg.press(users[1], ballot, button_for(ballot, 2), chat=group), timeout=10)
    assert answer["text"].startswith("Sticker placed on #2")
    assert asyncio.get_running_loop().time() - started < 2.5  # not queued behind the hanging request
    tg.slow(0)
    reply = await tg.next_message(users[0].id, timeout=15, contains="seven steps")
    assert "▶️ 1." in reply["text"]


@pytest.mark.sqlite_only  # `qatysu audit` reads a SQLite file, so far
async def test_audit_verify_finds_entries_cut_from_the_end_by_a_posted_hash(tg, bot, monkeypatch, capsys):
    await ballot_village(tg, bot, 1)
    await bot.stop()
    monkeypatch.setenv("QATYSU_DB", bot.db_path)
    raw = sqlite3.connect(bot.db_path)
    posted = raw.execute("SELECT substr(hash, 1, 8) FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert await asyncio.to_thread(cli.main, ["audit", "verify", "--head", posted]) == 0
    assert "intact" in capsys.readouterr().out
    # Someone with the file drops the guards and cuts the newest entries: the chain alone still fits.
    triggers = raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
    for (name,) in triggers.fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute("DELETE FROM audit_log WHERE id > (SELECT MAX(id) - 2 FROM audit_log)")
    raw.commit()
    raw.close()
    assert await asyncio.to_thread(cli.main, ["audit", "verify"]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["audit", "verify", "--head", posted.upper()]) == 1
    assert f"no entry has the posted hash {posted}" in capsys.readouterr().out


@pytest.mark.sqlite_only  # `qatysu backup` (PostgreSQL is backed up with pg_dump)
async def test_backup_refuses_to_overwrite_a_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "backup.db"
    target.write_bytes(b"earlier backup")
    monkeypatch.setenv("QATYSU_DB", str(tmp_path / "bot.db"))
    assert await asyncio.to_thread(cli.main, ["backup", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert target.read_bytes() == b"earlier backup"


async def test_a_vote_answered_too_late_for_telegram_still_counts(tg, bot):
    _, group, users, ballot = await ballot_village(tg, bot, 1)
    tg.callback_expiry = 0.0  # as under a burst that kept the tap waiting past Telegram's window
    since = len(tg.calls())
    tg.press(users[0], ballot, button_for(ballot, 2), chat=group)
    refused = await tg.wait_for("answerCallbackQuery")
    assert refused.status == 400  # the member sees no toast
    await asyncio.sleep(0.3)
    assert [c.status for c in tg.calls("answerCallbackQuery", since)] == [400]  # not tried again
    async with bot.app.db.transaction() as tx:
        assert dict(await ballots.options(tx, 1))[2] == 1  # the vote is stored and counted
    edit = await tg.next_edit(ballot, timeout=6)
    assert "— 1" in edit["text"]  # the group sees it
