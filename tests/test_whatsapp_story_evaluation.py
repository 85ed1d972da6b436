"""Step 7, one story on two channels: the evaluation answered on WhatsApp (through the link the
group's invitation carries, made a wa.me link) and on Telegram; one summary, its chart on WhatsApp."""

from __future__ import annotations

from bot.storage import evaluation
from tests.test_e2e_step2 import data_of
from tests.test_e2e_telegram import say
from tests.wa_village import choose, village, wa_say, within_limits


async def test_the_evaluation_answered_on_whatsapp_and_telegram_has_one_summary(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma, m0 = v.alma, v.m0
    await choose(v)
    invitation = await say(tg, v.facilitator, "/poll evaluation", v.group)
    announced = await wa.next_message(alma, contains="Evaluation")
    within_limits(announced)
    assert "wa.me" not in announced.text  # she is in the chat already: a tap, not a link that types a command
    await wa.press(alma, announced, "Open the ballot")
    question = await wa.next_message(alma)
    for ending in (":g:yes", ":r:4", ":a:1"):
        within_limits(question)
        await wa.press(alma, question, next(t for i, t in question.options if i.endswith(ending)))
        question = await wa.next_message(alma)
    within_limits(question)
    within_limits(await wa_say(wa, alma, "We all came"))
    final = await wa_say(wa, alma, "Start earlier")
    within_limits(final)
    assert final.text.endswith("You can change them until the evaluation closes.")

    question = await say(tg, m0, "/start " + invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1])
    for ending in (":g:partly", ":r:2", ":a:0"):
        mark = len(tg.calls())
        await tg.answer_to(tg.press(m0, question, next(d for d in data_of(question, "ev:") if d.endswith(ending))))
        await tg.wait_for(lambda c: c.method == "editMessageText" and c.index >= mark, timeout=5)
        question = tg.message(m0, question["message_id"])
    await say(tg, m0, "-")
    await say(tg, m0, "-")

    await say(tg, v.facilitator, "/close evaluation", v.group)
    photo = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200, timeout=10)
    assert photo.params["caption"].startswith("Біз қалаған мақсатқа жеттік пе? Иә: 1, ішінара: 1, жоқ: 0.")
    result = await wa.next_message(alma, contains="Yes: 1, partly: 1, no: 0")
    assert result.kind == "image" and result.media == tg.file_bytes(photo.result["photo"][-1]["file_id"])
    within_limits(result)
    async with v.db.transaction() as tx:
        assert await evaluation.summary(tx, 1) == ((1, 1, 0), (0, 1, 0, 1, 0), (1, 1), 2)
    assert not wa.refused
