"""Foundation flows through the simulator: onboarding, communities, groups, steps, bad input."""

from __future__ import annotations

import pytest

from bot.flows.types import Event
from bot.storage import members
from tests.conftest import build_community, create_community, onboard


async def member_row(sim, person):
    async with sim.engine.db.transaction() as tx:
        return await members.by_identity(tx, "demo", person.id)


async def test_language_defaults_to_the_client_then_kazakh(sim):
    ru = sim.person("Ольга", "ru")
    await ru.send("/start")
    assert "Выберите язык" in ru.last().text
    other = sim.person("Hans", "de")
    await other.send("/start")
    assert "Тілді таңдаңыз" in other.last().text


async def test_onboarding_stores_nothing_before_consent(sim):
    person = sim.person("Ерлан", "kk")
    await person.send("/start")
    await person.press("English")
    assert "Consent to the processing of personal data" in person.last().text
    await person.press_data("consent:no")
    assert await member_row(sim, person) is None
    assert "Without your consent" in person.last().text
    await person.send("hello")
    assert "Without your consent" in person.last().text
    await person.send("/start")
    await person.press("English")
    await person.press_data("consent:yes")
    await person.send("Ерлан Серікұлы")
    row = await member_row(sim, person)
    assert row.name == "Ерлан Серікұлы" and row.locale == "en"


async def test_facilitator_creates_a_community_with_link_and_code(sim):
    facilitator = sim.person("Айгерим")
    await onboard(facilitator)
    code = await create_community(facilitator)
    text = facilitator.last().text
    assert f"https://t.me/qatysu_test_bot?start={code}" in text and f"<b>{code}</b>" in text
    assert "фасилитатор" in text


async def test_members_join_in_their_languages_and_switch_communities(sim):
    c = await build_community(sim, 2, ("ru", "en"))
    assert "Добро пожаловать" in c.members[0].inbox()[-2].text
    assert "Welcome to" in c.members[1].inbox()[-2].text
    other = sim.person("Бауыржан")
    await onboard(other)
    second = await create_community(other, "Екінші ауыл")
    await c.members[0].send(f"/start {second}")
    await c.members[0].send("/communities")
    buttons = [b.text for row in c.members[0].last().buttons for b in row]
    assert any("Екінші ауыл" in b and b.startswith("✓") for b in buttons)
    await c.members[0].press("Көктерек")
    assert "Көктерек" in c.members[0].last().text


async def test_joining_twice_keeps_one_membership(sim):
    c = await build_community(sim, 1)
    await c.members[0].send(f"/start {c.code}")
    assert "уже" in c.members[0].inbox()[-2].text or "already" in c.members[0].inbox()[-2].text \
        or "мүшесісіз" in c.members[0].inbox()[-2].text
    async with sim.engine.db.transaction() as tx:
        assert await members.count_members(tx, 1) == 2


async def test_only_the_facilitator_links_a_group_and_moves_steps(sim):
    c = await build_community(sim, 1, ("en",))
    group2 = sim.group("-100777", "Other")
    await c.members[0].send(f"/link {c.code}", group2)
    assert "Only the community's facilitator" in sim.messages(group2.id)[-1].text
    await c.members[0].send("/next", c.group)
    assert "Only the community's facilitator" in sim.messages(c.group.id)[-1].text  # in their language
    await c.facilitator.send("/next", c.group)
    assert "2-қадам" in sim.messages(c.group.id)[-1].text
    await c.members[0].send("/status")
    assert "▶️ 2." in c.members[0].last().text


async def test_a_stranger_in_a_linked_group_is_asked_to_join(sim):
    c = await build_community(sim, 0)
    stranger = sim.person("Stranger", "en")
    await stranger.send("/next", c.group)
    assert "private chat" in sim.messages(c.group.id)[-1].text


async def test_an_unlinked_group_says_how_to_link(sim):
    c = await build_community(sim, 0)
    lonely = sim.group("-100999", "Lonely")
    await c.facilitator.send("/status", lonely)
    assert "/link" in sim.messages(lonely.id)[-1].text


async def test_duplicate_update_changes_nothing(sim, engine):
    person = sim.person("Ерлан")
    first = await engine.handle(Event(channel="demo", user_id=person.id, chat_id=person.id,
                                      update_id="u-1", command="start"))
    again = await engine.handle(Event(channel="demo", user_id=person.id, chat_id=person.id,
                                      update_id="u-1", command="start"))
    assert first.messages and again.duplicate and not again.messages


@pytest.mark.parametrize("raw, stored", [
    ("<b>Bob</b>", "<b>Bob</b>"),
    ("Ali\x00\x07 \u202eevil", "Ali evil"),
    ("  Ерлан\n\tСерікұлы ", "Ерлан Серікұлы"),
])
async def test_names_are_cleaned_and_escaped(sim, raw, stored):
    person = sim.person("x", "en")
    await person.send("/start")
    await person.press("English")
    await person.press_data("consent:yes")
    await person.send(raw)
    assert (await member_row(sim, person)).name == stored
    assert "&lt;" in person.inbox()[-2].text if "<" in raw else True
    assert "<b>Bob" not in person.inbox()[-2].text


async def test_overlong_and_empty_names_are_refused(sim):
    person = sim.person("x", "en")
    await person.send("/start")
    await person.press("English")
    await person.press_data("consent:yes")
    await person.send("А" * 65)
    assert "at most 64" in person.last().text
    await person.send("\x00\x01")
    assert "name in letters" in person.last().text
    assert (await member_row(sim, person)).name is None
    await person.send("А" * 64)
    assert (await member_row(sim, person)).name == "А" * 64


async def test_bad_input_gets_short_localized_answers(sim):
    c = await build_community(sim, 1, ("ru",))
    m = c.members[0]
    await m.send("/frobnicate")
    assert "не знаю команду" in m.last().text
    await m.send("просто текст")
    assert "не понял" in m.last().text
    await m.send("/start NOSUCHCODE")
    assert "нет" in m.last().text or "Сообщества с кодом" in m.inbox()[-2].text
    outcome = await m.press_data("lang:xx")
    assert "кнопка больше не работает" in outcome.toast.text
    outcome = await m.press_data("c:999")
    assert "кнопка" in outcome.toast.text
    for forged in ("c:" + "9" * 30, "c:²", "c:١٢"):  # overflow SQLite / not ASCII digits
        outcome = await m.press_data(forged)
        assert "кнопка" in outcome.toast.text, forged
    outcome = await m.press_data("consent")
    assert outcome.toast is not None
    outcome = await m.press_data("m:nosuch")
    assert "кнопка" in outcome.toast.text


async def test_free_text_where_a_button_is_expected_repeats_the_question(sim):
    person = sim.person("x", "ru")
    await person.send("/start")
    await person.send("русский")
    assert "Выберите язык" in person.last().text


async def test_a_failing_handler_rolls_back_and_says_sorry(sim, monkeypatch):
    from bot.flows import community

    c = await build_community(sim, 0)

    async def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(community.communities, "set_step", broken)
    await c.facilitator.send("/next")
    assert "Кешіріңіз" in c.facilitator.last().text
    await c.facilitator.send("/status")
    assert "▶️ 1." in c.facilitator.last().text


async def test_language_can_be_changed(sim):
    c = await build_community(sim, 1, ("kk",))
    m = c.members[0]
    await m.send("/lang")
    await m.press("English")
    assert "I will write to you in English" in m.inbox()[-2].text
    assert (await member_row(sim, m)).locale == "en"


async def test_a_question_asked_again_waits_its_full_hour_again(community, sim):
    """A member asked twice, two hours apart, answers the second time: that is an answer."""
    from datetime import timedelta

    from bot.storage import problems

    c = community
    m3 = c.members[2]
    await m3.send("/propose")
    sim.engine.clock = lambda now=sim.engine.clock(): now + timedelta(hours=2)
    await m3.send("/propose")
    await m3.send("The road floods every spring")
    async with sim.engine.db.transaction() as tx:
        assert [p.text for p in await problems.listed(tx, 1)] == ["The road floods every spring"]


async def test_a_forged_link_to_another_community_does_not_reveal_its_join_code(community, sim):
    from tests.conftest import onboard

    c = community
    outsider = sim.person("Outsider", "en")
    await onboard(outsider)
    outcome = await outsider.send("/start g_1_status")
    assert outsider.last().text.startswith("Only members of this community can do that.")
    assert not outsider.last().buttons and c.code not in repr(outcome)


async def test_a_proposal_goes_to_the_community_it_was_asked_for(community, sim):
    from bot.storage import problems
    from tests.conftest import create_community

    c = community
    m3 = c.members[2]
    await create_community(m3, "Second village")  # community 2, now m3's active one
    await m3.send("/start g_1_propose")  # Көктерек's group link: "which problem?", for Көктерек
    await m3.send("/start g_2_problems")  # meanwhile a link of the second village's group
    await m3.send("The road floods every spring")  # the answer to the question still waiting
    async with sim.engine.db.transaction() as tx:
        assert [p.text for p in await problems.listed(tx, 1)] == ["The road floods every spring"]
        assert await problems.listed(tx, 2) == []


async def test_a_new_community_keeps_the_default_time_and_a_place_name_changes_it(sim):
    from bot.storage import communities

    facilitator = sim.person("Ерлан", "en")
    await onboard(facilitator)
    await facilitator.send("/new")
    await facilitator.send("Kokterek")
    created = await facilitator.send("Talgar district")  # no time-zone question: created at once
    assert created.messages[-1].text.endswith(
        "Reminders and closing times follow the time of Kazakhstan (Almaty, Astana, Aktobe and all the country), "
        "UTC+5.")
    async with sim.engine.db.transaction() as tx:
        assert (await communities.get(tx, 1)).tz == "Asia/Almaty"
    await facilitator.press("We live in another time zone")
    question = facilitator.last()
    assert question.text.startswith("<b>Kokterek</b> keeps the time of Kazakhstan")
    places = [b.text for row in question.buttons for b in row]
    assert "Bishkek · UTC+6" in places and "Moscow · UTC+3" in places
    assert not any(p.endswith("UTC+5") for p in places)  # Tashkent and all of Kazakhstan keep the same time
    await facilitator.press("Bishkek")
    assert facilitator.last().text == "<b>Kokterek</b> now keeps the time of Bishkek, UTC+6."
    async with sim.engine.db.transaction() as tx:
        assert (await communities.get(tx, 1)).tz == "Asia/Bishkek"
    await facilitator.press("We live in another time zone")
    assert any(b.text.startswith("Kazakhstan") for row in facilitator.last().buttons for b in row)  # and back


async def test_only_the_facilitator_changes_the_time_zone(community):
    member = community.members[2]
    refused = await member.press_data("tz:1:bishkek")
    assert refused.toast.text == "Only the community's facilitator can do that."


async def test_adding_the_bot_by_the_group_link_does_not_ask_for_link_code(sim):
    c = await build_community(sim, 1, ("en",))
    group = sim.group("-100777", "Second group")
    await sim.handle(c.facilitator, "adds the bot", joined_group=True, chat_id=group.id, is_group=True,
                     chat_title=group.title)
    hello = sim.messages(group.id)[-1].text
    assert "/link" not in hello and "қауымдастығыңызға байланыстырылған соң" in hello
    await c.facilitator.send(f"/start {c.code}", group)  # what the group link sends right after
    assert "байланыстырылды" in sim.messages(group.id)[-1].text
    other = sim.group("-100778", "Members' group")
    await sim.handle(c.members[0], "adds the bot", joined_group=True, chat_id=other.id, is_group=True,
                     chat_title=other.title)
    assert "/link CODE" in sim.messages(other.id)[-1].text  # a member: the facilitator must link it


async def test_a_command_sent_in_a_group_before_it_became_a_supergroup_reaches_the_community(sim):
    """Telegram made the group a supergroup while /status, sent in it just before, was on its way:
    handled after the move (several updates are handled at once; on PostgreSQL the move's
    transaction can commit first), it still concerns the community, not "a group not linked"."""
    c = await build_community(sim, 1, ("en",))
    await sim.handle(c.facilitator, "the group becomes a supergroup", chat_id=c.group.id, is_group=True,
                     group_moved_to="-1009990001")
    status = await c.facilitator.send("/status", c.group)  # from the old id, handled after the move
    text = " ".join(m.text for m in status.messages)
    assert "байланыстырылмаған" not in text and "Көктерек" in text, text  # not "not linked"
    stranger = sim.group("-100999", "Another group")  # a group never linked is still told so
    refused = await c.facilitator.send("/status", stranger)
    assert "байланыстырылмаған" in " ".join(m.text for m in refused.messages)
