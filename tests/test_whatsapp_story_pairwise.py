"""Step 1's pairwise ranking, one story on two channels: the WhatsApp member compares the pairs
under /vote (typing the number a problem shows), the Telegram member through the group's link;
one ranking, its chart on WhatsApp."""

from __future__ import annotations

import re

from bot.storage import ballots
from tests.test_e2e_telegram import say
from tests.wa_village import member_id, village, wa_say, within_limits


async def test_pairs_compared_on_whatsapp_and_telegram_make_one_ranking(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma, m0 = v.alma, v.m0
    invitation = await say(tg, v.facilitator, "/poll pairwise 1 2 3", v.group)
    within_limits(await wa.next_message(alma, contains="Pairwise ranking"))
    listing = await wa_say(wa, alma, "/vote", contains="waiting for you")
    await wa.press(alma, listing, "🗳 Pairwise ranking")
    pair = await wa.next_message(alma, contains="pair 1 of 3")
    for position in (2, 3, None):
        within_limits(pair)
        shown = sorted(int(n) for n in re.findall(r"[🅰🅱] \*#(\d+)\*", pair.text))
        await wa.send_text(alma, str(shown[0]))  # always the lower number: #1 over all, #2 over #3
        pair = await wa.next_message(alma, contains=f"pair {position} of 3" if position else "compared all")
    within_limits(pair)

    question = await say(tg, m0, "/start " + invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1])
    for _ in range(3):
        low = min(re.findall(r"#(\d+)", b["text"])[0] for row in question["reply_markup"]["inline_keyboard"]
                  for b in row)
        tg.press_button(m0, question, next(b["text"] for row in question["reply_markup"]["inline_keyboard"]
                                           for b in row if f"#{low} " in b["text"]))
        question = await tg.next_edit(question)

    await say(tg, v.facilitator, "/close", v.group)
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200, timeout=10)
    assert "2 мүше дауыс берді." in photo.params["caption"].splitlines()
    result = await wa.next_message(alma, contains="2 members voted")
    assert result.kind == "image" and result.media == tg.file_bytes(photo.result["photo"][-1]["file_id"])
    within_limits(result)
    assert "#1" in result.text.splitlines()[0]  # both put #1 first
    async with v.db.transaction() as tx:
        answers = await ballots.all_answers(tx, 1)
    for voter in (await member_id(v, "whatsapp", alma.wa_id), await member_id(v, "telegram", str(m0.id))):
        assert len(answers[voter]) == 3 and all(winner == low for (low, _), winner in answers[voter].items())
    assert not wa.refused
