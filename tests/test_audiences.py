"""The resolver: a flow's post to an audience becomes one addressed message per chat — the
community's groups, one to one its members on a channel without groups (WhatsApp) in their own
language and by their role, a member's every private chat — and a view's update is an edit where
the channel edits, and on WhatsApp a fresh message only for who asked or when it matters."""

from __future__ import annotations

from bot import audiences
from bot.audiences import Origin, resolve
from bot.flows.context import may_use
from bot.messages import Button, Community, Group, Here, Message, Person, Post, Private, View
from tests.conftest import build_community

GROUP = ("demo", "-100500")
LANGUAGE = {"kk": "қазақша", "ru": "русский", "en": "English"}


def build(tr):
    """The text names the reader's language, so a test sees who got which."""
    return f"[{tr.locale}] news", [[Button("vote", data="open:1")], [Button("confirm", data="ch:1:1:")]]


def ranking(tr):
    return f"[{tr.locale}] ranking only", []


async def wa_member(c, name: str, lang: str, number: str):
    person = c.sim.person(name, lang, number=number)
    await person.send(f"/start {c.code}")
    await person.press(LANGUAGE[lang])
    await person.press_data("consent:yes")
    await person.press(name)
    return person


async def scalar(c, sql: str, *args):
    async with c.sim.engine.db.transaction() as tx:
        return await tx.scalar(sql, args)


async def member_id(c, person) -> int:
    return await scalar(c, "SELECT member_id FROM identities WHERE external_id = ?", person.id)


async def village(sim):
    """A community (kk) with its group on the demo channel (Telegram's stand-in), a facilitator
    and a member there, and three members on WhatsApp: Алма (ru), Бек (en), Дана (kk)."""
    c = await build_community(sim, 1, ("en",))
    c.alma = await wa_member(c, "Алма", "ru", "77010000001")
    c.bek = await wa_member(c, "Бек", "en", "77010000002")
    c.dana = await wa_member(c, "Дана", "kk", "77010000003")
    c.id = await scalar(c, "SELECT id FROM communities")
    return c


async def addressed(c, post: Post, origin: Origin | None = None) -> list[Message]:
    origin = origin or Origin("demo", c.facilitator.id, c.facilitator.id, "kk")
    async with c.sim.engine.db.transaction() as tx:
        return await resolve(tx, post, origin, may_use=may_use)


def chats(messages: list[Message]) -> dict[tuple[str, str], Message]:
    found = {(m.channel, m.chat_id): m for m in messages}
    assert len(found) == len(messages), "a chat got the post twice"
    return found


async def test_a_community_post_reaches_its_group_and_each_whatsapp_member_in_their_language(sim):
    c = await village(sim)
    sent = chats(await addressed(c, Post(Community(c.id), build)))
    assert set(sent) == {GROUP, ("whatsapp", c.alma.id), ("whatsapp", c.bek.id), ("whatsapp", c.dana.id)}
    assert sent[GROUP].text == "[kk] news"  # the group reads the community's language
    assert [sent["whatsapp", p.id].text for p in (c.alma, c.bek, c.dana)] == ["[ru] news", "[en] news", "[kk] news"]
    assert all(m.durable for m in sent.values())  # to the outbox, with the action
    # a member reads the buttons they may use; the group shows them all (and refuses the others' taps)
    assert [b.data for row in sent[GROUP].buttons for b in row] == ["open:1", "ch:1:1:"]
    assert [b.data for row in sent["whatsapp", c.alma.id].buttons for b in row] == ["open:1"]


async def test_a_facilitators_prompt_reaches_the_group_and_the_facilitators_alone(sim):
    c = await village(sim)
    await scalar(c, "UPDATE memberships SET role = 'facilitator' WHERE member_id = ?", await member_id(c, c.bek))
    await scalar(c, "UPDATE memberships SET kmut = 1 WHERE member_id = ?", await member_id(c, c.dana))
    sent = chats(await addressed(c, Post(Community(c.id, "facilitator"), build)))
    assert set(sent) == {GROUP, ("whatsapp", c.bek.id)}
    assert [b.data for row in sent["whatsapp", c.bek.id].buttons for b in row] == ["open:1", "ch:1:1:"]
    # the ҚМҰТ and up: Дана (kmut) and Бек (facilitator), not Алма
    assert set(chats(await addressed(c, Post(Community(c.id, "kmut"), build)))) == {
        GROUP, ("whatsapp", c.bek.id), ("whatsapp", c.dana.id)}
    # with what the others read instead: the ranking without the prompt, in their language
    sent = chats(await addressed(c, Post(Community(c.id, "facilitator"), build, others=ranking)))
    assert sent["whatsapp", c.bek.id].text == "[en] news"
    assert sent["whatsapp", c.alma.id].text == "[ru] ranking only" and sent["whatsapp", c.alma.id].buttons == ()
    assert sent[GROUP].text == "[kk] news"


async def test_a_member_on_both_channels_reads_the_community_in_the_group_but_gets_a_notice_in_both_chats(sim):
    c = await village(sim)
    olga = c.members[0]  # on the demo channel, in the group's community
    await scalar(c, "INSERT INTO identities (channel, external_id, member_id, created_at) VALUES"
                    " ('whatsapp', '77010000009', ?, '2026-03-02')", await member_id(c, olga))
    sent = chats(await addressed(c, Post(Community(c.id), build)))
    assert ("whatsapp", "77010000009") not in sent  # the group tells them: no copy on WhatsApp
    notice = chats(await addressed(c, Post(Person(await member_id(c, olga)), build)))
    assert set(notice) == {("demo", olga.id), ("whatsapp", "77010000009")}  # both are their chats
    assert {m.text for m in notice.values()} == {"[en] news"}


async def test_one_group_alone(sim):
    c = await village(sim)
    sent = await addressed(c, Post(Group(*GROUP), build))
    assert [(m.channel, m.chat_id, m.text) for m in sent] == [(*GROUP, "[kk] news")]


async def test_a_group_views_redraw_is_an_edit_there_and_reaches_no_one_one_to_one(sim):
    c = await village(sim)
    view = View("b", 7)
    shown = chats(await addressed(c, Post(Community(c.id), build, view=view)))
    assert shown[GROUP].tag == "b7" and not shown[GROUP].edit
    assert len(shown) == 4  # shown: to everyone
    redrawn = await addressed(c, Post(Community(c.id), build, view=view, update=True))
    assert [(m.channel, m.chat_id, m.tag, m.edit) for m in redrawn] == [(*GROUP, "b7", True)]
    # a change that matters (nothing else will tell them): once, a fresh message, to each
    mattered = chats(await addressed(c, Post(Community(c.id), build, view=view, update=True, matters=True)))
    assert mattered[GROUP].edit and len(mattered) == 4
    assert not any(m.edit for key, m in mattered.items() if key != GROUP)


async def test_an_update_for_the_person_who_asked_is_an_edit_on_telegram_and_a_fresh_message_on_whatsapp(sim):
    c = await village(sim)
    post = Post(Here(), lambda tr: ("question 2", []), view=View("b", 7), update=True)
    on_telegram = audiences.here(post, Origin("demo", c.facilitator.id, c.facilitator.id, "kk"))
    assert [(m.chat_id, m.tag, m.edit, m.durable) for m in on_telegram] == [(c.facilitator.id, "b7", True, False)]
    on_whatsapp = audiences.here(post, Origin("whatsapp", c.alma.id, c.alma.id, "ru"))
    assert [(m.chat_id, m.tag, m.edit) for m in on_whatsapp] == [(c.alma.id, "b7", False)]
    # a member's own view updated by someone else's action: not sent on WhatsApp unless it matters
    alma = await member_id(c, c.alma)
    assert await addressed(c, Post(Person(alma), build, view=View("b", 7), update=True)) == []
    assert [m.edit for m in await addressed(c, Post(Person(alma), build, view=View("b", 7), update=True,
                                                     matters=True))] == [False]
    # from a group, the private answer goes to the person's own chat; a scheduled job has no chat
    private = audiences.here(Post(Private(), build), Origin("demo", "-100500", c.facilitator.id, "kk"))
    assert [m.chat_id for m in private] == [c.facilitator.id]
    assert audiences.here(Post(Here(), build), Origin("system", "system", "system", "kk")) == []


def test_the_channels_differ_in_one_table():
    assert audiences.groupless() == ("whatsapp",)
    assert audiences.profile("telegram").edits and not audiences.profile("whatsapp").edits
    assert audiences.profile("demo") == audiences.profile("telegram")  # the simulator stands for Telegram


async def test_group_redraws_never_reach_whatsapp_members_and_a_closed_ballot_reaches_each_once(sim):
    from tests.test_flows_step1 import TEXTS, button_for, group_ballot, propose_all

    c = await village(sim)
    await scalar(c, "UPDATE memberships SET role = 'facilitator' WHERE member_id = ?", await member_id(c, c.bek))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    ballot = await group_ballot(c)
    on_whatsapp = (c.alma, c.bek, c.dana)
    for person in on_whatsapp:
        assert sim.messages(person.id)[-1].text.startswith("🗳")  # the announcement, one to one, in their language
    before = {p.id: len(sim.messages(p.id)) for p in on_whatsapp}
    redraws = sum(edited for chat, _, edited in sim.sender.log if chat == c.group.id)
    for number in (1, 2, 3):
        await c.members[0].press_data(button_for(ballot, number), c.group)
    assert sum(edited for chat, _, edited in sim.sender.log if chat == c.group.id) >= redraws + 3  # the group's counts
    assert {p.id: len(sim.messages(p.id)) for p in on_whatsapp} == before  # and no one's phone buzzed

    await c.facilitator.send("/close", c.group)
    told = {p.id: sim.messages(p.id)[before[p.id]:] for p in on_whatsapp}
    for person in (c.alma, c.dana):  # the result, once: not the frozen ballot, not the facilitator's prompt
        assert [m.image is not None for m in told[person.id]] == [True], [m.text for m in told[person.id]]
    result, prompt = told[c.bek.id]  # the facilitator on WhatsApp: the result, then what to do next
    assert result.image is not None
    assert "Facilitator: confirm the problem" in prompt.text
    assert prompt.buttons and all(b.data.startswith("ch:") for row in prompt.buttons for b in row)
