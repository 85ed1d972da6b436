"""Step 2 through the simulator: nominations, the nominee's answer, the election, the result
with its categories and ties, and the facilitator's confirmation of the ҚМҰТ."""

from __future__ import annotations

import pytest

from bot.storage import ballots, nominations


async def nominate(by, name_part: str, category_label: str):
    """``by`` nominates the member whose name contains ``name_part`` (themselves: "Myself")."""
    await by.send("/nominate")
    if name_part == "Myself":
        await by.press_data(next(b.data for row in by.last().buttons for b in row if b.data.startswith("nm:")))
    else:
        await by.send(name_part)  # one member matches: straight to the category; several: pick the first
        assert by.last().buttons, by.last().text
        if by.last().buttons[0][0].data.startswith("nm:"):
            await by.press_data(by.last().buttons[0][0].data)
    await by.press_data(next(b.data for row in by.last().buttons for b in row if b.data.endswith(":" + category_label)))


def buttons_of(message, prefix: str) -> list[str]:
    return [b.data for row in message.buttons for b in row if b.data and b.data.startswith(prefix)]


async def audit_actions(c, action: str) -> int:
    async with c.sim.engine.db.transaction() as tx:
        return await tx.scalar("SELECT COUNT(*) FROM audit_log WHERE action = ?", (action,))


async def candidates(c) -> dict[str, str]:
    async with c.sim.engine.db.transaction() as tx:
        return {n.name: n.status for n in await nominations.of_community(tx, 1)}


async def test_a_nominee_accepts_once_and_the_nominator_hears_it(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await nominate(m3, "ше 1", "activist")
    assert "asked them to accept" in m3.last().text
    ask = m1.last()
    assert buttons_of(ask, "na:") and "Мүше 3" in ask.text
    accept = buttons_of(ask, "na:")[0]
    first = await m1.press_data(accept)
    again = await m1.press_data(accept)  # a double tap: one effect
    assert await candidates(c) == {"Мүше 1": "accepted"}
    assert await audit_actions(c, "nomination.accepted") == 1
    assert first.toast.text == "Рақмет! Сіз ҚМҰТ-қа үміткерсіз (Белсенділер мен көшбасшылар)."
    assert again.toast.text == "Сіз бұл ұсынысқа келісіп қойғансыз."
    assert m3.last().text == "Мүше 1 accepted your nomination to the ҚМҰТ."
    refused = await m2.press_data(accept)  # not theirs to answer
    assert refused.toast.text == "Ответить может только выдвинутый человек."
    assert await audit_actions(c, "nomination.accepted") == 1


async def test_self_nomination_counts_as_accepted_and_nobody_is_nominated_twice(community):
    c = community
    m1, m2, m3 = c.members
    await nominate(m3, "Myself", "media")
    assert await candidates(c) == {"Мүше 3": "accepted"}
    await m1.send("/nominate")
    await m1.send("ше 3")
    assert m1.last().text == "Мүше 3 — үміткер (БАҚ)."  # the one match: said at once
    await m2.send("/nominate")
    await m2.send("zz")  # a name nobody has
    assert m2.last().text.startswith("Нет участника, в имени которого есть «zz»")
    await m2.send("мҮшЕ")  # any case: everyone matches
    assert [b.text for row in m2.last().buttons for b in row] == ["Мүше 1", "Мүше 2", "Мүше 3"]
    assert await candidates(c) == {"Мүше 3": "accepted"}


async def test_the_election_seats_every_category_then_by_votes_and_is_confirmed(community):
    c = community
    m1, m2, m3 = c.members
    f = c.facilitator
    await nominate(m1, "Myself", "activist")
    await nominate(m2, "Myself", "business")
    await nominate(m3, "Myself", "activist")
    await f.send("/poll election 2", c.group)
    post = c.sim.messages(c.group.id)[-1]
    taps = buttons_of(post, "el:")
    assert len(taps) == 3
    by_name = {b.text.split(" ·")[0]: b.data for row in post.buttons for b in row}
    # Мүше 3 gets the most votes, but Мүше 2 is the only business candidate: both are seated
    for voter in (m1, m2, m3, f):
        await voter.press_data(by_name["Мүше 3"], c.group)
    await m3.press_data(by_name["Мүше 1"], c.group)
    await m1.press_data(by_name["Мүше 2"], c.group)
    refused = await m1.press_data(by_name["Мүше 1"], c.group)  # a third approval on 2 seats
    assert refused.toast.text.startswith("Сіз 2 үміткерге дауыс бердіңіз — орын санындай.")
    async with c.sim.engine.db.transaction() as tx:
        assert sum(n for _, n in await ballots.candidates(tx, 1)) == 6
    await f.send("/close", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    lines = result.text.splitlines()
    assert lines[0] == "ҚМҰТ сайлауы: 2 мүше сайланды: Мүше 3, Мүше 2."  # Мүше 1 ties Мүше 2, but activists have Мүше 3
    assert lines[1] == "Үміткері жоқ санаттар: Осал топтар, Жергілікті билік, ҮЕҰ, БАҚ."
    assert lines[-2] == "Фасилитатор: ҚМҰТ құрамын бекітіңіз." and lines[-1].startswith("Тексеру коды: ")
    confirm = buttons_of(result, "kc:")
    assert confirm
    warned = await f.press_data(confirm[0], c.group)
    assert warned.toast.text == "Бір санат жетіспейді"
    assert await audit_actions(c, "kmut.confirmed") == 0  # a category is missing: named first
    anyway = buttons_of(c.sim.messages(c.group.id)[-1], "kc:")
    assert anyway and anyway[0].endswith(":1")
    await f.press_data(anyway[0], c.group)
    await f.press_data(anyway[0], c.group)
    assert await audit_actions(c, "kmut.confirmed") == 1
    async with c.sim.engine.db.transaction() as tx:
        assert sorted(name for _, name in await nominations.group(tx, 1)) == ["Мүше 2", "Мүше 3"]
    assert m3.last().text == "You were elected to the ҚМҰТ of «Көктерек». Thank you for taking part!"
    assert "Мүше 1" not in m1.last().text


async def elect(c, seats: int = 2, votes: tuple = ()):
    """Open an election in the group, let ``votes`` ((voter, candidate names), ...) be cast, close it;
    return the result message posted to the group."""
    await c.facilitator.send(f"/poll election {seats}", c.group)
    post = c.sim.messages(c.group.id)[-1]
    by_name = {b.text.split(" ·")[0]: b.data for row in post.buttons for b in row}
    for voter, names in votes:
        for name in names:
            await voter.press_data(by_name[name], c.group)
    await c.facilitator.send("/close election", c.group)
    return next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)


async def test_nobody_voted_is_said_once_and_cannot_be_confirmed(community):
    c = community
    m1, m2, m3 = c.members
    for member, category in ((m1, "activist"), (m2, "activist"), (m3, "activist")):
        await nominate(member, "Myself", category)
    result = await elect(c, seats=1)
    assert result.text.splitlines()[:2] == ["ҚМҰТ сайлауы: ешкім дауыс бермеді.",
                                            "Үміткері жоқ санаттар: Осал топтар, Жергілікті билік, Бизнес, ҮЕҰ, БАҚ."]
    assert "тең дауыс" not in result.text and not buttons_of(result, "kc:")


async def test_ties_are_named_with_the_seats_they_are_for(community):
    c = community
    m1, m2, m3 = c.members
    async with c.sim.engine.db.transaction() as tx:  # the group speaks English, to read the plurals
        await tx.execute("UPDATE communities SET locale = 'en'")
    for member in (m1, m2, m3):
        await nominate(member, "Myself", "activist")
    result = await elect(c, seats=2, votes=((m1, ["Мүше 1"]), (m2, ["Мүше 2"]), (m3, ["Мүше 3"])))
    lines = result.text.splitlines()
    assert lines[0] == "ҚМҰТ election: 3 members elected: Мүше 1, Мүше 2, Мүше 3."
    assert lines[1] == ("A tie for 1 seat between Мүше 1, Мүше 2, Мүше 3 (1 vote each) (the seat of Activists and "
                        "leaders). All of them are seated unless the facilitator runs the election again.")
    assert "2 seats; the ties seat 1 more." in lines


async def test_a_long_result_stays_within_one_message(community):
    from bot.domain.election import election_result
    from bot.flows import election
    from bot.i18n import translator
    from bot.storage.ballots import Ballot
    from bot.storage.nominations import Nomination

    name = "Әбдіқадыров Нұрсұлтан Жанұзақұлы-Қайырбеков"
    by_id = {i: Nomination(i, 1, i, "activist", None, "accepted", f"{name} {i}") for i in range(1, 41)}
    result = election_result({1: [1]}, {i: "activist" for i in by_id}, 7)  # 39 tie at 0 for 6 seats
    ballot = Ballot(1, 1, "election", "closed", 7, 1, "live", None, 0, 1, "x", "x")
    text = election.caption(translator("kk"), ballot, result, by_id, "abcdef12", "Фасилитатор: ҚМҰТ құрамын бекітіңіз.")
    assert len(text) < 4096 and "және тағы" in text


async def test_results_offer_the_confirmation_the_closing_post_may_have_lost(community):
    c = community
    m1, m2, m3 = c.members
    for member, category in ((m1, "activist"), (m2, "business")):
        await nominate(member, "Myself", category)
    await elect(c, seats=2, votes=((m3, ["Мүше 1", "Мүше 2"]),))
    await c.facilitator.send("/results")
    assert buttons_of(c.facilitator.last(), "kc:") == ["kc:1"]
    await m3.send("/results")
    assert not buttons_of(m3.last(), "kc:")  # a member sees the result, not the button


async def test_an_older_elections_confirm_cannot_replace_a_newer_kmut(community):
    c = community
    m1, m2, m3 = c.members
    f = c.facilitator
    for member, category in ((m1, "activist"), (m2, "business")):
        await nominate(member, "Myself", category)
    first = await elect(c, seats=1, votes=((m3, ["Мүше 1"]),))
    second = await elect(c, seats=1, votes=((m3, ["Мүше 2"]),))
    for message in (second, c.sim.messages(c.group.id)[-1]):
        if buttons_of(message, "kc:"):
            await f.press_data(buttons_of(message, "kc:")[-1], c.group)
    await f.press_data("kc:2:1", c.group)
    async with c.sim.engine.db.transaction() as tx:
        assert [name for _, name in await nominations.group(tx, 1)] == ["Мүше 2"]
    stale = await f.press_data(buttons_of(first, "kc:")[0] + ":1", c.group)
    assert stale.toast.text == "Кейінгі сайлаудың ҚМҰТ құрамы бекітіліп қойған; бұл нәтиже ескірген."
    async with c.sim.engine.db.transaction() as tx:
        assert [name for _, name in await nominations.group(tx, 1)] == ["Мүше 2"]


async def test_a_declined_nomination_may_be_made_again(community):
    c = community
    m1, m2, m3 = c.members
    await nominate(m3, "ше 1", "media")
    await m1.press_data(buttons_of(m1.last(), "nd:")[0])
    assert await candidates(c) == {"Мүше 1": "declined"}
    await nominate(m1, "Myself", "activist")  # changed their mind
    assert await candidates(c) == {"Мүше 1": "accepted"}


async def test_a_candidate_who_erases_their_data_stands_no_more(community):
    c = community
    m1, m2, m3 = c.members
    for member, category in ((m1, "activist"), (m2, "business"), (m3, "media")):
        await nominate(member, "Myself", category)
    await c.facilitator.send("/poll election 3", c.group)
    post = c.sim.messages(c.group.id)[-1]
    for row in post.buttons:
        await m1.press_data(row[0].data, c.group)
    await m3.send("/forget")
    await m3.press_data("forget:yes")
    await c.facilitator.send("/close election", c.group)
    result = next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)
    assert result.text.splitlines()[0] == "ҚМҰТ сайлауы: 2 мүше сайланды: Мүше 1, Мүше 2."
    await c.facilitator.send("/poll election", c.group)  # the next election: two candidates left
    assert [b.text.split(" ·")[0] for row in c.sim.messages(c.group.id)[-1].buttons for b in row] in (
        ["Мүше 1", "Мүше 2"], ["Мүше 2", "Мүше 1"])


async def test_a_self_nomination_is_worded_for_oneself_and_knows_the_open_election(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await nominate(m1, "Myself", "activist")
    await nominate(m2, "Myself", "ngo")
    await c.facilitator.send("/poll election", c.group)
    assert "el:" in str(c.sim.messages(c.group.id)[-1].buttons)  # the election is open, without m3
    await m3.send("/nominate")
    await m3.press_data(next(b.data for row in m3.last().buttons for b in row if b.data.startswith("nm:")))
    assert m3.last().text == "You nominate yourself. In which category?"
    await m3.send("/nominate")
    await m3.send("ше 3")  # their own name: the one match
    assert m3.last().text == "You nominate yourself. In which category?"
    await m3.press_data(next(b.data for row in m3.last().buttons for b in row if b.data.endswith(":media")))
    assert m3.last().text == ("You are a candidate for the ҚМҰТ (Media). The election already open goes on without "
                              "you; you will be on the next one.")


async def test_a_self_nomination_with_no_election_open_says_members_will_vote(community):
    c = community
    m3 = c.members[2]
    await nominate(m3, "Myself", "media")
    assert m3.last().text == ("You are a candidate for the ҚМҰТ (Media). Members will vote when the facilitator opens "
                              "the election.")


async def test_nominating_someone_else_names_them(community):
    c = community
    m3 = c.members[2]
    await m3.send("/nominate")
    await m3.send("ше 1")
    assert m3.last().text == "You nominate: <b>Мүше 1</b>. In which category?"


async def test_one_already_nominated_is_told_so_as_you(community):
    c = community
    m1, m3 = c.members[0], c.members[2]
    await nominate(m1, "ше 3", "media")  # m1 nominates m3, who has not answered yet
    await m3.send("/nominate")
    refused = await m3.press_data(next(b.data for row in m3.last().buttons for b in row if b.data.startswith("nm:")))
    assert refused.toast.text == ("You are already nominated (Media); accept or decline with the buttons of that "
                                  "message.")
    await m3.press_data(next(b.data for m in m3.inbox() for row in m.buttons for b in row
                             if b.data and b.data.startswith("na:")))
    await m3.send("/nominate")
    await m3.send("ше 3")
    assert m3.last().text == "You are already a candidate (Media)."
