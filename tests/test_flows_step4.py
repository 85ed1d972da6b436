"""Step 4 through the simulator: the resource map and the institutional diagram — added by
members, estimated by each of them, averaged, drawn; taken off by the ҚМҰТ only."""

from __future__ import annotations

from datetime import timedelta

from bot.storage import resources
from tests.test_flows_step3 import data, make_kmut


async def add_resource(person, kind: str, text: str):
    await person.send("/resources")
    await person.press_data(data(person.last(), "ra:")[0])
    await person.press_data(next(d for d in data(person.last(), "rk:") if d.endswith(":" + kind)))
    return await person.send(text)


async def add_org(person, name: str, importance: int, closeness: int):
    await person.send("/orgs")
    await person.press_data(data(person.last(), "oa:")[0])
    await person.send(name)
    await person.press_data(data(person.last(), "oi:")[importance - 1])
    return await person.press_data(data(person.last(), "oc:")[closeness - 1])


async def test_resources_are_mapped_by_kind_with_holder_and_place(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await add_resource(m3, "materials", "A tractor with a trailer\nSerik, the farmer\nThe farm at the end")
    assert m3.last().text == "Added to the resource map as #1 (Materials and equipment). Thank you!"
    await add_resource(m2, "people", "Электрик")  # holder and place unknown
    await m3.send("/resources")
    text = m3.last().text
    assert "#1 A tractor with a trailer — Serik, the farmer · The farm at the end" in text
    assert "#2 Электрик" in text and text.count("— none yet —") == 3  # money, premises, organisations
    await m1.send("/resources", c.group)
    posted = c.sim.messages(c.group.id)[-1]
    assert posted.image.startswith(b"\x89PNG")
    assert posted.text == ("Ресурстар картасы: 2 ресурс. Әзірге жоқ: Қаржы, Үй-жай мен жер, Ұйымдар.")


async def test_each_member_estimates_an_organisation_and_the_diagram_draws_the_means(community):
    c = community
    m1, m2, m3 = c.members
    outcome = await add_org(m3, "The akimat", importance=3, closeness=1)
    assert outcome.toast.text == "Your estimate of #1 is saved."
    await m1.send("/orgs")
    await m1.press_data(data(m1.last(), "or:")[0])  # "Estimate #1 The akimat"
    await m1.press_data(data(m1.last(), "oi:")[1])  # importance 2
    await m1.press_data(data(m1.last(), "oc:")[2])  # closeness 3
    await m3.press_data("oc:1:1:3:1")  # m3 changes their mind: importance 3, closeness 1 → unchanged
    await m3.press_data("oc:1:1:2:2")  # importance 2, closeness 2
    async with c.sim.engine.db.transaction() as tx:
        [org] = await resources.orgs_of(tx, 1)
    assert (org.importance, org.closeness, org.raters) == (2.0, 2.5, 2)
    await m3.send("/orgs")
    assert ("#1 The akimat — importance 2.0, closeness 2.5 (estimates: 2) · your estimate: importance 2, closeness 2"
            in m3.last().text)
    await m2.send("/orgs")
    await m2.press_data(data(m2.last(), "oa:")[0])
    await m2.send("the AKIMAT!")
    assert m2.last().text == "Это уже есть в диаграмме как #1."
    await m1.send("/orgs", c.group)
    posted = c.sim.messages(c.group.id)[-1]
    assert posted.image.startswith(b"\x89PNG")
    assert posted.text == ("Институционалдық диаграмма (бағаланған ұйымдар: 1): қауымдастыққа ең жақыны — The akimat, "
                           "ең маңыздысы — The akimat.")


async def test_forged_estimates_are_refused(community):
    c = community
    m3 = c.members[2]
    await add_org(m3, "The school", 2, 2)
    for payload in ("oc:1:1:4:2", "oc:1:1:2:0", "oc:1:9:2:2", "oi:1:1:x", "oc:1:1:2"):
        outcome = await m3.press_data(payload)
        assert outcome.toast.text in ("This button no longer works. Open /start for the current menu.",
                                      "That organisation is no longer on the diagram."), payload
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT importance || '/' || closeness FROM org_ratings") == "2/2"


async def test_additions_are_limited_per_member(community, sim):
    c = community
    m3, m2 = c.members[2], c.members[1]
    for i in range(6):
        await add_resource(m3, "money", f"A grant number {i}")
    for i in range(4):
        await add_org(m3, f"Organisation {i}", 2, 2)
    await add_resource(m3, "money", "One grant too many")
    assert m3.last().text.startswith("You have added 10 resources and organisations in the last minutes.")
    await add_resource(m2, "money", "Грант района")
    sim.engine.clock = lambda now=sim.engine.clock(): now + timedelta(minutes=11)
    await add_resource(m3, "money", "One grant too many")
    async with c.sim.engine.db.transaction() as tx:
        assert len(await resources.resources_of(tx, 1)) == 8


async def test_only_the_kmut_or_the_facilitator_takes_entries_off(community):
    c = community
    m1, m2, m3 = c.members
    await add_resource(m3, "money", "A grant")
    await add_org(m3, "The akimat", 3, 3)
    await m3.send("/resources remove 1")
    assert m3.last().text == "Only the ҚМҰТ (the initiative group) or the facilitator can do that."
    await make_kmut(c, m3)
    await m3.send("/resources remove 1")
    assert m3.last().text == "#1 is off the resource map."
    await c.facilitator.send("/orgs remove 1", c.group)
    await m3.send("/orgs remove 1")
    assert m3.last().text == "There is no #1 on the list."
    async with c.sim.engine.db.transaction() as tx:
        assert await resources.resources_of(tx, 1) == [] and await resources.orgs_of(tx, 1) == []


async def test_a_resource_with_a_place_but_no_holder(community):
    c = community
    m3 = c.members[2]
    await add_resource(m3, "premises", "The school hall\n\nNext to the mosque")
    async with c.sim.engine.db.transaction() as tx:
        [found] = await resources.resources_of(tx, 1)
    assert (found.text, found.holder, found.place) == ("The school hall", "", "Next to the mosque")


async def test_a_member_changes_an_estimate_already_given(community):
    c = community
    m3 = c.members[2]
    await add_org(m3, "The akimat", importance=3, closeness=1)
    await add_org(m3, "The school", importance=2, closeness=2)
    await m3.send("/orgs")
    assert not data(m3.last(), "or:")  # both estimated: nothing left to estimate for the first time
    await m3.press_data(data(m3.last(), "oe:")[0])
    assert m3.last().text == "Which estimate do you change?"
    assert [b.text for row in m3.last().buttons for b in row] == ["Change #1 The akimat", "Change #2 The school"]
    await m3.press_data(data(m3.last(), "or:")[1])
    assert "Your estimate now: importance 2, closeness 2." in m3.last().text
    await m3.press_data(data(m3.last(), "oi:")[0])  # importance 1
    saved = await m3.press_data(data(m3.last(), "oc:")[2])  # closeness 3
    assert saved.toast.text == "Your estimate of #2 is saved."
    async with c.sim.engine.db.transaction() as tx:
        assert await resources.ratings_of(tx, 1, 4) == {1: (3, 1), 2: (1, 3)}


async def test_change_my_estimates_is_offered_only_after_an_estimate(community):
    c = community
    m1, m3 = c.members[0], c.members[2]
    await add_org(m3, "The akimat", importance=3, closeness=1)
    await m1.send("/orgs")
    assert not data(m1.last(), "oe:") and data(m1.last(), "or:")
    refused = await m1.press_data("oe:1")
    assert refused.toast.text == "Сіз әлі ешбір ұйымды бағалаған жоқсыз."
