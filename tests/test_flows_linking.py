"""One person, one member across channels, through the simulator: a member on Telegram (the
demo channel stands for it) shares their own contact, and the WhatsApp account of that number
is the same member; two members who already exist become one, with one vote per ballot."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.storage import ballots
from tests.conftest import build_community
from tests.test_flows_step1 import TEXTS, button_for, propose_all
from tests.test_flows_step2 import buttons_of, nominate

NUMBER = "77010000002"
SHARED = "+7 701 000 00 02"  # as Telegram's client may format it


async def join_on_whatsapp(c, name: str = "Ольга", number: str = NUMBER):
    person = c.sim.person(name, "en", number=number)
    await person.send(f"/start {c.code}")
    await person.press("English")
    await person.press_data("consent:yes")
    await person.press(name)
    return person


async def one(c, sql: str, *args):
    async with c.sim.engine.db.transaction() as tx:
        return await tx.scalar(sql, args)


async def member_of(c, person) -> int | None:
    return await one(c, "SELECT member_id FROM identities WHERE external_id = ?", person.id)


async def test_the_number_shared_on_telegram_makes_the_whatsapp_account_the_same_member(sim):
    c = await build_community(sim, 1, ("en",))
    olga = c.members[0]
    greeting = next(m for m in olga.inbox() if m.text.startswith("Nice to meet you"))
    assert "share your phone number" in greeting.text and greeting.buttons[0][0].contact  # the optional step
    menu = olga.last()
    assert any(b.data == "m:phone" for row in menu.buttons for b in row)
    await olga.press("Link WhatsApp")
    assert olga.last().buttons[0][0].contact
    await olga.share_contact(SHARED)
    assert "phone number is saved" in olga.last().text
    assert await one(c, "SELECT phone FROM members WHERE id = ?", await member_of(c, olga)) == "+" + NUMBER
    await olga.send("/menu")
    assert not any(b.data == "m:phone" for row in olga.last().buttons for b in row)  # not offered again

    phone = sim.person("Ольга", "en", number=NUMBER)
    await phone.send("/start")  # her first message on WhatsApp: no onboarding, she is known
    assert "this chat is the same member" in phone.inbox()[0].text
    assert await member_of(c, phone) == await member_of(c, olga)
    await phone.send("/mydata")
    data = json.loads(phone.last().document[1])
    assert data["member"]["phone"] == "+" + NUMBER and data["member"]["name"] == "Мүше 1"
    assert {(i["channel"], i["external_id"]) for i in data["identities"]} == {("demo", olga.id), ("whatsapp", NUMBER)}
    assert [c["name"] for c in data["communities"]] == ["Көктерек"]
    assert await one(c, "SELECT COUNT(*) FROM audit_log WHERE action = 'member.linked'") == 1


async def sticker_ballot(c):
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    return c.sim.messages(c.group.id)[-1]


@pytest.mark.parametrize("telegram_first", [True, False])
async def test_two_members_become_one_and_keep_the_earlier_sticker_vote(sim, telegram_first):
    c = await build_community(sim, 1, ("en",))
    olga = c.members[0]
    phone = await join_on_whatsapp(c)
    post = await sticker_ballot(c)
    on_telegram = lambda: olga.press_data(button_for(post, 1), c.group)  # noqa: E731
    on_whatsapp = lambda: phone.press_data(button_for(post, 2))  # noqa: E731 (the post reached her one to one)
    for vote in ((on_telegram, on_whatsapp) if telegram_first else (on_whatsapp, on_telegram)):
        await vote()
    kept, merged = await member_of(c, olga), await member_of(c, phone)
    assert kept < merged  # she joined on Telegram first: that member is the older
    async with sim.engine.db.transaction() as tx:
        assert (await ballots.get(tx, 1)).turnout == 2
    await olga.share_contact(SHARED)
    told = olga.last().text
    assert "are now one member" in told and "«Sticker voting» in «Көктерек»" in told
    assert ("the later one, from WhatsApp, was removed" if telegram_first
            else "the later one, from Telegram, was removed") in told
    assert phone.last().text == told  # told on WhatsApp too
    async with sim.engine.db.transaction() as tx:
        assert (await ballots.get(tx, 1)).turnout == 1
        assert await ballots.all_stickers(tx, 1) == {kept: {1 if telegram_first else 2: 1}}
        assert await tx.scalar("SELECT COUNT(*) FROM identities WHERE member_id = ?", (kept,)) == 2
        assert await tx.scalar("SELECT consent_at || COALESCE(name, '') FROM members WHERE id = ?", (merged,)) == ""
    # one member, one ballot: her WhatsApp sees her stickers, whichever chat she placed them from
    await phone.press_data(button_for(post, 3))
    async with sim.engine.db.transaction() as tx:
        assert sum((await ballots.all_stickers(tx, 1))[kept].values()) == 2
        assert (await ballots.get(tx, 1)).turnout == 1
    group_counts = [b.text for row in c.sim.messages(c.group.id)[-1].buttons for b in row]
    assert sum(int(t.rsplit("· ", 1)[1]) for t in group_counts) == 2  # redrawn without the removed sticker
    entry = await one(c, "SELECT detail FROM audit_log WHERE action = 'member.linked'")
    assert json.loads(entry)["votes_removed_from_ballots"] == [1]


async def test_matrix_scores_from_both_accounts_keep_the_earlier(sim):
    c = await build_community(sim, 1, ("en",))
    olga = c.members[0]
    phone = await join_on_whatsapp(c)
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/poll matrix", c.group)
    for person, score in ((phone, 2), (olga, 0)):  # WhatsApp first: that is the earlier
        await person.send("/start b_1")
        for _ in range(2):
            await person.press_data(person.last().buttons[0][score].data)
            await person.press_data(person.last().buttons[0][score].data)
    await olga.share_contact(SHARED)
    assert "the later one, from Telegram, was removed" in olga.last().text
    kept = await member_of(c, olga)
    async with sim.engine.db.transaction() as tx:
        assert await ballots.all_scores(tx, 1) == {kept: {1: (3, 3), 2: (3, 3)}}


async def test_election_approvals_from_both_accounts_keep_the_earlier(sim):
    c = await build_community(sim, 2, ("en",))
    olga, other = c.members
    phone = await join_on_whatsapp(c)
    await nominate(olga, "Myself", "activist")
    await nominate(other, "Myself", "business")
    await c.facilitator.send("/poll election 2", c.group)
    post = c.sim.messages(c.group.id)[-1]
    by_name = {b.text.split(" ·")[0]: b.data for row in post.buttons for b in row}
    await olga.press_data(by_name["Мүше 2"], c.group)
    await phone.press_data(by_name["Мүше 1"])
    await phone.press_data(by_name["Мүше 2"])
    async with sim.engine.db.transaction() as tx:
        assert sorted(n for _, n in await ballots.candidates(tx, 1)) == [1, 2]
    await olga.share_contact(SHARED)
    assert "«ҚМҰТ election» in «Көктерек»" in olga.last().text
    kept = await member_of(c, olga)
    async with sim.engine.db.transaction() as tx:
        assert sorted(n for _, n in await ballots.candidates(tx, 1)) == [0, 1]  # only her Telegram approval
        assert (await ballots.get(tx, 1)).turnout == 1
        assert await ballots.approvals_of(tx, 1, kept) == {
            int(by_name["Мүше 2"].split(":")[2])}


async def test_what_the_whatsapp_member_did_passes_to_the_linked_member(sim):
    c = await build_community(sim, 1, ("en",))
    olga = c.members[0]
    phone = await join_on_whatsapp(c)
    await phone.send("/propose Балалар алаңы жоқ")
    await nominate(phone, "Myself", "activist")
    await olga.share_contact(SHARED)
    await olga.send("/mydata")
    data = json.loads(olga.last().document[1])
    assert [p["text"] for p in data["problems_proposed"]] == ["Балалар алаңы жоқ"]
    assert [n["category"] for n in data["nominations_received"]] == ["activist"]
    assert len(data["identities"]) == 2 and len(data["communities"]) == 1
    actions = [a["action"] for a in data["actions_in_audit_log"]]
    assert actions.count("consent.given") == 2 and "member.linked" in actions  # on both accounts
    assert await one(c, "SELECT COUNT(*) FROM memberships WHERE community_id = 1") == 2  # facilitator and her


async def test_a_closed_ballots_result_stands_when_both_accounts_had_voted(sim):
    c = await build_community(sim, 1, ("en",))
    olga = c.members[0]
    phone = await join_on_whatsapp(c)
    post = await sticker_ballot(c)
    await olga.press_data(button_for(post, 1), c.group)
    await phone.press_data(button_for(post, 1))
    await c.facilitator.send("/close", c.group)
    await olga.share_contact(SHARED)
    assert "its result stays as it was announced" in olga.last().text
    async with sim.engine.db.transaction() as tx:
        assert (await ballots.get(tx, 1)).turnout == 2
        assert sum(n for per in (await ballots.all_stickers(tx, 1)).values() for n in per.values()) == 2


async def test_the_same_number_from_a_second_telegram_account_is_refused(sim):
    c = await build_community(sim, 2, ("en",))
    first, second = c.members
    await join_on_whatsapp(c)
    await first.share_contact(SHARED)  # her Telegram and WhatsApp: one member
    phone = await join_on_whatsapp(c, "Бек", "77010000003")  # another number, another person
    await second.share_contact(SHARED)
    assert "already linked to another account" in second.last().text and "nothing was saved" in second.last().text
    assert await one(c, "SELECT phone FROM members WHERE id = ?", await member_of(c, second)) is None
    assert await one(c, "SELECT COUNT(*) FROM audit_log WHERE action IN ('member.phone_shared', 'member.linked') AND actor_id = ?",
                     await member_of(c, second)) == 0
    # a member with a WhatsApp account cannot take another WhatsApp account's number either
    await first.share_contact("+77010000003")
    assert "already linked to another account" in first.last().text
    assert await member_of(c, phone) != await member_of(c, first)


async def test_someone_elses_card_and_a_number_that_is_none_are_refused_and_nothing_kept(sim):
    c = await build_community(sim, 2, ("en",))
    olga, other = c.members
    phone = await join_on_whatsapp(c)
    await olga.share_contact(NUMBER, owner=other)
    assert "someone else's contact" in olga.last().text
    await olga.share_contact("12-34")
    assert "does not look like a phone number" in olga.last().text
    assert await one(c, "SELECT COUNT(*) FROM members WHERE phone IS NOT NULL") == 0
    assert await member_of(c, phone) != await member_of(c, olga)


async def test_forget_erases_the_linked_member_on_both_channels(sim):
    c = await build_community(sim, 1, ("en",))
    olga = c.members[0]
    phone = await join_on_whatsapp(c)
    await olga.share_contact(SHARED)
    await phone.send("/forget")
    await phone.press("Erase my data")
    assert "Your data is erased" in phone.last().text
    assert await one(c, "SELECT COUNT(*) FROM identities WHERE external_id IN (?, ?)", olga.id, NUMBER) == 0
    assert await one(c, "SELECT COUNT(*) FROM members WHERE phone IS NOT NULL OR (name IS NOT NULL"
                        " AND name <> 'Айгерим')") == 0
    await olga.send("/start")  # a stranger again on Telegram too
    assert "Choose your language" in olga.last().text


async def test_the_database_holds_one_member_per_phone_number(sim):
    c = await build_community(sim, 2, ("en",))
    first, second = c.members
    phone = await join_on_whatsapp(c, "Бек", "77010000009")
    await first.share_contact(SHARED)
    db = sim.engine.db
    with pytest.raises(sqlite3.IntegrityError):
        await db.atomic(lambda tx: tx.execute("UPDATE members SET phone = ? WHERE id = 3", ("+" + NUMBER,)))
    with pytest.raises(sqlite3.IntegrityError):  # a WhatsApp account is its number: not another member's
        await db.atomic(lambda tx: tx.execute("UPDATE members SET phone = '+77010000009' WHERE id = 2"))
    assert await member_of(c, phone) not in (None, 2)


async def test_a_contact_from_someone_without_consent_is_not_kept(sim):
    stranger = sim.person("Бек", "en")
    await stranger.share_contact("+77010000005")
    assert "Choose your language" in stranger.last().text  # onboarding first
    async with sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM members") == 0


@pytest.mark.parametrize("raw, stored", [("+7 701 000 00 02", "+77010000002"), ("77010000002", "+77010000002"),
                                         ("+7 (701) 000-00-02", "+77010000002"), ("0077010000002", "+77010000002"),
                                         ("12-34", None), ("+7 701 abc", None), ("+7701000000212345", None),
                                         ("", None), ("٧٧٠١٠٠٠٠٠٠٢", None)])
def test_phone_numbers_are_stored_as_e164(raw, stored):
    from bot.domain.phones import normalise

    assert normalise(raw) == stored


async def test_a_link_moves_what_the_person_did_in_an_archived_cycle_too(sim):
    """The archive refuses every change, but a link's: the second account's rows of a finished cycle
    pass to the member it joins, and /cycle new still archives after the link."""
    from tests.test_flows_cycles import evaluated, start_next_cycle

    c = await build_community(sim, 3, ("en",))
    olga = c.members[0]
    phone = await join_on_whatsapp(c)
    await phone.send("/propose Балалар алаңы жоқ")
    await evaluated(c)
    await c.facilitator.send("/close evaluation", c.group)
    await start_next_cycle(c)
    archived = await one(c, "SELECT archive_id FROM cycles WHERE community_id = 1 AND number = 1")
    author = await one(c, "SELECT created_by FROM problems WHERE community_id = ? AND text = ?", archived,
                       "Балалар алаңы жоқ")
    await olga.share_contact(SHARED)
    kept = await one(c, "SELECT member_id FROM identities WHERE external_id = ?", olga.id)
    assert author != kept and await one(c, "SELECT created_by FROM problems WHERE community_id = ? AND text = ?",
                                        archived, "Балалар алаңы жоқ") == kept
    with pytest.raises(sqlite3.IntegrityError):  # outside a link the archive stays as it was
        async with c.sim.engine.db.transaction() as tx:
            await tx.execute("UPDATE problems SET created_by = ? WHERE community_id = ?", (author, archived))
