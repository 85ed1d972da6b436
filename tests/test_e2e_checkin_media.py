"""Step 6's rules at the channels' edges, over HTTP: a photo over 20 MB or a file instead of a
photo at a check-in is refused politely on Telegram; a WhatsApp owner attaches a photo (or is
refused a file) the same way; WhatsApp members get the weekly digest in private."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.flows.reminders import plan_task_reminders
from bot.storage import checkins
from tests.daytime import quiet_hours_elsewhere
from tests.test_crash_safety import linked_village
from tests.test_e2e_telegram import new_community, onboard as tg_onboard, say
from tests.test_whatsapp_e2e import wa_onboard, wa_say

REFUSED = "Please send the picture as a photo (not as a file), up to 20 MB, or write a note."


async def add_task(db, owner_id: int) -> None:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    async with db.transaction() as tx:  # a task of the plan (proposing and approving it is step 5's)
        await tx.execute("INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                         " VALUES (1, 1, 1, 'Clean the culvert', 'clean the culvert', ?, ?)", (owner_id, now))


async def history(db) -> list[tuple]:
    async with db.transaction() as tx:
        task = await checkins.task(tx, 1, 1)
        return [(h.status, h.percent, h.note, h.photo) for h in await checkins.history(tx, task.id)]


async def test_a_photo_over_20_mb_or_a_file_at_a_check_in_is_refused_politely_on_telegram(tg, bot):
    aigerim, group, users = await linked_village(tg, bot, 1)
    owner = users[0]
    await add_task(bot.app.db, 2)
    tasks = await say(tg, owner, "/checkin")
    tg.press(owner, tasks, "ci:1:1")
    statuses = await tg.next_message(owner.id, contains="how is it going")
    tg.press(owner, statuses, "cs:1:1:late")
    percents = await tg.next_message(owner.id, contains="#1")
    tg.press(owner, percents, "cp:1:1:late:50")
    await tg.next_message(owner.id, contains="photo")  # now a note or a photo is asked for
    tg.send_photo_from_user(owner, caption="The pipe", file_size=21 * 1024 * 1024)
    assert (await tg.next_message(owner.id))["text"] == REFUSED
    tg.send_document_from_user(owner, "receipt.pdf", b"%PDF-1.4 receipt")
    assert (await tg.next_message(owner.id))["text"] == REFUSED
    assert await history(bot.app.db) == []  # nothing stored for either
    tg.send_photo_from_user(owner, caption="The pipe is broken")  # a photo as a photo: kept as evidence
    thanks = await tg.next_message(owner.id)
    assert thanks["text"].startswith("Thank you! #1: late, 50%.")
    ((status, percent, note, photo),) = await history(bot.app.db)
    assert (status, percent, note) == ("late", 50, "The pipe is broken") and photo.startswith("telegram:AgAC")


async def whatsapp_owner(tg, bot, wa, group_id: int = -100777):
    """A Telegram facilitator's community with a linked group and a WhatsApp member, who owns task #1."""
    aigerim = tg.user(1, "Айгерим", "kk")
    await tg_onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(group_id, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    await say(tg, aigerim, "/propose Ауыз су жиі өшіп қалады")
    await say(tg, aigerim, "/choose 1", group)  # the problem the plan is for
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English", first=f"/start {code}")
    await wa.next_message(alma, contains="Welcome to")
    member = await bot.app.db.scalar("SELECT member_id FROM identities WHERE channel = 'whatsapp'")
    await add_task(bot.app.db, member)
    return aigerim, group, alma


async def test_a_whatsapp_owner_attaches_a_photo_to_a_check_in_and_a_file_is_refused(tg, bot, wa, both):
    _, _, alma = await whatsapp_owner(tg, bot, wa)
    tasks = await wa_say(wa, alma, "/checkin", contains="Which task")
    assert await wa.press_id(alma, tasks, "ci:1:1") == 200
    statuses = await wa.next_message(alma, contains="how is it going")
    assert await wa.press_id(alma, statuses, "cs:1:1:on_track") == 200
    percents = await wa.next_message(alma, contains="#1")
    assert await wa.press_id(alma, percents, "cp:1:1:on_track:75") == 200
    await wa.next_message(alma, contains="photo")
    assert await wa.send(alma, "document", {"id": "doc-1", "mime_type": "application/pdf",
                                            "filename": "receipt.pdf"}) == 200
    assert (await wa.next_message(alma)).text == REFUSED
    assert await history(bot.app.db) == []
    assert await wa.send(alma, "image", {"id": "media-77", "mime_type": "image/jpeg", "sha256": "x",
                                         "caption": "Culvert cleaned"}) == 200
    thanks = await wa.next_message(alma)
    assert thanks.text.startswith("Thank you! #1: on track, 75%.")
    assert await history(bot.app.db) == [("on_track", 75, "Culvert cleaned", "whatsapp:media-77")]


async def test_whatsapp_members_get_the_weekly_digest_in_private_and_the_group_gets_it_once(tg, bot, wa, both):
    aigerim, group, alma = await whatsapp_owner(tg, bot, wa)
    app = bot.app
    await quiet_hours_elsewhere(app.db)
    await app.delivery.deliver_outcome(await app.engine.run_system(plan_task_reminders))  # as each minute
    async with app.db.transaction() as tx:  # the digest's hour has come (Monday 10:00 by default)
        await tx.execute("UPDATE reminders SET due_at = ? WHERE kind = 'digest'",
                         (datetime.now(timezone.utc).isoformat(timespec="seconds"),))
    await app.scheduler.sweep()
    digest = await wa.next_message(alma, contains="📊", timeout=10)  # in the member's private chat
    assert "The week in the action plan" in digest.text and "<b>" not in digest.text
    assert digest.kind == "image" and digest.media  # with the progress chart, as the group gets it
    posted = await tg.wait_for(lambda call: call.method == "sendPhoto" and call.params.get("chat_id") == group.id)
    assert posted.params["caption"].startswith("📊")
    await app.scheduler.sweep()
    await wa.assert_silent(alma, within=1.0)  # once
    assert sum(m.kind == "image" and "📊" in m.text for m in wa.messages(alma)) == 1
    assert not any("📊" in (m["caption"] or m["text"] or "") for m in tg.messages(aigerim))  # in the group, not twice
