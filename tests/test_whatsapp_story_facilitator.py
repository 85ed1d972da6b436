"""A facilitator on WhatsApp: creates the community, opens a ballot and closes it in the private
chat; a Telegram member and a WhatsApp member vote; one tally, each result said once, and the
prompt to confirm a problem reaches the facilitator, not the members."""

from __future__ import annotations

import re
from urllib.parse import unquote

from bot.storage import ballots
from tests.test_e2e_telegram import join, say
from tests.wa_village import wa_say, within_limits
from tests.test_whatsapp_e2e import wa_onboard


async def test_a_facilitator_on_whatsapp_opens_and_closes_a_ballot_in_private(tg, bot, wa, both):
    bek = wa.user("77010000009", "Бек")
    await wa_onboard(wa, bek, "English")
    within_limits(await wa_say(wa, bek, "/new"))
    within_limits(await wa_say(wa, bek, "Көктерек ауылы"))
    created = await wa_say(wa, bek, "Талғар ауданы", contains="wa.me")
    within_limits(created)
    link = re.search(r"https://wa\.me/77001234567\?text=(\S+)", created.text).group(1)
    code = unquote(link).split()[1]

    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English", first=unquote(link))
    await wa.next_message(alma, contains="Welcome to")
    olga = tg.user(101, "Ольга", "ru")
    await join(tg, olga, code, "русский")
    for text in ("Жол жөндеу керек", "Балалар алаңы жоқ"):
        within_limits(await wa_say(wa, bek, f"/propose {text}", contains="#"))

    opened = await wa_say(wa, bek, "/poll dots 1", contains="The vote is open")
    within_limits(opened)
    assert "members find it under /vote" in opened.text
    for user in (alma, bek):
        within_limits(await wa.next_message(user, contains="Sticker voting"))  # the members' copy
    listing = await wa_say(wa, alma, "/vote", contains="waiting for you")
    await wa.press(alma, listing, "🗳 Sticker voting")
    ballot = await wa.next_message(alma, contains="You have 1 sticker left.")
    await wa.press(alma, ballot, next(t for _, t in ballot.options if t.startswith("2 ·")))
    await wa.next_message(alma, contains="You have 0 stickers left.")
    listing = await say(tg, olga, "/vote")
    tg.press_button(olga, listing, listing["reply_markup"]["inline_keyboard"][0][0]["text"])
    ballot = await tg.next_message(olga.id)
    button = next(b for row in ballot["reply_markup"]["inline_keyboard"] for b in row if b["text"].startswith("2 ·"))
    assert (await tg.answer_to(tg.press(olga, ballot, button["callback_data"])))["text"].startswith("Стикер")

    result = await wa_say(wa, bek, "/close", contains="2 members voted")
    assert result.kind == "image"
    within_limits(result)
    confirm = await wa.next_message(bek, contains="Facilitator: confirm the problem")
    assert confirm.options and all(i.startswith("ch:") for i, _ in confirm.options), confirm.options
    within_limits(confirm)
    within_limits(await wa.next_message(alma, contains="2 members voted"))
    # the prompt is the facilitator's: a member reading the community's posts one to one is not
    # sent it (before, each got it too, without its buttons: a second send, outside the 24 h a paid one)
    await wa.assert_silent(alma, 0.5)
    await wa.assert_silent(bek, 0.5)  # the facilitator's result once, not once as the closer and once as a member
    await wa.send_text(bek, "2")  # typed: the option showing #2 (the second option confirms #1)
    within_limits(await wa.next_message(alma, contains="will work on #2"))
    async with both.db.transaction() as tx:
        tally = await ballots.all_stickers(tx, 1)
    assert sorted(sum(s.values()) for s in tally.values()) == [1, 1]
    assert not wa.refused
