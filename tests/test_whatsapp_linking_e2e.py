"""End to end over HTTP: a member on Telegram (the fake Bot API) who shares her own contact and
the WhatsApp account of that number (the fake Cloud API) are one member with one vote."""

from __future__ import annotations

from bot.storage import ballots
from tests.test_e2e_telegram import join, new_community, onboard as tg_onboard, say
from tests.test_whatsapp_e2e import wa_onboard

NUMBER = "77010000002"


async def test_a_vote_on_telegram_then_a_tap_on_whatsapp_after_sharing_the_contact_is_one_vote(tg, bot, wa, both):
    aigerim = tg.user(1, "Айгерим", "kk")
    await tg_onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100777, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    olga = tg.user(101, "Ольга", "en")
    await join(tg, olga, code, "English")
    olga_wa = wa.user(NUMBER, "Ольга")  # the same woman, on WhatsApp: two members so far
    await wa_onboard(wa, olga_wa, "English", first=f"/start {code}")
    await wa.next_message(olga_wa, contains="Welcome to")
    for text in ("Балалар алаңы жоқ", "Мектеп автобусы кешігеді"):
        await say(tg, aigerim, f"/propose {text}")

    post = await say(tg, aigerim, "/poll dots 1", group)  # one sticker each
    on_whatsapp = await wa.next_message(olga_wa, contains="Sticker voting")  # the group's post, one to one
    first = tg.button(post, "1 ·")["callback_data"]
    toast = await tg.answer_to(tg.press(olga, post, first, chat=group))
    assert "Sticker placed on #1" in toast["text"]

    # the contact button of the menu's "Link WhatsApp" is a request for her own contact
    tg.send(olga, "/phone")
    offer = await tg.next_message(olga.id, contains="share your phone number")
    assert offer["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    tg.share_contact(olga, "+7 701 000 00 02")
    linked = await tg.next_message(olga.id, contains="now one member")
    assert "Telegram, WhatsApp" in linked["text"]
    assert "now one member" in (await wa.next_message(olga_wa, contains="now one member")).text  # told there too

    # her WhatsApp taps the same ballot: it is her ballot, and her one sticker is placed already
    second = next(option_id for option_id, title in on_whatsapp.options if title.startswith("2 ·"))
    assert await wa.press_id(olga_wa, on_whatsapp, second) == 200
    refused = await wa.next_message(olga_wa, contains="sticker")
    assert "You have used your 1 sticker" in refused.text
    async with bot.app.db.transaction() as tx:
        member = await tx.scalar("SELECT member_id FROM identities WHERE channel = 'telegram' AND external_id = '101'")
        assert await tx.scalar("SELECT member_id FROM identities WHERE external_id = ?", (NUMBER,)) == member
        assert await tx.scalar("SELECT phone FROM members WHERE id = ?", (member,)) == "+" + NUMBER
        assert await ballots.all_stickers(tx, 1) == {member: {int(first.split(":")[2]): 1}}  # one vote in the tally
        assert (await ballots.get(tx, 1)).turnout == 1
        assert await tx.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'member.linked'") == 1
    assert not wa.refused
