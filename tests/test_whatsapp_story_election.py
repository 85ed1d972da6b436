"""Step 2, one story on two channels: a Telegram member nominates the WhatsApp member, who accepts
on WhatsApp; the election is voted on both channels, one tally; the result and the confirmation
reach WhatsApp."""

from __future__ import annotations

from bot.storage import ballots, nominations
from tests.test_e2e_step2 import data_of
from tests.test_e2e_telegram import say
from tests.wa_village import village, wa_say, within_limits


async def test_nominated_on_telegram_accepted_on_whatsapp_elected_by_both(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma, m0 = v.alma, v.m0
    await say(tg, m0, "/start")
    await say(tg, m0, "/nominate")
    categories = await say(tg, m0, "Алма")  # one member matches: the categories at once
    tg.press(m0, categories, next(d for d in data_of(categories, "nc:") if d.endswith(":media")))
    assert "I asked them to accept" in (await tg.next_message(m0.id))["text"]
    ask = await wa.next_message(alma, contains="nominated you")
    within_limits(ask)
    assert "M0 nominated you to the ҚМҰТ" in ask.text and "Media" in ask.text
    await wa.press(alma, ask, ask.options[0][1])  # accept
    thanks = await wa.next_message(alma, contains="You are a candidate")
    within_limits(thanks)
    assert (await tg.next_message(m0.id))["text"] == "Алма accepted your nomination to the ҚМҰТ."

    prompt = await say(tg, m0, "/nominate")  # M0 stands himself
    tg.press(m0, prompt, data_of(prompt, "nm:")[0])
    chosen = await tg.next_message(m0.id)
    tg.press(m0, chosen, next(d for d in data_of(chosen, "nc:") if d.endswith(":activist")))
    assert "You are a candidate" in (await tg.next_message(m0.id))["text"]

    post = await say(tg, v.facilitator, "/poll election 2", v.group)
    within_limits(await wa.next_message(alma, contains="ҚМҰТ"))
    listing = await wa_say(wa, alma, "/vote", contains="waiting for you")
    await wa.press(alma, listing, "🗳 ҚМҰТ election")
    ballot = await wa.next_message(alma, contains="ҚМҰТ")
    within_limits(ballot)
    assert sorted(t.split(" ·")[0] for _, t in ballot.options) == ["M0", "Алма"]
    await wa.press(alma, ballot, next(t for _, t in ballot.options if t.startswith("Алма")))
    ballot = await wa.next_message(alma, contains="ҚМҰТ")
    within_limits(ballot)
    assert any(t.startswith("✅") for _, t in ballot.options)
    by_name = {b["text"].split(" ·")[0]: b["callback_data"] for row in post["reply_markup"]["inline_keyboard"]
               for b in row}
    for name in ("Алма", "M0"):
        assert (await tg.answer_to(tg.press(m0, post, by_name[name], chat=v.group)))["text"].startswith(
            f"You approved {name}.")

    await say(tg, v.facilitator, "/close", v.group)
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200, timeout=10)
    assert photo.params["caption"].splitlines()[0] == "ҚМҰТ сайлауы: 2 мүше сайланды: Алма, M0."
    result = await wa.next_message(alma, contains="ҚМҰТ election")
    # a member's copy: the chart with its caption, without the facilitator's "Confirm" button
    assert result.kind == "image" and "2 members voted." in result.text and result.media == tg.file_bytes(photo.result["photo"][-1]["file_id"])
    within_limits(result)
    confirm = data_of(photo.result, "kc:")[0]
    await tg.answer_to(tg.press(v.facilitator, photo.result, confirm, chat=v.group))
    warning = await tg.next_message(v.group.id, contains="Әдістеме бойынша")
    await tg.answer_to(tg.press(v.facilitator, warning, data_of(warning, "kc:")[0], chat=v.group))
    within_limits(await wa.next_message(alma, contains="You were elected to the ҚМҰТ"))
    async with v.db.transaction() as tx:
        assert sorted(name for _, name in await nominations.group(tx, 1)) == ["M0", "Алма"]
        assert sorted(n for _, n in await ballots.candidates(tx, 1)) == [1, 2]  # Алма: hers and M0's; M0: his own
    assert not wa.refused
