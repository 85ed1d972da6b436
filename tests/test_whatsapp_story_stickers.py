"""Step 1's sticker voting, one story on two channels: the facilitator opens it in the Telegram
group, a Telegram member places stickers there, a WhatsApp member in private under /vote; one
tally, and the result reaches WhatsApp as an image with its caption."""

from __future__ import annotations

from bot.storage import ballots
from tests.test_e2e_telegram import say
from tests.wa_village import member_id, village, wa_say, within_limits


async def test_stickers_on_telegram_and_whatsapp_make_one_tally(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma = v.alma
    idle = await wa_say(wa, alma, "/vote", contains="No vote is open")
    assert idle.text == "No vote is open right now. I will write to you when one starts."  # not "tell the group"
    post = await say(tg, v.facilitator, "/poll dots 3", v.group)
    announced = await wa.next_message(alma, contains="Sticker voting")  # the group's post, one to one
    within_limits(announced)

    # Алма votes in private, under /vote
    listing = await wa_say(wa, alma, "/vote", contains="waiting for you")
    within_limits(listing)
    await wa.press(alma, listing, "🗳 Sticker voting")
    ballot = await wa.next_message(alma, contains="stickers left")
    within_limits(ballot)
    assert "You have 3 stickers left." in ballot.text and len(ballot.options) == 4
    assert ballot.text.count("Мектеп автобусы кешігеді") == 1  # each problem's full text once
    # a typed "3" is problem #3, as the list above the options numbers it — not the third option
    assert await wa.send_text(alma, "3") == 200
    ballot = await wa.next_message(alma, contains="You have 2 stickers left.")
    assert [t for _, t in ballot.options if t.startswith("✅")] == ["✅ 3 · Мектеп автобусы…"]
    assert await wa.send_text(alma, "9") == 200
    assert "Type one of the numbers 1, 2, 3, 4" in (await wa.next_message(alma)).text
    for left in ("1 sticker", "0 stickers"):
        unmarked = next(title for _, title in ballot.options if not title.startswith("✅"))
        assert await wa.press(alma, ballot, unmarked) == 200
        ballot = await wa.next_message(alma, contains=f"You have {left} left.")
        within_limits(ballot)
    marked = [title for _, title in ballot.options if title.startswith("✅")]
    assert len(marked) == 3

    # М0 votes in the group, with the group message's buttons
    for number in ("1 ·", "2 ·"):
        button = next(b for row in post["reply_markup"]["inline_keyboard"] for b in row
                      if b["text"].startswith(number))
        answer = await tg.answer_to(tg.press(v.m0, post, button["callback_data"], chat=v.group))
        assert answer["text"].startswith("Sticker placed")

    await say(tg, v.facilitator, "/close", v.group)
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200, timeout=10)
    assert "2 мүше дауыс берді." in photo.params["caption"].splitlines()
    result = await wa.next_message(alma, contains="2 members voted")
    assert result.kind == "image" and result.media == tg.file_bytes(photo.result["photo"][-1]["file_id"])
    within_limits(result)
    async with v.db.transaction() as tx:
        tally = await ballots.all_stickers(tx, 1)
    assert sum(tally[await member_id(v, "whatsapp", alma.wa_id)].values()) == 3
    assert sum(tally[await member_id(v, "telegram", str(v.m0.id))].values()) == 2
    assert not wa.refused
