"""Step 3, one story on two channels: the WhatsApp member adds a cause to the problem tree, the
Telegram member a consequence; one tree, drawn for WhatsApp as an image with its caption."""

from __future__ import annotations

from bot.storage import tree
from tests.test_e2e_telegram import say
from tests.wa_village import choose, village, wa_say, within_limits


async def test_a_cause_added_on_whatsapp_and_a_consequence_on_telegram_grow_one_tree(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma, m0 = v.alma, v.m0
    await choose(v)
    outline = await wa_say(wa, alma, "/tree", contains="Problem tree")
    within_limits(outline)
    await wa.press(alma, outline, next(t for i, t in outline.options if i.endswith(":cause")))
    ask = await wa.next_message(alma, contains="Write one cause of the problem")
    within_limits(ask)
    added = await wa_say(wa, alma, "The culvert under the road is blocked", contains="Added to the tree as #1")
    within_limits(added)

    await say(tg, m0, "/start")
    tg.press(m0, await say(tg, m0, "/tree"), "tn:1:effect")
    await tg.next_message(m0.id)
    assert (await say(tg, m0, "Children miss school in spring"))["text"].startswith("Added to the tree as #2")

    outline = await wa_say(wa, alma, "/tree", contains="Children miss school")
    assert "The culvert under the road is blocked" in outline.text
    await wa.press(alma, outline, next(t for i, t in outline.options if i.startswith("tc:")))
    chart = await wa.next_message(alma, contains="1 cause, 1 consequence")
    assert chart.kind == "image" and chart.media[:8] == b"\x89PNG\r\n\x1a\n"
    within_limits(chart)
    async with v.db.transaction() as tx:
        assert [(n.number, n.kind, n.text) for n in await tree.of_problem(tx, 1)] == [
            (1, "cause", "The culvert under the road is blocked"), (2, "effect", "Children miss school in spring")]
    assert not wa.refused
