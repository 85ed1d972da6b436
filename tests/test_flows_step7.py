"""Step 7 through the simulator: the evaluation — three questions and two optional texts in
private, changeable until it closes; the group gets the totals, the facilitator the texts unsigned."""

from __future__ import annotations

from bot.storage import evaluation
from tests.test_flows_step3 import data


async def answer(person, goal: int, rating: int, again: int, worked: str | None = None, change: str | None = None):
    """Answer the open evaluation (ballot 1) by the buttons' positions; texts are written or skipped."""
    await person.send("/start b_1")
    await person.press_data(data(person.last(), "ev:")[goal])
    await person.press_data(data(person.last(), "ev:")[rating - 1])
    await person.press_data(data(person.last(), "ev:")[again])
    if worked:
        await person.send(worked)
    else:
        await person.press_data(data(person.last(), "ev:")[0])  # skip
    if change:
        await person.send(change)
    else:
        await person.press_data(data(person.last(), "ev:")[0])


async def test_members_evaluate_and_the_group_gets_the_totals(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await c.facilitator.send("/poll evaluation", c.group)
    invitation = c.sim.messages(c.group.id)[-1]
    assert invitation.text.startswith("📝 <b>Бағалау</b>: «Біз қалаған мақсатқа жеттік пе?»")
    await m3.send("/start b_1")
    assert m3.last().text == "📝 <b>Evaluation</b>\nDid we reach the goal we wanted?"
    await answer(m3, 0, 5, 0, "Everyone came to clean the culvert", "Start earlier in spring")
    assert m3.last().text.endswith("You can change them until the evaluation closes.")
    await answer(m2, 1, 3, 1)  # partly, 3, will not take part again; no texts
    await answer(m1, 0, 4, 0, "Бәрі бірге жұмыс істедік <жақсы>")
    async with c.sim.engine.db.transaction() as tx:
        assert await evaluation.summary(tx, 1) == ((2, 1, 0), (0, 0, 1, 1, 1), (2, 1), 3)
    await m2.send("/start b_1")  # m2 answers again: yes this time
    await m2.press_data(data(m2.last(), "ev:")[-1])  # "Answer again"
    await m2.press_data(data(m2.last(), "ev:")[0])
    async with c.sim.engine.db.transaction() as tx:
        assert (await evaluation.summary(tx, 1))[0] == (3, 0, 0)
    await c.facilitator.send("/close evaluation", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    # m2 started again and changed only the first answer: their rating and "again" stay
    assert result.text.splitlines()[:4] == ["Біз қалаған мақсатқа жеттік пе? Иә: 3, ішінара: 0, жоқ: 0.",
                                            "Орташа баға: 5-тен 4,0.", "Тағы қатысатындар: 2 / 3.",
                                            "3 мүше жауап берді."]
    texts = c.facilitator.last().text
    assert texts.startswith("📝 Мүшелер бағалауда не жазды (аты-жөнсіз):")
    assert "• Everyone came to clean the culvert" in texts and "• Бәрі бірге жұмыс істедік &lt;жақсы&gt;" in texts
    assert not any(f"Мүше {i}" in texts for i in (1, 2, 3))  # unsigned
    closed = await m1.press_data("ev:1:r:5")
    assert closed.toast.text == "Бұл дауыс беру жабылды. Нәтижесін /results арқылы көріңіз."


async def test_forged_answers_are_refused(community):
    c = community
    m3 = c.members[2]
    await c.facilitator.send("/poll evaluation", c.group)
    for payload in ("ev:1:g:maybe", "ev:1:r:6", "ev:1:r:0", "ev:1:a:2", "ev:1:q:1", "ev:1:s:other"):
        outcome = await m3.press_data(payload)
        assert outcome.toast.text.startswith("This button no longer works"), payload
    async with c.sim.engine.db.transaction() as tx:
        assert (await evaluation.summary(tx, 1))[3] == 0


async def test_many_long_answers_all_reach_the_facilitator(sim):
    from tests.conftest import build_community

    c = await build_community(sim, 9)  # 9 texts of 500 characters: more than one message holds
    await c.facilitator.send("/poll evaluation", c.group)
    long_texts = {m.name: f"{m.name}: " + "Жұмыс жақсы ұйымдастырылды, бәрі уақытында келді. " * 9 for m in c.members}
    for member in c.members:
        await answer(member, 0, 5, 0, long_texts[member.name][:500], "Келесі жолы ертерек бастау керек " + member.name)
    before = len(c.facilitator.inbox())
    await c.facilitator.send("/close evaluation", c.group)
    received = [m.text for m in c.facilitator.inbox()[before:]]
    assert len(received) >= 2 and all(len(text) < 4096 for text in received)
    for member in c.members:
        assert long_texts[member.name][:40] in "\n".join(received)
        assert f"ертерек бастау керек {member.name}" in "\n".join(received)


async def test_a_stale_skip_or_answer_again_before_any_answer_saves_nothing(community):
    c = community
    m3 = c.members[2]
    await c.facilitator.send("/poll evaluation", c.group)
    for payload in ("ev:1:x:0", "ev:1:s:change", "ev:1:s:worked"):
        await m3.press_data(payload)
        assert m3.last().text == "📝 <b>Evaluation</b>\nDid we reach the goal we wanted?"
    async with c.sim.engine.db.transaction() as tx:
        assert (await evaluation.summary(tx, 1))[3] == 0


async def test_a_message_long_after_the_question_is_not_taken_as_the_answer(community, sim):
    from datetime import timedelta

    c = community
    m3 = c.members[2]
    await c.facilitator.send("/poll evaluation", c.group)
    await m3.send("/start b_1")
    for step in (0, 4, 0):  # yes, rating 5, will take part again
        await m3.press_data(data(m3.last(), "ev:")[step])
    assert m3.last().text.endswith("What worked well? Write a few words, or skip.")
    sim.engine.clock = lambda now=sim.engine.clock(): now + timedelta(hours=2)
    await m3.send("Hello, when is the next meeting?")
    async with c.sim.engine.db.transaction() as tx:
        assert (await evaluation.of_member(tx, 1, 4)).worked == ""
    assert "Hello" not in "\n".join(m.text for m in c.facilitator.inbox())


async def test_the_evaluation_result_ends_with_the_audit_head(community):
    from bot.storage import audit

    c = community
    await c.facilitator.send("/poll evaluation", c.group)
    await answer(c.members[2], 0, 5, 0)
    await c.facilitator.send("/close evaluation", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    async with c.sim.engine.db.transaction() as tx:
        head = await audit.head(tx)
    assert result.text.splitlines()[-1].startswith(f"Тексеру коды: {head[:8]}. ")


async def test_a_stale_skip_never_erases_what_the_member_wrote(community):
    c = community
    m3 = c.members[2]
    await c.facilitator.send("/poll evaluation", c.group)
    await m3.send("/start b_1")
    for step in (0, 4, 0):
        await m3.press_data(data(m3.last(), "ev:")[step])
    skip_worked = data(m3.last(), "ev:")[0]
    await m3.send("The whole street came")
    skip_change = data(m3.last(), "ev:")[0]
    stale = await m3.press_data(skip_worked)  # the first question's Skip, on the message above
    assert stale.toast.text == "That question is behind you; what you wrote is kept."
    await m3.send("Start earlier")
    await m3.press_data(skip_worked)
    await m3.press_data(skip_change)  # the last question's Skip, after it was answered in words
    async with c.sim.engine.db.transaction() as tx:
        mine = await evaluation.of_member(tx, 1, 4)
    assert (mine.worked, mine.change) == ("The whole street came", "Start earlier")


async def test_answering_again_shows_the_text_and_keeps_it_unless_removed(community):
    c = community
    m3 = c.members[2]
    await c.facilitator.send("/poll evaluation", c.group)
    await answer(m3, 0, 5, 0, "The whole street came", "Start earlier")
    await m3.send("/start b_1")
    await m3.press_data(data(m3.last(), "ev:")[-1])  # "Answer again"
    for step in (1, 3, 0):  # partly, 4, again
        await m3.press_data(data(m3.last(), "ev:")[step])
    assert "You wrote: «The whole street came»" in m3.last().text
    assert [b.text for row in m3.last().buttons for b in row] == ["Keep what I wrote", "Remove what I wrote"]
    await m3.press_data(data(m3.last(), "ev:")[0])  # keep
    assert "You wrote: «Start earlier»" in m3.last().text
    await m3.press_data(data(m3.last(), "ev:")[1])  # remove
    async with c.sim.engine.db.transaction() as tx:
        mine = await evaluation.of_member(tx, 1, 4)
    assert (mine.goal, mine.rating, mine.worked, mine.change) == ("partly", 4, "The whole street came", "")


async def test_an_answer_to_the_first_question_only_counts_as_partial(community):
    c = community
    m1, m2, m3 = c.members
    await c.facilitator.send("/poll evaluation", c.group)
    await answer(m3, 0, 5, 0)
    await m2.send("/start b_1")
    await m2.press_data(data(m2.last(), "ev:")[1])  # "partly", then nothing more
    await c.facilitator.send("/close evaluation", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    lines = result.text.splitlines()
    assert lines[0] == "Біз қалаған мақсатқа жеттік пе? Иә: 1, ішінара: 1, жоқ: 0."
    assert lines[3:5] == ["2 мүше жауап берді.", "Барлық сұраққа жауап бергендер: 1 / 2."]


async def test_remove_under_an_old_question_removes_nothing_but_skip_there_goes_on(community):
    c = community
    m3 = c.members[2]
    await c.facilitator.send("/poll evaluation", c.group)
    await answer(m3, 0, 5, 0, "The whole street came", "Start earlier")
    await m3.send("/start b_1")
    await m3.press_data(data(m3.last(), "ev:")[-1])  # "Answer again"
    for step in (0, 4, 0):
        await m3.press_data(data(m3.last(), "ev:")[step])
    keep_worked, remove_worked = data(m3.last(), "ev:")
    await m3.send("/new")  # the member goes elsewhere
    stale = await m3.press_data(remove_worked)
    assert stale.toast.text == "That question is behind you; what you wrote is kept."
    await m3.press_data(keep_worked)  # keeping goes on to the next question, in the same message
    assert "You wrote: «Start earlier»" in [m for m in m3.inbox() if "Evaluation" in m.text][-1].text
    async with c.sim.engine.db.transaction() as tx:
        mine = await evaluation.of_member(tx, 1, 4)
    assert (mine.worked, mine.change) == ("The whole street came", "Start earlier")
