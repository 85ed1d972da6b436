"""Steps 4, 5 and 7 end to end: the real bot over HTTP — a resource and an estimate in private,
the plan proposed, offered for, approved by the members in the group, and the evaluation."""

from __future__ import annotations

from bot.storage import evaluation, plan, resources
from tests.test_crash_safety import linked_village
from tests.test_e2e_step2 import data_of
from tests.test_e2e_telegram import png_size, say


async def photo_with(tg, caption_start: str):
    call = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200
                             and (c.params.get("caption") or "").startswith(caption_start), timeout=10)
    data = tg.file_bytes(call.result["photo"][-1]["file_id"])
    assert png_size(data)[0] >= 800 and len(data) < 200_000
    return call


async def test_resources_the_plan_approved_and_the_evaluation_over_http(tg, bot):
    aigerim, group, users = await linked_village(tg, bot, 3)  # members M0..M2, English
    m0, m1, m2 = users
    await say(tg, aigerim, "/choose 1", group)
    for member in users:
        await say(tg, member, "/start")

    # step 4: a resource with an empty "held by" line, and an estimate
    listing = await say(tg, m0, "/resources")
    tg.press(m0, listing, data_of(listing, "ra:")[0])
    kinds = await tg.next_message(m0.id)
    tg.press(m0, kinds, next(d for d in data_of(kinds, "rk:") if d.endswith(":premises")))
    await tg.next_message(m0.id)
    added = await say(tg, m0, "The school hall\n\nNext to the mosque")
    assert added["text"] == "Added to the resource map as #1 (Premises and land). Thank you!"
    orgs = await say(tg, m1, "/orgs")
    tg.press(m1, orgs, data_of(orgs, "oa:")[0])
    await tg.next_message(m1.id)
    await say(tg, m1, "The akimat")
    importance = await tg.next_message(m1.id, contains="important")
    tg.press(m1, importance, data_of(importance, "oi:")[2])
    closeness = await tg.next_message(m1.id, contains="close")
    assert (await tg.answer_to(tg.press(m1, closeness, data_of(closeness, "oc:")[1])))["text"] == (
        "Your estimate of #1 is saved.")
    async with bot.app.db.transaction() as tx:
        assert [(r.text, r.holder, r.place) for r in await resources.resources_of(tx, 1)] == [
            ("The school hall", "", "Next to the mosque")]
        assert [(o.importance, o.closeness, o.raters) for o in await resources.orgs_of(tx, 1)] == [(3.0, 2.0, 1)]

    # step 5: a task proposed, offered for; the plan voted on in the group
    listing = await say(tg, m2, "/plan")
    tg.press(m2, listing, data_of(listing, "ka:")[0])
    await tg.next_message(m2.id)
    added = await say(tg, m2, "Clean the culvert\n01.12 – 05.12\nTwo shovels")
    assert added["text"].startswith("Added to the plan as #1.")
    assert (await tg.answer_to(tg.press(m2, added, data_of(added, "kv:")[0])))["text"].startswith("Thank you!")
    post = await say(tg, aigerim, "/poll plan", group)
    approve, not_yet = data_of(post, "pl:")
    for member, choice in ((m0, approve), (m1, approve), (m2, not_yet)):
        answer = await tg.answer_to(tg.press(member, post, choice, chat=group))
        assert answer["text"].startswith("You approve the plan" if choice == approve else "You do not approve")
    await say(tg, aigerim, "/close plan", group)
    result = await photo_with(tg, "Мүшелер іс-әрекет жоспарын бекітті: 2 — жақтады, 1 — әзірге жоқ.")
    async with bot.app.db.transaction() as tx:
        assert [t.title for t in await plan.of_problem(tx, 1)] == ["Clean the culvert"]
    assert result.params["chat_id"] == group.id

    # step 7: the evaluation in private, its totals in the group
    invitation = await say(tg, aigerim, "/poll evaluation", group)
    link = invitation["reply_markup"]["inline_keyboard"][0][0]["url"]
    for member, goal in ((m0, "yes"), (m1, "partly")):
        question = await say(tg, member, "/start " + link.split("start=")[1])
        for prefix in (f":g:{goal}", ":r:4", ":a:1"):  # one message, edited question by question
            mark = len(tg.calls())
            await tg.answer_to(tg.press(member, question, next(d for d in data_of(question, "ev:") if d.endswith(prefix))))
            await tg.wait_for(lambda c: c.method == "editMessageText" and c.index >= mark
                              and c.params["message_id"] == question["message_id"], timeout=5)
            question = tg.message(member, question["message_id"])
        await say(tg, member, "We all came")
        final = await say(tg, member, "Start earlier")
        assert final["text"].endswith("You can change them until the evaluation closes.")
    await say(tg, aigerim, "/close evaluation", group)
    await photo_with(tg, "Біз қалаған мақсатқа жеттік пе? Иә: 1, ішінара: 1, жоқ: 0.")
    async with bot.app.db.transaction() as tx:
        assert await evaluation.summary(tx, 2) == ((1, 1, 0), (0, 0, 0, 2, 0), (2, 0), 2)
