"""Step 5 through the simulator: the action plan — tasks proposed with dates and needs, offers
to do them, the ҚМҰТ's edits, the members' approval by ballot (the plan frozen meanwhile)."""

from __future__ import annotations

from datetime import date

from bot.storage import plan
from tests.test_flows_step3 import chosen, data, make_kmut


async def propose(person, text: str):
    await person.send("/plan")
    await person.press_data(data(person.last(), "ka:")[0])
    return await person.send(text)


async def tasks(c):
    async with c.sim.engine.db.transaction() as tx:
        return {t.number: (t.title, t.start, t.due, t.resources, t.owner, t.volunteers)
                for t in await plan.of_problem(tx, 1)}


async def test_members_propose_tasks_with_dates_and_needs_and_offer_to_do_them(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await chosen(c)
    await propose(m3, "Clean the culvert under the road\n01.12 – 05.12\nTwo shovels, a truck for an hour")
    assert m3.last().text.startswith("Added to the plan as #1.")
    await propose(m2, "Написать письмо в акимат")
    await propose(m1, "Грейдер сұрау\n20.12 – 15.01")  # across the new year
    assert await tasks(c) == {
        1: ("Clean the culvert under the road", date(2026, 12, 1), date(2026, 12, 5), "Two shovels, a truck for an hour",
            "", 0),
        2: ("Написать письмо в акимат", None, None, "", "", 0),
        3: ("Грейдер сұрау", date(2026, 12, 20), date(2027, 1, 15), "", "", 0)}
    await propose(m3, "Fix the bridge\nsoon")
    assert m3.last().text == ("I could not read the dates «soon». Write them like 01.12 – 20.12, or leave the "
                              "second line out.")
    await propose(m3, "clean the culvert under the road!")
    assert m3.last().text == "This task is in the plan already as #1."
    offered = await m1.press_data("kv:1:1")
    assert offered.toast.text == "Рақмет! ҚМҰТ сіздің #1 міндетті атқара алатыныңызды көреді."
    await m2.press_data("kv:1:1")
    await m3.send("/plan")
    assert "#1 <b>Clean the culvert under the road</b> — no one responsible yet — 01.12–05.12 — needs: Two shovels, " \
           "a truck for an hour — 2 offer to do it" in m3.last().text


async def test_the_kmut_names_who_is_responsible_sets_dates_and_takes_tasks_off(community):
    c = community
    m1, m2, m3 = c.members
    await chosen(c)
    await propose(m3, "Clean the culvert")
    await propose(m3, "Buy sand")
    await m2.press_data("kv:1:1")
    await m3.send("/plan owner 1")
    assert m3.last().text == "Only the ҚМҰТ (the initiative group) or the facilitator can do that."
    await make_kmut(c, m3)
    await m3.send("/plan owner 2")
    assert m3.last().text == "Nobody has offered to do #2 yet; members offer under /plan."
    await m3.send("/plan owner 1")
    assert [b.text for row in m3.last().buttons for b in row] == ["Мүше 2"]
    await m3.press_data(data(m3.last(), "ko:")[0])
    assert m2.last().text == "Вы отвечаете за задачу #1 «Clean the culvert» плана действий. Спасибо!"
    forged = await m3.press_data("ko:1:1:2")  # someone who did not offer
    assert forged.toast.text.startswith("This button no longer works")
    await m3.send("/plan dates 2 10.12 01.12")
    assert m3.last().text == "Write /plan owner 3, /plan dates 3 01.12 20.12 or /plan remove 3."
    await m3.send("/plan dates 2 01.12 10.12")
    assert m3.last().text == "Task #2: from 01.12.2026 to 10.12.2026."
    await m3.send("/plan remove 2")
    assert await tasks(c) == {1: ("Clean the culvert", None, None, "", "Мүше 2", 1)}


async def test_the_members_approve_the_plan_which_stays_as_voted_meanwhile(community):
    c = community
    m1, m2, m3 = c.members
    f = c.facilitator
    await chosen(c)
    await f.send("/poll plan", c.group)
    assert c.sim.messages(c.group.id)[-1].text == "Жоспарда әзірге міндет жоқ. Мүшелер оларды /plan арқылы ұсынады."
    await propose(m3, "Clean the culvert")
    await f.send("/poll plan", c.group)
    post = c.sim.messages(c.group.id)[-1]
    assert post.text.startswith("🗳 <b>Іс-әрекет жоспарын бекітесіз бе?</b>")
    approve, not_yet = data(post, "pl:")
    for member in (m1, m2):
        await member.press_data(approve, c.group)
    await m3.press_data(not_yet, c.group)
    await m3.press_data(approve, c.group)  # changed their mind: one vote each
    await m1.press_data(not_yet, c.group)
    await propose(m2, "A task during the vote")
    assert m2.last().text == "Сейчас участники голосуют за план; он изменится только после закрытия голосования."
    async with c.sim.engine.db.transaction() as tx:
        assert await plan.tally(tx, 1) == (2, 1)
    await f.send("/close plan", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    assert result.text.splitlines()[0] == "Мүшелер іс-әрекет жоспарын бекітті: 2 — жақтады, 1 — әзірге жоқ."
    closed = await m1.press_data(approve, c.group)
    assert closed.toast.text == "Бұл дауыс беру жабылды. Нәтижесін /results арқылы көріңіз."
    await propose(m2, "A task after the vote")
    assert len(await tasks(c)) == 2


async def test_the_plan_vote_fits_one_message_and_the_problem_stays_while_it_is_open(community, sim):
    from datetime import timedelta

    c = community
    m1, m2, m3 = c.members
    await chosen(c)
    long_title = "Ауыл ішіндегі жолдың су басатын тұсындағы құбырды тазалап, жиегін бетонмен бекіту керек"[:150]
    for i in range(30):
        sim.engine.clock = lambda now=sim.engine.clock(): now + timedelta(minutes=11)  # past the rate limit
        await propose(m1 if i % 2 else m3, f"{long_title} {i}")
    await c.facilitator.send("/poll plan", c.group)
    post = c.sim.messages(c.group.id)[-1]
    assert post.text.startswith("🗳 <b>Іс-әрекет жоспарын бекітесіз бе?</b>") and len(post.text) < 4096
    await c.facilitator.send("/choose 2", c.group)
    assert c.sim.messages(c.group.id)[-1].text == ("Мүшелер таңдалған мәселе бойынша жоспарға дауыс беріп жатыр; "
                                                   "алдымен сол дауыс беруді жабыңыз.")


async def test_an_optional_line_can_be_left_empty(community):
    c = community
    m3 = c.members[2]
    await chosen(c)
    await propose(m3, "Buy cement\n\n10 bags of cement")  # needs, no dates
    assert await tasks(c) == {1: ("Buy cement", None, None, "10 bags of cement", "", 0)}


async def test_naming_the_responsible_member_twice_tells_them_once_and_a_replaced_one_is_told(community):
    c = community
    m1, m2, m3 = c.members
    await chosen(c)
    await propose(m3, "Clean the culvert")
    await m1.press_data("kv:1:1")
    await m2.press_data("kv:1:1")
    await make_kmut(c, m3)
    await m3.send("/plan owner 1")
    choices = data(m3.last(), "ko:")
    await m3.press_data(choices[0])
    await m3.press_data(choices[0])
    assert [m.text for m in m1.inbox()].count("Сіз іс-әрекет жоспарының #1 «Clean the culvert» міндетіне жауаптысыз. "
                                              "Рақмет!") == 1
    await m3.press_data(choices[1])  # m2 instead
    assert m1.last().text == "«Clean the culvert» #1 міндетінің енді басқа жауаптысы бар. Үлесіңізге рақмет!"


async def test_tasks_are_limited_per_member_and_the_limit_lifts(community, sim):
    from datetime import timedelta

    c = community
    m3, m2 = c.members[2], c.members[1]
    await chosen(c)
    for i in range(5):
        await propose(m3, f"Task number {i}")
    await propose(m3, "One task too many")
    assert m3.last().text == "You have proposed 5 tasks in the last minutes. Please wait a little before the next one."
    await propose(m2, "Задача другого участника")
    assert len(await tasks(c)) == 6
    sim.engine.clock = lambda now=sim.engine.clock(): now + timedelta(minutes=11)
    await propose(m3, "One task too many")
    assert len(await tasks(c)) == 7


async def test_the_plan_result_ends_with_the_audit_head(community):
    from bot.storage import audit

    c = community
    await chosen(c)
    await propose(c.members[2], "Clean the culvert")
    await c.facilitator.send("/poll plan", c.group)
    await c.facilitator.send("/close plan", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    async with c.sim.engine.db.transaction() as tx:
        head = await audit.head(tx)
    assert result.text.splitlines()[-1].startswith(f"Тексеру коды: {head[:8]}. ")


async def test_the_author_of_a_task_taken_off_is_told(community):
    c = community
    m1, m2, m3 = c.members
    await chosen(c)
    await propose(m1, "Бетон сатып алу")
    await make_kmut(c, m3)
    await m3.send("/plan remove 1")
    assert m1.last().text == "Сіздің #1 «Бетон сатып алу» міндетіңізді ҚМҰТ іс-әрекет жоспарынан алып тастады."


async def test_before_a_problem_is_chosen_the_plan_refusals_name_the_action_plan(community):
    c = community
    m3 = c.members[2]
    await make_kmut(c, m3)
    for command in ("/plan", "/plan owner 1"):
        await m3.send(command)
        assert m3.last().text == "The action plan starts once the community has chosen its problem (step 1).", command
    await c.facilitator.send("/poll plan", c.group)
    assert c.sim.messages(c.group.id)[-1].text == ("Іс-әрекет жоспары қауымдастық мәселесін таңдағаннан кейін "
                                                   "басталады (1-қадам).")


async def test_i_can_do_pressed_again_keeps_the_offer_and_only_the_marked_button_takes_it_back(community):
    c = community
    m3 = c.members[2]
    await chosen(c)
    await propose(m3, "Clean the culvert")
    offer = data(m3.last(), "kv:")[0]  # under "Added to the plan as #1"
    await m3.press_data(offer)
    again = await m3.press_data(offer)  # the same button, a while later
    assert again.toast.text == ("You have offered to do #1 already. To take it back, tap «✅ I can do #1» under "
                                "/plan.")
    assert (await tasks(c))[1][5] == 1
    await m3.send("/plan")
    [(label, withdraw)] = [(b.text, b.data) for row in m3.last().buttons for b in row if b.data.startswith("kv:")]
    assert (label, withdraw) == ("✅ I can do #1 — tap to take it back", "kv:1:1:0")
    assert (await m3.press_data(withdraw)).toast.text == "Your offer for #1 is taken back."
    assert (await tasks(c))[1][5] == 0
    assert (await m3.press_data(withdraw)).toast.text == "You have not offered to do #1."
    await m3.send("/plan")
    assert data(m3.last(), "kv:") == ["kv:1:1"]
