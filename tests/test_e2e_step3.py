"""Step 3 end to end: the real bot over HTTP — members grow the problem tree in private, the
ҚМҰТ curates it, the group gets the chart."""

from __future__ import annotations

from bot.storage import tree
from tests.test_crash_safety import linked_village
from tests.test_e2e_step2 import data_of
from tests.test_e2e_telegram import png_size, say


async def test_the_tree_grows_in_private_is_curated_by_the_kmut_and_drawn_for_the_group(tg, bot):
    aigerim, group, users = await linked_village(tg, bot, 3)  # members M0..M2, English
    m0, m1, m2 = users
    await say(tg, aigerim, "/choose 1", group)
    async with bot.app.db.transaction() as tx:  # M2 was elected to the ҚМҰТ in step 2
        await tx.execute("UPDATE memberships SET kmut = 1 WHERE member_id = (SELECT member_id FROM identities"
                         " WHERE external_id = ?)", (str(m2.id),))

    # from the group, a link to the private chat; there M0 adds a cause, then a cause of that cause
    empty = await say(tg, m0, "/tree", group)
    assert empty["caption"] == "Problem tree: 0 causes, 0 consequences."  # in the asker's language
    assert empty["reply_markup"]["inline_keyboard"][0][0]["url"].endswith("start=g_1_tree")
    outline = await say(tg, m0, "/start g_1_tree")
    for text, place in (("The culvert under the road is blocked", None), ("Nobody is paid to clean it", "1")):
        tg.press(m0, outline, next(d for d in data_of(outline, "tn:") if d.endswith(":cause")))
        assert "Write one cause of the problem" in (await tg.next_message(m0.id))["text"]
        reply = await say(tg, m0, text)
        if place:
            tg.press(m0, reply, next(d for d in data_of(reply, "tp:") if d.endswith(":" + place)))
            reply = await tg.next_message(m0.id)
        assert reply["text"].startswith("Added to the tree as #"), reply["text"]
        outline = reply
    tg.press(m1, await say(tg, m1, "/tree"), "tn:1:effect")
    await tg.next_message(m1.id)
    assert (await say(tg, m1, "Children miss school in spring"))["text"].startswith("Added to the tree as #3")

    # a member cannot curate; the ҚМҰТ member can
    assert (await say(tg, m1, "/tree remove 3", group))["text"] == (
        "Only the ҚМҰТ (the initiative group) or the facilitator can do that.")
    assert (await say(tg, m2, "/tree merge 2 1"))["text"] == "On the tree, #2 is merged into #1."
    async with bot.app.db.transaction() as tx:
        assert [(n.number, n.kind) for n in await tree.of_problem(tx, 1)] == [(1, "cause"), (3, "effect")]

    # the group's chart
    await say(tg, m1, "/tree", group)
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200
                              and c.params.get("caption") == "Problem tree: 1 cause, 1 consequence.", timeout=10)
    data = tg.file_bytes(photo.result["photo"][-1]["file_id"])
    assert png_size(data)[0] >= 800 and len(data) < 200_000
