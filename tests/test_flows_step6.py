"""Step 6 through the simulator, with the injected clock: check-ins and their history, the ҚМҰТ
alerted at once, /progress, the reminders the scheduler sends from their rows (at the right local
time, in quiet hours, muted, cancelled by a done task, never twice across a restart), /remind and
/mute, and the plan shown as changed since its approval."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.flows.engine import Engine
from bot.handlers.telegram import tme
from bot.scheduler import Scheduler
from bot.sim import Sim
from bot.storage import checkins
from tests.test_flows_step3 import chosen, data, make_kmut
from tests.test_flows_step5 import propose

BOT = "qatysu_test_bot"  # the test engine's (tests/conftest.py), in Telegram's links


async def tick(sim: Sim) -> None:
    """One sweep of the scheduler, and its messages delivered."""
    await Scheduler(sim.engine, sim.delivery).sweep()
    await sim.outbox.drain()


def at(clock, tz: str, *args) -> None:
    """Set the test clock to a local time in ``tz`` (each reading adds 2 s)."""
    clock.now = datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def texts(person, since: int = 0) -> list[str]:
    return [m.text for m in person.inbox()[since:]]


async def planned(c, tz: str = "Asia/Almaty"):
    """A plan of two tasks: #1 (10.03–20.03) for the English-speaking member, #2 (02.03–05.03) for
    the Russian-speaking one; the facilitator names them."""
    m1, m2, m3 = c.members
    async with c.sim.engine.db.transaction() as tx:
        await tx.execute("UPDATE communities SET tz = ?", (tz,))
    await chosen(c)
    await propose(m3, "Clean the culvert\n10.03 – 20.03")
    await propose(m2, "Write to the akimat\n02.03 – 05.03")
    for member, number in ((m3, 1), (m2, 2)):
        await member.press_data(f"kv:1:{number}")
        await c.facilitator.send(f"/plan owner {number}")
        await c.facilitator.press_data(data(c.facilitator.last(), "ko:")[0])
    return m1, m2, m3


async def check_in(person, number: int, status: str, percent: int | None = None, note: str | None = None,
                   finish: bool = True):
    await person.send("/checkin")
    await person.press_data(f"ci:1:{number}")
    await person.press_data(f"cs:1:{number}:{status}")
    if percent is not None:
        await person.send(str(percent))
    if not finish:
        return None
    if note is None:
        return await person.press_data("cn:1")
    return await person.send(note)


async def history(c, number: int):
    async with c.sim.engine.db.transaction() as tx:
        task = await checkins.task(tx, 1, number)
        return [(h.status, h.percent, h.note, h.photo) for h in await checkins.history(tx, task.id)]


# --- check-ins ----------------------------------------------------------------------------------
async def test_an_owner_checks_in_every_report_is_kept_and_plan_shows_the_latest(community):
    c = community
    m1, m2, m3 = await planned(c)
    await m3.send("/checkin")
    assert m3.last().text.startswith("Which task do you report on?")
    assert data(m3.last(), "ci:") == ["ci:1:1"]  # only their own
    await m3.press_data("ci:1:1")
    assert m3.last().text == "#1 «Clean the culvert»: how is it going?"
    await m3.press_data("cs:1:1:on_track")
    assert data(m3.last(), "cp:") == [f"cp:1:1:on_track:{p}" for p in (0, 25, 50, 75, 100)]
    await m3.press_data("cp:1:1:on_track:25")
    await m3.send("Dug out half of the silt")
    assert m3.last().text == "Thank you! #1: on track, 25%."
    await check_in(m3, 1, "on_track", 60)
    await m3.send("/plan")
    assert "#1 <b>Clean the culvert</b> — Мүше 3 — 10.03–20.03 — 🟢 on track, 60%" in m3.last().text
    assert await history(c, 1) == [("on_track", 25, "Dug out half of the silt", None), ("on_track", 60, "", None)]


async def test_late_and_blocked_reports_alert_the_kmut_at_once_with_the_note(community):
    c = community
    m1, m2, m3 = await planned(c)
    await make_kmut(c, m1)
    seen = len(m1.inbox())
    await check_in(m3, 1, "late", 40, finish=False)
    await m3.send_photo("AgACAgIAAxk", "The pipe is broken")
    assert m3.last().text == "Thank you! #1: late, 40%.\nThe ҚМҰТ is told at once."
    (alert,) = texts(m1, seen)
    assert "#1" in alert and "Мүше 3" in alert and "The pipe is broken" in alert
    assert not any("The pipe is broken" in t for t in texts(c.facilitator))  # the ҚМҰТ is elected: not the facilitator
    await check_in(m2, 2, "blocked", 0, "Акимат не отвечает")
    assert "Акимат не отвечает" in m1.last().text
    assert await history(c, 1) == [("late", 40, "The pipe is broken", "demo:AgACAgIAAxk")]


async def test_a_check_in_on_someone_elses_task_a_wrong_percent_or_a_document_stores_nothing(community):
    c = community
    m1, m2, m3 = await planned(c)
    forged = await m2.press_data("ci:1:1")
    assert forged.toast.text == "Только ответственный за #1 сообщает о его ходе."
    forged = await m2.press_data("cp:1:1:on_track:50")
    assert forged.toast.text == "Только ответственный за #1 сообщает о его ходе."
    forged = await m3.press_data("cp:1:1:on_track:150")
    assert forged.toast.text.startswith("This button no longer works")
    await m3.press_data("ci:1:1")
    await m3.press_data("cs:1:1:late")
    for typed in ("150", "-5", "half"):
        await m3.send(typed)
        assert m3.last().text == "A number from 0 to 100, please (for example 40)."
    await m3.send("75")
    await m3.send_document("receipt.pdf")
    assert m3.last().text == "Please send the picture as a photo (not as a file), up to 20 MB, or write a note."
    assert await history(c, 1) == []
    await m3.send("Waiting for the pipe")  # still asked for the note after the refusals
    assert await history(c, 1) == [("late", 75, "Waiting for the pipe", None)]


async def test_progress_in_the_group_draws_the_chart_and_says_how_many_in_words(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    await check_in(m2, 2, "done")
    await check_in(m3, 1, "blocked", 10, "No pipe")
    await m1.send("/progress", c.group)
    post = c.sim.messages(c.group.id)[-1]
    assert post.image is not None and post.image.startswith(b"\x89PNG") and len(post.image) < 200_000
    assert post.text.startswith("Жоспардың орындалуы, 2 міндет: ")
    assert "#1" in post.text  # due next


# --- reminders ---------------------------------------------------------------------------------
@pytest.mark.parametrize("tz", ["Asia/Almaty", "America/New_York"])
async def test_task_reminders_fall_at_nine_local_time_before_due_overdue_and_to_check_in(community, clock, tz):
    c = community
    m1, m2, m3 = await planned(c, tz)
    await make_kmut(c, m1)
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)  # plans them: #1 due 20.03; its check-in prompt 7 days from now
    seen = len(m3.inbox())
    at(clock, tz, 2026, 3, 9, 8, 58)
    await tick(c.sim)
    assert texts(m3, seen) == []
    at(clock, tz, 2026, 3, 9, 9, 0)
    await tick(c.sim)
    assert texts(m3, seen) == ["🔔 How is your task #1 «Clean the culvert» going? Report in a minute: done, on track, "
                               "late or blocked."]
    assert data(m3.last(), "ci:") == ["ci:1:1"]
    at(clock, tz, 2026, 3, 17, 9, 0)
    await tick(c.sim)
    assert [t for t in texts(m3, seen) if t.startswith("📅")] == [
        "📅 Your task #1 «Clean the culvert» is due on 20.03. How is it going?"]  # and the weekly prompt of the 16th
    at(clock, tz, 2026, 3, 21, 9, 0)
    seen_kmut = len(m1.inbox())
    await tick(c.sim)
    assert texts(m3, seen)[-1].startswith("⚠️ Your task #1 «Clean the culvert» was due on 20.03")
    assert len(texts(m1, seen_kmut)) == 1 and "#1" in texts(m1, seen_kmut)[0]
    await c.facilitator.send("/plan dates 1 21.03 22.03")  # moved, and overdue again: the owner again, the ҚМҰТ not
    at(clock, tz, 2026, 3, 23, 9, 0)
    await tick(c.sim)
    assert texts(m3, seen)[-1].startswith("⚠️ Your task #1 «Clean the culvert» was due on 22.03")
    assert len(texts(m1, seen_kmut)) == 1


async def test_quiet_hours_hold_a_reminder_until_they_end(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    await c.facilitator.send("/remind quiet 06:00 10:30")
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)
    seen = len(m3.inbox())
    at(clock, tz, 2026, 3, 9, 9, 0)
    await tick(c.sim)
    at(clock, tz, 2026, 3, 9, 10, 29)
    await tick(c.sim)
    assert texts(m3, seen) == []
    at(clock, tz, 2026, 3, 9, 10, 30)
    await tick(c.sim)
    assert len(texts(m3, seen)) == 1 and texts(m3, seen)[0].startswith("🔔 How is your task #1")


async def test_a_done_task_leaves_the_reminders_and_a_check_in_restarts_the_prompts(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)
    at(clock, tz, 2026, 3, 4, 12, 0)
    await check_in(m3, 1, "on_track", 30)  # the next prompt: 7 days after this, not after the 2nd
    await check_in(m2, 2, "done")
    seen2, seen3 = len(m2.inbox()), len(m3.inbox())
    for day in range(5, 25):
        at(clock, tz, 2026, 3, day, 9, 1)
        await tick(c.sim)
    assert texts(m2, seen2) == []  # done: no prompt, no overdue reminder
    prompts = [t for t in texts(m3, seen3) if t.startswith("🔔")]
    assert len(prompts) == 2  # the 11th and the 18th
    async with c.sim.engine.db.transaction() as tx:
        sent = await tx.all("SELECT key FROM reminders WHERE kind = 'checkin' AND status = 'sent' ORDER BY id")
    assert [r[0] for r in sent] == ["checkin:t1:2026-03-11", "checkin:t1:2026-03-18"]


@pytest.mark.parametrize("tz, utc_hour", [("Asia/Almaty", 5), ("Europe/Moscow", 7)])
async def test_the_weekly_digest_goes_to_the_group_at_its_local_time(community, clock, tz, utc_hour):
    c = community
    m1, m2, m3 = await planned(c, tz)
    await check_in(m2, 2, "done")
    await check_in(m3, 1, "late", 20, "Rain")
    at(clock, tz, 2026, 3, 3, 12, 0)
    await tick(c.sim)
    posts = len(c.sim.messages(c.group.id))
    clock.now = datetime(2026, 3, 9, utc_hour - 1, 59, tzinfo=timezone.utc)
    await tick(c.sim)
    assert len(c.sim.messages(c.group.id)) == posts
    clock.now = datetime(2026, 3, 9, utc_hour, 0, tzinfo=timezone.utc)  # Monday 10:00 there
    await tick(c.sim)
    (digest,) = c.sim.messages(c.group.id)[posts:]
    assert digest.image is not None
    assert digest.text.startswith("📊 <b>")
    await c.facilitator.send("/remind digest fri 18:30")
    at(clock, tz, 2026, 3, 13, 18, 29)
    await tick(c.sim)
    assert len(c.sim.messages(c.group.id)) == posts + 1
    at(clock, tz, 2026, 3, 13, 18, 30)
    await tick(c.sim)
    assert len(c.sim.messages(c.group.id)) == posts + 2


async def test_a_closing_ballot_reminds_only_those_who_have_not_voted_24_and_1_hours_before(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    f = c.facilitator
    await f.send("/poll plan 2d", c.group)
    opened = clock.now
    approve = data(c.sim.messages(c.group.id)[-1], "pl:")[0]
    await m1.press_data(approve, c.group)
    await tick(c.sim)
    seen = {p.name: len(p.inbox()) for p in (m1, m2, m3, f)}
    clock.now = opened + timedelta(hours=24) - timedelta(minutes=2)
    await tick(c.sim)
    assert all(len(p.inbox()) == seen[p.name] for p in (m1, m2, m3, f))
    clock.now = opened + timedelta(hours=24)
    await tick(c.sim)
    assert len(m1.inbox()) == seen[m1.name]  # voted: nothing
    for p in (m2, m3, f):
        assert len(p.inbox()) == seen[p.name] + 1
    assert m3.last().text.startswith("⏰ The vote «Action plan» in «Көктерек» closes at ")
    await m2.press_data(approve, c.group)
    clock.now = opened + timedelta(hours=47)
    await tick(c.sim)
    assert len(m2.inbox()) == seen[m2.name] + 1  # voted meanwhile
    assert len(m3.inbox()) == seen[m3.name] + 2
    await tick(c.sim)
    assert len(m3.inbox()) == seen[m3.name] + 2  # once


async def test_an_opened_ballot_is_told_in_private_to_members_not_seen_in_the_group(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    await m1.send("/status", c.group)  # m1 is in the group
    await tick(c.sim)
    seen = {p.name: len(p.inbox()) for p in (m1, m2, m3)}
    await c.facilitator.send("/poll plan", c.group)
    await tick(c.sim)
    assert texts(m1, seen[m1.name]) == []
    (told,) = [m for m in m3.inbox()[seen[m3.name]:]]
    assert told.text.startswith("🗳 A vote is open in «Көктерек»: Action plan.")
    assert tme(told.buttons[0][0].link, BOT) == "https://t.me/qatysu_test_bot?start=b_1"
    assert len(texts(m2, seen[m2.name])) == 1
    await tick(c.sim)
    assert len(texts(m3, seen[m3.name])) == 1


async def test_a_restart_in_the_middle_neither_loses_nor_duplicates(community, clock, db):
    c = community
    m1, m2, m3 = await planned(c)
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)  # planned by the first engine
    at(clock, tz, 2026, 3, 9, 9, 0)
    engine = Engine(db, bot_username="qatysu_test_bot", clock=clock, rng=random.Random(1))
    restarted = Sim(engine)  # the bot came back: a new engine and channel on the same database
    await tick(restarted)
    await tick(restarted)
    prompts = [m.chat_id for _, m, _ in restarted.sender.log if m.text.startswith("🔔")]
    assert sorted(prompts) == sorted([m3.id, m2.id])  # each owner's weekly prompt, once
    overdue = [m.chat_id for _, m, _ in restarted.sender.log if m.text.startswith("⚠️")]
    assert overdue.count(m2.id) == 1  # #2 was due on 05.03: missed while down, still matters
    before = len(c.sim.sender.log)
    await tick(c.sim)  # the first engine again, on the same database: nothing a second time
    assert len(c.sim.sender.log) == before


async def test_a_reminder_missed_while_down_is_skipped_when_it_no_longer_matters(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)
    at(clock, tz, 2026, 3, 8, 12, 0)
    await check_in(m3, 1, "done")
    seen = len(m3.inbox())
    at(clock, tz, 2026, 3, 30, 12, 0)  # the bot was down for weeks
    await tick(c.sim)
    assert texts(m3, seen) == []
    async with c.sim.engine.db.transaction() as tx:
        rows = await tx.all("SELECT key, status FROM reminders WHERE task_id = 1 AND kind <> 'checkin'")
    assert {r[1] for r in rows} == {"skipped"}


# --- settings -----------------------------------------------------------------------------------
async def test_remind_shows_and_changes_the_settings_and_refuses_bad_input(community):
    c = community
    f = c.facilitator
    m3 = c.members[2]
    await f.send("/remind")
    assert "10:00" in f.last().text and "22:00–08:00" in f.last().text
    for bad in ("digest xyz 25:00", "digest mon 25:00", "quiet 22:00 22:00", "checkin 0", "off everything"):
        await f.send(f"/remind {bad}")
        assert len(f.last().text) < 120, bad
    await f.send("/remind quiet 22:00 22:00")
    assert f.last().text == "Тыныштық сағаттарының басы мен соңы әртүрлі болуы керек, мысалы: /remind quiet 22:00 08:00."
    await f.send("/remind digest sun 19:15")
    await f.send("/remind off due")
    await f.send("/remind checkin 3")
    await f.send("/remind")
    assert "19:15" in f.last().text and "🔕 due" in f.last().text and "🔔 overdue" in f.last().text
    await m3.send("/remind off digest")
    assert m3.last().text == "Only the community's facilitator can do that."


async def test_a_member_mutes_their_reminders_but_not_the_closing_ballot_ones(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    await m3.send("/mute 99999d")
    assert m3.last().text == "Write for how many days, from 1 to 90, like /mute 7d."
    await m3.send("/mute 30d")
    assert m3.last().text.startswith("Your reminders are muted for 30 days, until ")
    await c.facilitator.send("/poll plan 2d", c.group)
    opened = clock.now
    seen = len(m3.inbox())
    await tick(c.sim)
    assert len(m3.inbox()) == seen  # no "a vote is open"
    clock.now = opened + timedelta(hours=47)
    await tick(c.sim)
    assert len(m3.inbox()) == seen + 1 and m3.last().text.startswith("⏰")
    await m3.send("/mute off")
    assert m3.last().text == "Reminders are on again."


# --- plan versions -------------------------------------------------------------------------------
async def test_a_plan_changed_after_its_approval_says_so_until_approved_again(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    f = c.facilitator
    await f.send("/poll plan", c.group)
    approve = data(c.sim.messages(c.group.id)[-1], "pl:")[0]
    for m in (m1, m2, m3):
        await m.press_data(approve, c.group)
    await f.send("/close plan", c.group)
    await m3.send("/status")
    assert "changed since" not in m3.last().text
    await f.send("/plan dates 1 11.03 21.03")
    changed = "⚠️ The plan has changed since the members approved it on 02.03.2026."
    await m3.send("/status")
    assert m3.last().text.endswith(changed)
    await m3.send("/plan")
    assert changed in m3.last().text
    await m3.send("/progress")
    assert m3.last().text.endswith(changed)
    at(clock, "Asia/Almaty", 2026, 3, 8, 12, 0)
    await tick(c.sim)
    at(clock, "Asia/Almaty", 2026, 3, 9, 10, 0)  # Monday: the digest says so too
    await tick(c.sim)
    digest = c.sim.messages(c.group.id)[-1]
    assert digest.text.startswith("📊 ") and digest.text.endswith(
        "⚠️ Мүшелер жоспарды бекіткеннен бері ол өзгерді (бекітілген күні: 02.03.2026).")
    await f.send("/poll plan", c.group)
    approve = data(c.sim.messages(c.group.id)[-1], "pl:")[0]
    for m in (m1, m2):
        await m.press_data(approve, c.group)
    await f.send("/close plan", c.group)
    await m3.send("/status")
    assert changed not in m3.last().text


async def test_a_clock_reading_in_another_zone_sends_nothing_early(community, clock):
    """Instants are compared as instants: a clock that reads 08:00+05:00 is before 09:00+05:00,
    although its text sorts after the stored 04:00+00:00."""
    c = community
    m1, m2, m3 = await planned(c)
    at(clock, "Asia/Almaty", 2026, 3, 2, 12, 0)
    await tick(c.sim)
    c.sim.engine.clock = lambda: clock().astimezone(ZoneInfo("Asia/Almaty"))
    seen = len(m3.inbox())
    at(clock, "Asia/Almaty", 2026, 3, 9, 8, 0)
    await tick(c.sim)
    assert texts(m3, seen) == []
    at(clock, "Asia/Almaty", 2026, 3, 9, 9, 0)
    await tick(c.sim)
    assert [t[:2] for t in texts(m3, seen)] == ["🔔 "]


async def test_an_owner_who_erases_their_data_leaves_the_task_to_nobody_and_the_kmut_is_told(community, clock):
    c = community
    m1, m2, m3 = await planned(c)
    await make_kmut(c, m1)
    await m3.send("/forget")
    await m3.press_data("forget:yes")
    assert m1.last().text == ("#1 «Clean the culvert» міндетіне енді ешкім жауапты емес: жауапты мүше кетіп қалды. "
                              "Басқа біреуді /plan owner 1 арқылы белгілеңіз.")
    async with c.sim.engine.db.transaction() as tx:
        assert (await checkins.task(tx, 1, 1)).owner_id is None
    at(clock, "Asia/Almaty", 2026, 3, 30, 12, 0)
    await tick(c.sim)  # the scheduler keeps running: nothing for a task nobody is responsible for
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM reminders WHERE task_id = 1 AND status = 'sent'") == 0


async def test_a_reminder_that_fails_is_skipped_alone_and_the_others_go_out(community, clock, monkeypatch, caplog):
    from bot.flows import reminders as reminder_flows

    c = community
    m1, m2, m3 = await planned(c)
    at(clock, "Asia/Almaty", 2026, 3, 2, 12, 0)
    await tick(c.sim)
    real = reminder_flows.SENDERS["checkin"]

    async def failing(ctx, community, reminder):
        await real(ctx, community, reminder)  # its message is queued, then it fails: undone
        if reminder.task_id == 1:
            raise RuntimeError("a broken reminder")
        return 1

    monkeypatch.setitem(reminder_flows.SENDERS, "checkin", failing)
    seen2, seen3 = len(m2.inbox()), len(m3.inbox())
    at(clock, "Asia/Almaty", 2026, 3, 9, 9, 0)
    await tick(c.sim)
    assert [t for t in texts(m2, seen2) if t.startswith("🔔")] != []  # the other owner's prompt went out
    assert texts(m3, seen3) == []
    assert "a broken reminder" in caplog.text
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT status FROM reminders WHERE key = 'checkin:t1:2026-03-09'") == "skipped"


async def test_a_plan_approved_before_the_upgrade_is_known_as_approved(tmp_path):
    from bot.storage.db import Database
    from bot.storage.reminders import approval

    db = await Database(str(tmp_path / "old.db")).open(migrate_to=17)  # before step 6's migration
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO communities (id, name, place, tz, locale, join_code, created_at) "
                             "VALUES (1, 'V', 'P', 'Asia/Almaty', 'kk', 'ABC123', '2026-03-02T05:00:00+00:00')")
            for member in (1, 2, 3):
                await tx.execute("INSERT INTO members (id, locale, name, consent_at, created_at) VALUES (?, 'kk', 'A',"
                                 " '2026', '2026')", (member,))
            for ballot, votes in ((1, (1, 1, 0)), (2, (0, 0, 1))):  # approved, then a later one not approved
                await tx.execute("INSERT INTO ballots (id, community_id, kind, visibility, opened_by, opened_at) "
                                 "VALUES (?, 1, 'plan', 'live', 1, '2026-03-02T05:00:00+00:00')", (ballot,))
                for member, approve in zip((1, 2, 3), votes):
                    await tx.execute("INSERT INTO plan_votes VALUES (?, ?, ?)", (ballot, member, approve))
                await tx.execute("UPDATE ballots SET status = 'closed', closed_at = ? WHERE id = ?",
                                 (f"2026-03-0{2 + ballot}T05:00:00+00:00", ballot))
        await db.migrate()
        async with db.transaction() as tx:
            assert await approval(tx, 1) == ("2026-03-03T05:00:00+00:00", False)
    finally:
        await db.close()


# --- the audit of issue 13's lists: what had no test yet ---------------------------------------------
@pytest.mark.parametrize("tz", ["Asia/Almaty", "America/New_York"])
async def test_the_closing_reminder_comes_an_hour_before_and_names_the_closing_time_in_the_communitys_zone(
        community, clock, tz):
    c = community
    m1, m2, m3 = await planned(c, tz)
    at(clock, tz, 2026, 3, 2, 12, 0)
    await c.facilitator.send("/poll plan 18:00", c.group)  # closes today at 18:00 there: too soon for "24 h left"
    await tick(c.sim)
    seen = len(m3.inbox())
    at(clock, tz, 2026, 3, 2, 16, 58)  # each reading adds 2 s
    await tick(c.sim)
    assert texts(m3, seen) == []
    at(clock, tz, 2026, 3, 2, 17, 0)
    await tick(c.sim)
    assert texts(m3, seen) == ["⏰ The vote «Action plan» in «Көктерек» closes at 18:00 on 02.03, and you have not "
                               "voted yet."]
    await tick(c.sim)
    assert len(texts(m3, seen)) == 1


async def test_remind_with_bad_input_answers_in_the_facilitators_language_and_changes_nothing(community):
    from bot.storage import reminders

    c = community
    f = c.facilitator
    await f.send("/remind")
    shown = f.last().text
    await f.send("/remind digest xyz 25:00")
    assert f.last().text == "Күн мен уақытты жазыңыз, мысалы: /remind digest mon 10:00."
    for bad in ("digest mon 25:00", "digest 10:00", "quiet 22:00 22:00", "quiet 08:00", "quiet 25:00 08:00",
                "checkin 0", "checkin 999", "off everything", "on"):
        await f.send(f"/remind {bad}")
        answer = f.last().text
        assert len(answer) < 120 and any(letter in answer for letter in "әғқңөұүі"), bad  # short, in Kazakh
    await f.send("/remind")
    assert f.last().text == shown
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM reminder_settings") == 0
        assert await reminders.settings(tx, 1) == reminders.Settings()


async def test_a_mute_too_long_is_refused_in_the_members_language_and_nothing_is_muted(community, clock):
    from bot.storage import reminders

    c = community
    m1, m2, m3 = await planned(c)
    for bad in ("99999d", "91d", "0d", "-5d", "xyz"):
        await m2.send(f"/mute {bad}")
        assert m2.last().text == "Напишите, на сколько дней, от 1 до 90, например: /mute 7d.", bad
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM mutes") == 0
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)
    seen = len(m2.inbox())
    at(clock, tz, 2026, 3, 9, 9, 0)
    await tick(c.sim)  # their reminders still come
    assert any(t.startswith("🔔") for t in texts(m2, seen))
    async with c.sim.engine.db.transaction() as tx:
        assert await reminders.muted_until(tx, 1) is None


async def test_an_owner_erased_after_years_of_silence_leaves_the_task_to_nobody_and_the_scheduler_goes_on(
        community, clock):
    """The one way a member leaves a community without /forget: the scheduler erases those silent
    for three years. Their task goes back to nobody, the ҚМҰТ is told in their own language, the
    task's reminders are not sent to anyone, and the other owner's still are."""
    c = community
    m1, m2, m3 = await planned(c)
    await make_kmut(c, m1)
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)  # plans both owners' weekly prompts
    async with c.sim.engine.db.transaction() as tx:
        owner = await tx.scalar("SELECT member_id FROM identities WHERE external_id = ?", (str(m2.id),))
        await tx.execute("UPDATE members SET last_seen_on = '2022-01-10' WHERE id = ?", (owner,))
    seen1, seen2, seen3 = len(m1.inbox()), len(m2.inbox()), len(m3.inbox())
    at(clock, tz, 2026, 3, 3, 12, 0)
    await tick(c.sim)
    assert texts(m1, seen1) == ["#2 «Write to the akimat» міндетіне енді ешкім жауапты емес: жауапты мүше кетіп қалды. "
                                "Басқа біреуді /plan owner 2 арқылы белгілеңіз."]
    async with c.sim.engine.db.transaction() as tx:
        assert (await checkins.task(tx, 1, 2)).owner_id is None
        assert await tx.scalar("SELECT COUNT(*) FROM members WHERE id = ? AND name IS NOT NULL", (owner,)) == 0
    for day in (6, 9, 16):
        at(clock, tz, 2026, 3, day, 9, 0)
        await tick(c.sim)
    assert texts(m2, seen2) == []
    assert [t[:2] for t in texts(m3, seen3) if t.startswith("🔔")] == ["🔔 ", "🔔 "]  # the 9th and the 16th
    async with c.sim.engine.db.transaction() as tx:
        after = await tx.all("SELECT key, status FROM reminders WHERE task_id = 2 AND done_at > '2026-03-03'")
    assert sorted(tuple(r) for r in after) == [("checkin:t2:2026-03-09", "skipped"),
                                               ("overdue:t2:2026-03-05", "skipped")]  # "due" went on the 2nd


async def test_the_planning_pass_goes_a_page_of_tasks_at_a_time_and_plans_every_one(community, clock, monkeypatch):
    """The scheduler plans the tasks' reminders a page per transaction (``PLAN_PAGE``): with a page
    of one task, both owners still get their prompt once, after a check-in 7 days after it, and
    the digest is planned."""
    import bot.scheduler

    monkeypatch.setattr(bot.scheduler, "PLAN_PAGE", 1)
    c = community
    m1, m2, m3 = await planned(c)
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)
    at(clock, tz, 2026, 3, 4, 12, 0)
    await check_in(m3, 1, "on_track", 30)
    seen2, seen3 = len(m2.inbox()), len(m3.inbox())
    for day in range(5, 13):
        at(clock, tz, 2026, 3, day, 9, 1)
        await tick(c.sim)
    assert [t[:2] for t in texts(m2, seen2) if t.startswith("🔔")] == ["🔔 "]  # the 9th
    assert [t[:2] for t in texts(m3, seen3) if t.startswith("🔔")] == ["🔔 "]  # the 11th: 7 days after the check-in
    async with c.sim.engine.db.transaction() as tx:
        keys = {r[0] for r in await tx.all("SELECT key FROM reminders")}
    assert {"checkin:t1:2026-03-11", "checkin:t2:2026-03-09", "checkin:t1:2026-03-18", "checkin:t2:2026-03-16",
            "digest:c1:2026-03-09"} <= keys
