"""Step 5, one story on two channels: the WhatsApp member proposes a task and offers to do it, the
Telegram member offers too; the plan is approved in one ballot — on WhatsApp under /vote, on
Telegram in the group — and its result reaches WhatsApp as an image with its caption."""

from __future__ import annotations

from bot.storage import plan
from tests.test_e2e_step2 import data_of
from tests.test_e2e_telegram import say
from tests.wa_village import choose, village, wa_say, within_limits


async def test_a_task_proposed_on_whatsapp_offered_for_on_both_and_the_plan_approved(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma, m0 = v.alma, v.m0
    await choose(v)

    listing = await wa_say(wa, alma, "/plan", contains="plan")
    within_limits(listing)
    await wa.press(alma, listing, next(t for i, t in listing.options if i.startswith("ka:")))
    within_limits(await wa.next_message(alma))
    added = await wa_say(wa, alma, "Clean the culvert\n01.12 – 05.12\nTwo shovels", contains="Added to the plan")
    assert added.text.startswith("Added to the plan as #1.")
    within_limits(added)
    await wa.press(alma, added, next(t for i, t in added.options if i.startswith("kv:")))  # "I can do #1"
    thanks = await wa.next_message(alma, contains="you can do")
    within_limits(thanks)
    assert "Thank you! The ҚМҰТ sees that you can do #1." in thanks.text

    await say(tg, m0, "/start")
    offers = await say(tg, m0, "/plan")
    assert (await tg.answer_to(tg.press(m0, offers, data_of(offers, "kv:")[0])))["text"].startswith("Thank you!")

    post = await say(tg, v.facilitator, "/poll plan", v.group)
    announced = await wa.next_message(alma, contains="Clean the culvert")
    within_limits(announced)
    vote = await wa_say(wa, alma, "/vote", contains="waiting for you")
    await wa.press(alma, vote, next(t for i, t in vote.options if i.startswith("open:")))
    ballot = await wa.next_message(alma, contains="Clean the culvert")
    within_limits(ballot)
    await wa.press(alma, ballot, next(t for i, t in ballot.options if i.startswith("pl:") and i.endswith(":1")))
    approved = await wa.next_message(alma, contains="approve")
    within_limits(approved)
    approve, not_yet = data_of(post, "pl:")
    assert (await tg.answer_to(tg.press(m0, post, approve, chat=v.group)))["text"].startswith("You approve")

    await say(tg, v.facilitator, "/close plan", v.group)
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200, timeout=10)
    assert photo.params["caption"].startswith("Мүшелер іс-әрекет жоспарын бекітті: 2 — жақтады, 0 — әзірге жоқ.")
    result = await wa.next_message(alma, contains="2 for, 0 not yet")
    assert result.kind == "image" and result.media == tg.file_bytes(photo.result["photo"][-1]["file_id"])
    within_limits(result)
    async with v.db.transaction() as tx:
        tasks = await plan.of_problem(tx, 1)
        assert [t.title for t in tasks] == ["Clean the culvert"]
        assert await plan.tally(tx, 1) == (2, 0)
    assert not wa.refused
