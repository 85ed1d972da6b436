"""Step 2 end to end: the real bot over HTTP, several people nominating, a nominee's accept
pressed twenty times at once, the election voted in the group, its chart, and the confirmation."""

from __future__ import annotations

import asyncio

from bot.storage import ballots, nominations
from tests.test_crash_safety import linked_village
from tests.test_e2e_telegram import png_size, say


def data_of(message, prefix: str) -> list[str]:
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
            if b.get("callback_data", "").startswith(prefix)]


async def test_nominate_accept_twenty_times_at_once_elect_and_confirm(tg, bot):
    bot.app.engine.double_tap = 1.0  # as in production: a double tap within a second is one press
    aigerim, group, users = await linked_village(tg, bot, 4)  # members M0..M3, English
    m0, m1, m2, m3 = users
    for member in users:  # each opens the private chat with the bot (else Telegram refuses to write first)
        await say(tg, member, "/start")

    # M0 nominates M1 by name; M1 gets the question in private
    await say(tg, m0, "/nominate")
    categories = await say(tg, m0, "M1")  # one member matches: the categories at once
    tg.press(m0, categories, next(d for d in data_of(categories, "nc:") if d.endswith(":media")))
    assert "I asked them to accept" in (await tg.next_message(m0.id))["text"]
    ask = await tg.next_message(m1.id)
    assert "M0 nominated you to the ҚМҰТ" in ask["text"] and "Media" in ask["text"]

    # the accept pressed twenty times at once: one acceptance, one notice to M0, every press answered
    accept = data_of(ask, "na:")[0]
    presses = [tg.press(m1, ask, accept) for _ in range(20)]
    answers = await asyncio.gather(*(tg.answer_to(p) for p in presses))
    assert len(answers) == 20
    assert sum((a.get("text") or "").startswith("Thank you! You are a candidate") for a in answers) == 1
    notice = await tg.next_message(m0.id)
    assert notice["text"] == "M1 accepted your nomination to the ҚМҰТ."
    await asyncio.sleep(0.3)
    assert [m["text"] for m in tg.messages(m0.id)].count(notice["text"]) == 1
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'nomination.accepted'") == 1

    # M2 and M3 stand themselves; M2 is asked to take part from the group: a link to the private chat
    link = await say(tg, m2, "/nominate", group)
    assert link["reply_markup"]["inline_keyboard"][0][0]["url"].endswith("start=g_1_nominate")
    for member, category in ((m2, "activist"), (m3, "activist")):
        prompt = await say(tg, member, "/nominate")
        tg.press(member, prompt, data_of(prompt, "nm:")[0])  # "Myself"
        chosen = await tg.next_message(member.id)
        tg.press(member, chosen, next(d for d in data_of(chosen, "nc:") if d.endswith(":" + category)))
        assert "You are a candidate" in (await tg.next_message(member.id))["text"]

    # the election in the group: 2 seats; M2 has the most votes, M1 holds the media seat
    post = await say(tg, aigerim, "/poll election 2", group)
    assert "ҚМҰТ сайлауы" in post["text"]
    by_name = {b["text"].split(" ·")[0]: b["callback_data"] for row in post["reply_markup"]["inline_keyboard"]
               for b in row}
    assert set(by_name) == {"M1", "M2", "M3"}
    for voter, names in ((m0, ["M2", "M3"]), (m1, ["M2", "M3"]), (m2, ["M2"]), (m3, ["M3", "M2"])):
        for name in names:
            answer = await tg.answer_to(tg.press(voter, post, by_name[name], chat=group))
            assert answer["text"].startswith(f"You approved {name}."), answer
    refused = await tg.answer_to(tg.press(m0, post, by_name["M1"], chat=group))
    assert refused["text"].startswith("You have approved 2 candidates, as many as there are seats.")
    edit = await tg.wait_for(lambda c: c.method == "editMessageText" and "M2" in c.params["text"]
                             and "— 4" in c.params["text"], timeout=5)
    assert edit.params["message_id"] == post["message_id"]

    await say(tg, aigerim, "/close", group)
    photo = await tg.wait_for(lambda call: call.method == "sendPhoto" and call.status == 200, timeout=10)
    data = tg.file_bytes(photo.result["photo"][-1]["file_id"])
    assert png_size(data)[0] >= 800 and len(data) < 200_000
    caption = photo.params["caption"].splitlines()
    # M2 (4) seated for activists, M1 (0) for media: a category with a candidate always has a seat;
    # M3 (3 votes) has none — two seats only
    assert caption[0] == "ҚМҰТ сайлауы: 2 мүше сайланды: M2, M1."
    assert caption[1] == "Үміткері жоқ санаттар: Осал топтар, Жергілікті билік, Бизнес, ҮЕҰ."
    assert caption[-1].startswith("Тексеру коды: ")
    result = photo.result
    confirm = data_of(result, "kc:")[0]
    warned = await tg.answer_to(tg.press(aigerim, result, confirm, chat=group))
    assert warned["text"] == "Бір санат жетіспейді"
    warning = await tg.next_message(group.id, contains="Әдістеме бойынша")
    anyway = data_of(warning, "kc:")[0]
    done = await tg.answer_to(tg.press(aigerim, warning, anyway, chat=group))
    assert done["text"] == "Бекітілді"
    confirmed = await tg.next_message(group.id, contains="бекітілді")
    assert "M2, M1" in confirmed["text"]
    assert "You were elected to the ҚМҰТ" in (await tg.next_message(m1.id))["text"]
    async with bot.app.db.transaction() as tx:
        assert sorted(name for _, name in await nominations.group(tx, 1)) == ["M1", "M2"]
        assert sorted(n for _, n in await ballots.candidates(tx, 1)) == [0, 3, 4]

    # a member cannot confirm, and a second confirmation (past the double-tap second) changes nothing
    bot.app.engine.double_tap = 0.0
    refused = await tg.answer_to(tg.press(m3, warning, anyway, chat=group))
    assert refused["text"] == "Only the community's facilitator can do that."
    again = await tg.answer_to(tg.press(aigerim, warning, anyway, chat=group))
    assert again["text"] == "Бұл ҚМҰТ бекітіліп қойған."


async def test_a_name_with_markup_characters_reads_plainly_in_a_toast(tg, bot):
    """Messages are HTML, so names are escaped there; a toast is plain text and must not show
    the escapes (``&amp;``)."""
    aigerim, group, users = await linked_village(tg, bot, 2)
    async with bot.app.db.transaction() as tx:
        await tx.execute("UPDATE members SET name = 'Ана & <Бала>' WHERE name = 'M1'")
    m0 = users[0]
    await say(tg, m0, "/nominate")
    await say(tg, users[1], "/start")
    prompt = await say(tg, users[1], "/nominate")
    tg.press(users[1], prompt, data_of(prompt, "nm:")[0])  # M1 stands themselves
    chosen = await tg.next_message(users[1].id)
    tg.press(users[1], chosen, data_of(chosen, "nc:")[0])
    await tg.next_message(users[1].id)
    await say(tg, m0, "/nominate")
    found = await say(tg, m0, "Бала")  # one match, already a candidate: said in a message (HTML, escaped)
    assert found["text"] == "Ана & <Бала> is already a candidate (Activists and leaders)."  # as the client shows it
    mine = await say(tg, m0, "/nominate")
    toast = await tg.answer_to(tg.press(m0, mine, "nm:1:3", strict=False))  # pressed: said in a toast (plain)
    assert toast["text"] == "Ана & <Бала> is already a candidate (Activists and leaders)."
