"""Step 3 through the simulator: the problem tree — causes and consequences added by members,
each in its place, limited per member; merged and removed by the ҚМҰТ only; drawn for the group."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.handlers.telegram import tme
from bot.storage import tree
from tests.test_flows_step1 import TEXTS, propose_all

BOT = "qatysu_test_bot"  # the test engine's (tests/conftest.py), in Telegram's links


def data(message, prefix: str) -> list[str]:
    return [b.data for row in message.buttons for b in row if b.data and b.data.startswith(prefix)]


async def chosen(c):
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/choose 1", c.group)


async def add(person, kind: str, text: str, under: int | None = None):
    """``person`` adds a cause or consequence (``kind``) from /tree, under node #``under`` or on the problem."""
    await person.send("/tree")
    await person.press_data(next(d for d in data(person.last(), "tn:") if d.endswith(":" + kind)))
    outcome = await person.send(text)
    places = data(person.last(), "tp:")
    if places:
        outcome = await person.press_data(next(d for d in places if d.endswith(f":{under or 0}")))
    return outcome


async def nodes(c):
    async with c.sim.engine.db.transaction() as tx:
        found = await tree.of_problem(tx, 1)
    by_id = {n.id: n for n in found}
    return {n.number: (n.kind, by_id[n.parent_id].number if n.parent_id else None, n.text) for n in found}


async def make_kmut(c, person):
    async with c.sim.engine.db.transaction() as tx:
        await tx.execute("UPDATE memberships SET kmut = 1 WHERE member_id = (SELECT member_id FROM identities"
                         " WHERE external_id = ?)", (person.id,))


async def test_the_tree_waits_for_the_chosen_problem(community):
    c = community
    m1 = c.members[0]  # kk
    await m1.send("/tree")
    assert m1.last().text == "Мәселе ағашы қауымдастық мәселесін таңдағаннан кейін басталады (1-қадам)."


async def test_members_add_causes_and_consequences_each_in_its_place(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await chosen(c)
    await add(m3, "cause", "The road was never repaired after the flood")
    assert m3.last().text.startswith("Added to the tree as #1 (cause, on the problem itself).")
    await add(m3, "cause", "No money in the district budget", under=1)
    assert m3.last().text.startswith("Added to the tree as #2 (cause, under #1).")
    await add(m2, "effect", "Дети опаздывают в школу")
    await add(m2, "effect", "Скорая не может проехать", under=3)
    assert await nodes(c) == {1: ("cause", None, "The road was never repaired after the flood"),
                              2: ("cause", 1, "No money in the district budget"),
                              3: ("effect", None, "Дети опаздывают в школу"),
                              4: ("effect", 3, "Скорая не может проехать")}
    await m3.send("/tree")
    lines = m3.last().text.splitlines()
    consequences, problem, causes = (lines.index("<b>Consequences</b> (the leaves):"),
                                     next(i for i, l in enumerate(lines) if l.startswith("<b>The problem</b>")),
                                     lines.index("<b>Causes</b> (the roots):"))
    assert consequences < problem < causes  # leaves above the trunk, roots below
    assert lines[consequences + 1:consequences + 3] == ["#3 Дети опаздывают в школу", "    └ #4 Скорая не может проехать"]
    assert lines[causes + 1:causes + 3] == ["#1 The road was never repaired after the flood",
                                            "    └ #2 No money in the district budget"]
    # the same cause again is refused; a consequence may say the same words
    await add(m1, "cause", "the road was never repaired after the flood!")
    assert m1.last().text == "Бұл ағашта #1 болып тұр."


async def test_a_cause_cannot_hang_under_a_consequence_or_a_forged_place(community):
    c = community
    m3 = c.members[2]
    await chosen(c)
    await add(m3, "effect", "Children are late for school")
    await m3.send("/tree")
    await m3.press_data(next(d for d in data(m3.last(), "tn:") if d.endswith(":cause")))
    await m3.send("Nobody clears the snow")  # the first cause: no place to choose
    await m3.send("/tree")
    await m3.press_data(next(d for d in data(m3.last(), "tn:") if d.endswith(":cause")))
    await m3.send("The grader is broken")
    assert data(m3.last(), "tp:") == ["tp:1:0", "tp:1:2"]  # the problem, or cause #2 — never consequence #1
    forged = await m3.press_data("tp:1:1")
    assert forged.toast.text == "This button no longer works. Open /start for the current menu."
    await m3.press_data("tp:1:2")
    assert (await nodes(c))[3] == ("cause", 2, "The grader is broken")
    again = await m3.press_data("tp:1:2")  # the place pressed again: nothing waits for a place any more
    assert again.toast.text.startswith("This button no longer works")
    assert len(await nodes(c)) == 3


async def test_nodes_are_limited_per_member_and_the_limit_lifts(community, sim):
    c = community
    m3, m2 = c.members[2], c.members[1]
    await chosen(c)
    for i in range(10):
        await add(m3, "cause", f"Cause number {i} of many")
    await add(m3, "cause", "One cause too many")
    assert m3.last().text.startswith("You have added 10 causes and consequences in the last minutes.")
    assert len(await nodes(c)) == 10
    await add(m2, "cause", "Другой участник может добавить")
    assert len(await nodes(c)) == 11
    sim.engine.clock = lambda now=sim.engine.clock(): now + timedelta(minutes=11)
    await add(m3, "cause", "One cause too many")
    assert len(await nodes(c)) == 12


async def test_only_the_kmut_or_the_facilitator_merges_and_removes(community):
    c = community
    m1, m2, m3 = c.members
    await chosen(c)
    await add(m3, "cause", "The road was never repaired")
    await add(m3, "cause", "Nobody repaired the road", under=1)
    await add(m3, "cause", "No budget", under=2)
    await add(m3, "effect", "Children are late")
    await m3.send("/tree merge 2 1")
    assert m3.last().text == "Only the ҚМҰТ (the initiative group) or the facilitator can do that."
    await make_kmut(c, m3)
    await m3.send("/tree merge 1 2")  # #2 hangs under #1: the other way round
    assert m3.last().text == "#2 hangs under #1; merge the other way: /tree merge 2 1"
    await m3.send("/tree merge 4 1")
    assert m3.last().text == "A cause merges only with a cause, a consequence with a consequence."
    await m3.send("/tree merge 2 1")
    assert m3.last().text == "On the tree, #2 is merged into #1."
    assert await nodes(c) == {1: ("cause", None, "The road was never repaired"), 3: ("cause", 1, "No budget"),
                              4: ("effect", None, "Children are late")}
    await c.facilitator.send("/tree remove 1", c.group)
    assert await nodes(c) == {3: ("cause", None, "No budget"), 4: ("effect", None, "Children are late")}
    await m3.send("/tree remove 1")
    assert m3.last().text == "There is no #1 on the tree."
    async with c.sim.engine.db.transaction() as tx:
        actions = [r[0] for r in await tx.all("SELECT action FROM audit_log WHERE action LIKE 'tree.%' ORDER BY id")]
    assert actions == ["tree.node_added"] * 4 + ["tree.node_merged", "tree.node_removed"]


async def test_the_group_gets_the_tree_as_a_chart_with_a_caption(community):
    c = community
    await chosen(c)
    await add(c.members[2], "cause", "The road was never repaired")
    await add(c.members[2], "effect", "Children are late", None)
    await c.members[0].send("/tree", c.group)
    posted = c.sim.messages(c.group.id)[-1]
    assert posted.image is not None and posted.image.startswith(b"\x89PNG")
    assert posted.text == "Мәселе ағашы: 1 себеп, 1 салдар."
    assert tme(posted.buttons[0][0].link, BOT).endswith("start=g_1_tree")  # the tree of this group's community


async def test_each_chosen_problem_has_its_own_tree(community):
    c = community
    m3 = c.members[2]
    await chosen(c)
    await add(m3, "cause", "The road was never repaired")
    await c.facilitator.send("/choose 2", c.group)  # the community changes its mind: a tree of its own
    await m3.send("/tree")
    assert "#1 " not in m3.last().text and "Балалар алаңы жоқ" in m3.last().text
    await add(m3, "cause", "No land was set aside for it")
    await c.facilitator.send("/choose 1", c.group)  # and back: the first tree is still there
    await m3.send("/tree")
    assert "#1 The road was never repaired" in m3.last().text and "#2 " not in m3.last().text


async def test_what_the_kmut_took_off_is_not_added_again_and_its_author_is_told(community):
    c = community
    m1, m2, m3 = c.members
    await chosen(c)
    await add(m3, "cause", "Aliens stole the asphalt")
    await add(m1, "cause", "Жол бюджетке енгізілмеген")
    await add(m3, "cause", "The road is not in the budget", under=2)
    await make_kmut(c, m2)
    await m2.send("/tree remove 1")
    assert m3.last().text == "Your #1 «Aliens stole the asphalt» was taken off the problem tree by the ҚМҰТ."
    await m2.send("/tree merge 3 2")
    assert m3.last().text == "Your #3 on the problem tree was merged into #2, which says the same."
    await add(m3, "cause", "aliens stole the asphalt!")
    assert m3.last().text == "#1 said this, and the ҚМҰТ merged or removed it."
    await add(m1, "effect", "Бір\nжолға\nжазылады")  # lines become one: the outline shows a node a line
    assert (await nodes(c))[4][2] == "Бір жолға жазылады"


async def test_a_link_from_the_group_opens_that_communitys_tree_for_a_member_of_two(community):
    from tests.conftest import create_community

    c = community
    m3 = c.members[2]
    await chosen(c)
    await create_community(m3, "Second village")  # m3's active community is now their own
    await m3.send("/tree")
    assert m3.last().text.startswith("The problem tree starts once")  # the second village chose nothing
    await m3.send("/tree", c.group)
    link = tme(c.sim.messages(c.group.id)[-1].buttons[0][0].link, BOT)
    await m3.send("/start " + link.split("start=")[1])  # the group's link: Көктерек's tree
    assert "Жол жөндеу керек" in m3.last().text
    await m3.press_data(next(d for d in data(m3.last(), "tn:") if d.endswith(":cause")))
    await m3.send("Nobody repaired it")
    assert await nodes(c) == {1: ("cause", None, "Nobody repaired it")}


async def test_a_written_node_waiting_for_its_place_is_not_dropped_by_an_add_button(community):
    c = community
    m3 = c.members[2]  # en
    await chosen(c)
    await add(m3, "cause", "The road was never repaired after the flood")
    add_cause = data(m3.last(), "tn:")[0]  # under "Added to the tree as #1"
    await m3.press_data(add_cause)
    await m3.send("No money in the district budget")
    assert data(m3.last(), "tp:")  # where does it hang?
    await m3.press_data(add_cause)  # the older "add a cause" button, pressed meanwhile
    assert m3.last().text.startswith("You wrote «No money in the district budget»; it is not on the tree yet.")
    await m3.press_data(next(d for d in data(m3.last(), "tp:") if d.endswith(":1")))
    assert await nodes(c) == {1: ("cause", None, "The road was never repaired after the flood"),
                              2: ("cause", 1, "No money in the district budget")}
    await m3.press_data(add_cause)
    await m3.send("The contractor left")
    await m3.press_data(add_cause)
    await m3.press_data(data(m3.last(), "tn:")[-1])  # "Drop it and write another"
    assert m3.last().text.startswith("Write one cause of the problem")
    await m3.send("The district forgot us")
    await m3.press_data(next(d for d in data(m3.last(), "tp:") if d.endswith(":0")))
    assert [text for _, _, text in (await nodes(c)).values()] == [
        "The road was never repaired after the flood", "No money in the district budget", "The district forgot us"]
