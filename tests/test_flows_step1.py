"""Step 1 through the simulator: brainstorm, the three ballots, results, the choice."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest

from bot.flows.engine import Engine
from bot.flows.types import Event, Outcome
from bot.handlers.telegram import tme
from bot.sim import CHANNEL, Group, Person
from bot.storage import audit, ballots, problems
from bot.storage.db import Database
from tests.conftest import build_community, open_store

BOT = "qatysu_test_bot"  # the test engine's (tests/conftest.py), in Telegram's links


async def propose_all(c, texts):
    for member, text in zip(c.members * 10, texts):
        await member.send(f"/propose {text}")


TEXTS = ["Жол жөндеу керек, көктемде су басып қалады", "Балалар алаңы жоқ", "Мектеп автобусы кешігеді",
         "Ауыз су жиі өшіп қалады", "Көше шамдары жанбайды"]


async def group_ballot(c):
    return c.sim.messages(c.group.id)[-1]


def button_for(message, number):
    for row in message.buttons:
        for b in row:
            if b.text.startswith(f"{number} ·") or f" {number} ·" in b.text:
                return b.data
    raise LookupError(number)


async def db_stickers(c, ballot_id=1):
    async with c.sim.engine.db.transaction() as tx:
        return await ballots.all_stickers(tx, ballot_id)


# --- brainstorm ----------------------------------------------------------------------------
async def test_proposals_are_recorded_listed_and_validated(sim):
    c = await build_community(sim, 2, ("kk", "en"))
    await c.members[0].send("/propose")
    await c.members[0].send(TEXTS[0])
    assert "#1" in c.members[0].last().text
    await c.members[1].send(f"/propose {TEXTS[1]}", c.group)
    assert "#2" in sim.messages(c.group.id)[-1].text
    await c.members[1].send("/propose ab")
    assert "too short" in c.members[1].last().text
    await c.members[1].send("/propose " + "x" * 5000)
    assert "5000 characters" in c.members[1].last().text
    await c.members[1].send("/propose  балалар  алаңы ЖОҚ!")
    assert "already proposed as #2" in c.members[1].last().text
    await c.members[1].send("/propose <script>alert(1)</script> *bold*")
    await c.members[1].send("/problems")
    listing = c.members[1].last().text
    assert "&lt;script&gt;" in listing and "<script>" not in listing
    async with sim.engine.db.transaction() as tx:
        assert len(await problems.listed(tx, 1)) == 3


async def test_a_stranger_cannot_propose(sim):
    c = await build_community(sim, 0)
    stranger = sim.person("Stranger", "en")
    await onboard_stranger(stranger)
    await stranger.send(f"/propose {TEXTS[0]}", c.group)
    assert "Only members" in sim.messages(c.group.id)[-1].text


async def onboard_stranger(person):
    await person.send("/start")
    await person.press("English")
    await person.press_data("consent:yes")
    await person.press(person.name)


async def test_proposals_are_rate_limited(sim):
    """Five proposals in ten minutes, in the group and in private together; the sixth waits."""
    c = await build_community(sim, 2, ("en",))
    member, other = c.members
    for i in range(3):
        await member.send(f"/propose Problem number {i} in the village")
    for i in range(3, 5):
        await member.send(f"/propose Problem number {i} in the village", c.group)
        assert f"#{i + 1}" in sim.messages(c.group.id)[-1].text
    await member.send("/propose One more problem in the village", c.group)
    assert "proposed 5 problems" in sim.messages(c.group.id)[-1].text
    assert "Please wait" in sim.messages(c.group.id)[-1].text
    await member.send("/propose")
    await member.send("One more problem in the village")
    assert "Please wait" in member.last().text
    await member.send("/problems")
    assert "#5 Problem number 4" in member.last().text and "One more problem" not in member.last().text
    await other.send("/propose The bridge over the river is broken")  # the limit is per member
    assert "Recorded as #6" in other.last().text
    async with sim.engine.db.transaction() as tx:
        first = datetime.fromisoformat(await tx.scalar("SELECT MIN(created_at) FROM problems"))
    sim.engine.clock.now = first + timedelta(minutes=9, seconds=30)
    await member.send("/propose One more problem in the village")
    assert "Please wait" in member.last().text
    sim.engine.clock.now = first + timedelta(minutes=10, seconds=5)  # the first one is ten minutes old
    await member.send("/propose One more problem in the village")
    assert "Recorded as #7" in member.last().text
    async with sim.engine.db.transaction() as tx:
        assert [r[0] for r in await tx.all("SELECT number FROM problems ORDER BY number")] == [1, 2, 3, 4, 5, 6, 7]


async def test_merge_keeps_authors_and_votes_and_hide_refunds(sim):
    c = await build_community(sim, 3, ("en",))
    await propose_all(c, TEXTS[:4])
    await c.facilitator.send("/poll dots", c.group)
    ballot = await group_ballot(c)
    await c.members[0].press_data(button_for(ballot, 1), c.group)
    await c.members[0].press_data(button_for(ballot, 2), c.group)
    await c.members[1].press_data(button_for(ballot, 2), c.group)
    await c.members[2].press_data(button_for(ballot, 4), c.group)
    await c.facilitator.send("/merge 2 1")
    assert "merged with the same problem #1" in c.members[1].inbox()[-1].text
    stickers = await db_stickers(c)
    member_ids = sorted(stickers)
    # member 0 had #1 and #2: one sticker on #1 stays, the other returns; member 1's moves to #1
    assert [stickers[m] for m in member_ids[:2]] == [{1: 1}, {1: 1}]
    async with sim.engine.db.transaction() as tx:
        assert sorted(await problems.authors(tx, 1)) == sorted([member_ids[0], member_ids[1]])
    await c.facilitator.send("/hide 4")
    assert "hidden" in c.members[0].inbox()[-1].text  # #4 was member 0's
    assert member_ids[2] not in await db_stickers(c)
    outcome = await c.members[2].press_data(button_for(ballot, 4), c.group)
    assert "removed from the ballot" in outcome.toast.text
    outcome = await c.members[2].press_data(button_for(ballot, 2), c.group)
    assert "merged into #1" in outcome.toast.text


# --- sticker voting ------------------------------------------------------------------------
async def test_sticker_taps_place_remove_and_refuse_a_fourth(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS)
    await c.facilitator.send("/poll dots", c.group)
    ballot = await group_ballot(c)
    voter = c.members[0]
    toast = (await voter.press_data(button_for(ballot, 1), c.group)).toast.text
    assert toast == "Sticker placed on #1. 2 of 3 stickers left."
    await voter.press_data(button_for(ballot, 2), c.group)
    await voter.press_data(button_for(ballot, 3), c.group)
    refused = (await voter.press_data(button_for(ballot, 4), c.group)).toast.text
    assert "used all 3 stickers" in refused
    toast = (await voter.press_data(button_for(ballot, 2), c.group)).toast.text
    assert toast == "Sticker taken back from #2. 1 of 3 stickers left."
    assert list((await db_stickers(c)).values()) == [{1: 1, 3: 1}]
    live = (await group_ballot(c)).text
    assert "1. Жол жөндеу керек, көктемде су басып қалады — 1" in live and "Дауыс бергендер: 1." in live


async def test_taps_are_answered_in_the_members_language(sim):
    c = await build_community(sim, 1, ("ru",))
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/poll dots 2", c.group)
    toast = (await c.members[0].press_data(button_for(await group_ballot(c), 1), c.group)).toast.text
    assert toast == "Стикер поставлен на #1. Осталось 1 из 2 стикеров."


async def test_a_stranger_tap_counts_nothing_and_gets_a_join_link(sim):
    c = await build_community(sim, 1)
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/poll dots", c.group)
    stranger = sim.person("Stranger", "en")
    await onboard_stranger(stranger)
    outcome = await stranger.press_data(button_for(await group_ballot(c), 1), c.group)
    assert "Only members" in outcome.toast.text and tme(outcome.toast.link, BOT).endswith(f"start={c.code}")
    unknown = sim.person("Never seen", "en")
    outcome = await unknown.press_data(button_for(await group_ballot(c), 1), c.group)
    assert "private chat" in outcome.toast.text
    assert await db_stickers(c) == {}


@pytest.mark.parametrize("data", ["d:999:1", "d:1:999", "d:1", "d:x:y", "d:1:1:1", "d:-1:1", "d:1:" + "9" * 40])
async def test_forged_sticker_taps_are_refused(sim, data):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/poll dots", c.group)
    outcome = await c.members[0].press_data(data, c.group)
    assert "no longer works" in outcome.toast.text
    assert await db_stickers(c) == {}


async def test_forged_tap_on_another_communitys_problem_is_refused(sim):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:2])
    other = sim.person("Other", "en")
    await onboard_stranger(other)
    await other.send("/new")
    await other.send("Other village")
    await other.send("Somewhere")
    await other.send("/propose A problem of another village")
    await c.facilitator.send("/poll dots", c.group)
    outcome = await c.members[0].press_data("d:1:3", c.group)
    assert "no longer works" in outcome.toast.text


async def test_closed_ballot_refuses_taps_and_posts_the_result(sim):
    c = await build_community(sim, 3, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    ballot = await group_ballot(c)
    tap_on_1 = button_for(ballot, 1)
    for member in c.members:
        await member.press_data(button_for(ballot, 2), c.group)
    await c.members[0].press_data(button_for(ballot, 3), c.group)
    await c.members[1].send("/close", c.group)
    assert "Only the community's facilitator" in sim.messages(c.group.id)[-1].text
    await c.facilitator.send("/close", c.group)
    posted = sim.messages(c.group.id)
    result = next(m for m in reversed(posted) if m.image is not None)
    assert result.image.startswith(b"\x89PNG")
    assert "#2" in result.text and "4 жапсырманың 3" in result.text  # the group reads Kazakh
    assert "Тексеру коды:" in result.text
    assert ballot.buttons == () and "жабылды" in ballot.text  # the ballot message is frozen
    outcome = await c.members[2].press_data(tap_on_1, c.group)
    assert outcome.toast.text == "This ballot is closed. See the result with /results."


async def test_private_ballot_shows_own_marks_in_own_order(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS)
    await c.facilitator.send("/poll dots", c.group)
    await c.members[0].send("/vote")
    assert "1 vote is waiting for you." in c.members[0].last().text
    await c.members[0].press("Sticker voting")
    mine = c.members[0].last()
    first = mine.buttons[0][0]
    await c.members[0].press_data(first.data)
    assert c.members[0].last().buttons[0][0].text.startswith("✅")
    await c.members[1].send("/vote")
    await c.members[1].press("Sticker voting")
    orders = [[b.data for row in p.last().buttons for b in row] for p in c.members[:2]]
    assert sorted(orders[0]) == sorted(orders[1]) and orders[0] != orders[1]
    await c.members[0].send("/vote")
    assert "voted everywhere" in c.members[0].last().text


async def test_counts_hidden_until_close_when_asked(sim):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots closed", c.group)
    ballot = await group_ballot(c)
    await c.members[0].press_data(button_for(ballot, 1), c.group)
    text = (await group_ballot(c)).text
    assert "— 1" not in text and "after the vote closes" not in text  # the group reads Kazakh
    assert all("· 1" not in b.text for row in ballot.buttons for b in row)


async def test_paper_tallies_are_added_and_audited(sim):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    await c.members[0].press_data(button_for(await group_ballot(c), 1), c.group)
    await c.facilitator.send("/paper 5 2:4 3:" + "9" * 40)
    assert "/paper 12 3:10 5:4" in c.facilitator.last().text
    await c.facilitator.send("/paper 5 2:4 3:100")
    assert "ең көбі 15" in c.facilitator.last().text  # the facilitator reads Kazakh
    await c.facilitator.send("/paper 5 2:4 3:2")
    await c.facilitator.send("/close")
    result = next(m for m in reversed(sim.messages(c.group.id)) if m.image is not None)
    assert "#2" in result.text and "5" in result.text
    async with sim.engine.db.transaction() as tx:
        row = await tx.one("SELECT actor_id, detail FROM audit_log WHERE action = 'ballot.paper_entered'")
    assert row["actor_id"] == 1 and '"present":5' in row["detail"]


async def test_ballot_rules_cannot_change_once_open(sim):
    import sqlite3

    c = await build_community(sim, 0)
    await c.facilitator.send("/propose First problem here")
    await c.facilitator.send("/propose Second problem here")
    await c.facilitator.send("/poll dots 3", c.group)
    with pytest.raises(sqlite3.IntegrityError):
        async with sim.engine.db.transaction() as tx:
            await tx.execute("UPDATE ballots SET stickers = 10 WHERE id = 1")
    await c.facilitator.send("/poll dots 5", c.group)
    assert "ашық тұр" in sim.messages(c.group.id)[-1].text


# --- matrix and pairwise -------------------------------------------------------------------
async def test_matrix_ballot_in_private_chat(sim):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll matrix", c.group)
    invitation = await group_ballot(c)
    assert tme(invitation.buttons[0][0].link, BOT).endswith("start=b_1")
    member = c.members[0]
    await member.send("/start b_1")
    for _ in range(3):
        assert "important" in member.last().text
        await member.press_data(member.last().buttons[0][2].data)  # importance 3
        assert "urgent" in member.last().text
        await member.press_data(member.last().buttons[0][1].data)  # urgency 2
    assert "scored all 3 problems" in member.last().text
    async with sim.engine.db.transaction() as tx:
        scores = await ballots.all_scores(tx, 1)
    assert list(scores.values()) == [{1: (3, 2), 2: (3, 2), 3: (3, 2)}]
    outcome = await member.press_data("mx:1:1:b:3")  # urgency without importance first
    assert "importance first" in outcome.toast.text
    await c.facilitator.send("/close", c.group)
    result = next(m for m in reversed(sim.messages(c.group.id)) if m.image is not None)
    # equal scores everywhere: the tie is reported, never broken silently
    assert "бірінші орынды #1" in result.text and "#2" in result.text and "#3" in result.text


async def test_pairwise_all_pairs_then_result(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:4])
    await c.facilitator.send("/poll pairwise", c.group)
    for member in c.members:
        await member.send("/start b_1")
        for _ in range(6):
            assert "more pressing" in member.last().text
            # always prefer the lower number: #1 beats everything
            choices = [b for row in member.last().buttons for b in row]
            best = min(choices, key=lambda b: int(b.text.split("#")[1].split()[0]))
            await member.press_data(best.data)
        assert "compared all 6 pairs" in member.last().text
    await c.facilitator.send("/close", c.group)
    result = next(m for m in reversed(sim.messages(c.group.id)) if m.image is not None)
    assert "#1" in result.text and "таңдалды: 6, барлық салыстыру: 6." in result.text


async def test_pairwise_samples_when_there_are_many_problems(sim):
    c = await build_community(sim, 1, ("en",))
    texts = [f"Problem number {i} of the village" for i in range(12)]
    for i, text in enumerate(texts):
        await c.facilitator.send(f"/propose {text}")
        if i % 5 == 4:
            sim.engine.clock.advance(minutes=11)
    await c.facilitator.send("/poll pairwise", c.group)
    await c.members[0].send("/start b_1")
    assert "pair 1 of 24" in c.members[0].last().text


# --- the choice ----------------------------------------------------------------------------
async def test_combined_ranking_confirm_and_volunteers(sim):
    c = await build_community(sim, 3, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    for member in c.members:
        await member.press_data(button_for(await group_ballot(c), 3), c.group)
    await c.facilitator.send("/close", c.group)
    await c.facilitator.send("/poll pairwise", c.group)
    for member in c.members:
        await member.send("/start b_2")
        for _ in range(3):
            choices = [b for row in member.last().buttons for b in row]
            await member.press_data(max(choices, key=lambda b: int(b.text.split("#")[1].split()[0])).data)
    await c.facilitator.send("/close", c.group)
    combined = next(m for m in reversed(sim.messages(c.group.id)) if m.image is not None)
    assert "#3" in combined.text and any(b.data.startswith("ch:3:") for row in combined.buttons for b in row)
    outcome = await c.members[0].press_data("ch:3", c.group)
    assert "Only the community's facilitator" in outcome.toast.text
    await c.facilitator.press_data("ch:3", c.group)
    chosen = sim.messages(c.group.id)[-1]
    assert "#3" in chosen.text and chosen.buttons[0][0].data == "vol:1"
    author = c.members[2]  # proposed #3
    assert "was chosen" in author.inbox()[-1].text
    toast = (await c.members[0].press_data("vol:1", c.group)).toast.text
    assert "1 person will take part" in toast
    await c.members[1].press_data("vol:1", c.group)
    again = await c.members[1].press_data("vol:1", c.group)  # pressed again: still on the list, told how to leave
    assert again.toast.text == ("You are already on the list; 2 people will take part. To leave it, tap «I will not "
                                "take part».")
    assert chosen.buttons[1][0].text == "Қатыспаймын" and chosen.buttons[1][0].data == "vol:1:0"  # the group: kk
    assert (await c.members[1].press_data("vol:1:0", c.group)).toast.text == (
        "You are off the list. Tap «I will take part» to join again.")
    assert (await c.members[2].press_data("vol:1:0", c.group)).toast.text == "You are not on the list."
    await c.facilitator.send("/next", c.group)
    summary = sim.messages(c.group.id)[-1].text
    assert "#3" in summary and "Мүше 1" in summary and "Мүше 2" not in summary


async def press_at_once(c, person: Person, data: str, group: Group | None = None, n: int = 20,
                        **engine_options) -> list[Outcome]:
    """``n`` identical presses by one person at the same instant, as when a phone on a bad network
    sends a tap many times: each is its own update, handled by its own engine on its own database
    connection in its own thread, all let go at once. What they answer is delivered as usual."""
    instant = c.sim.engine.clock.now
    start = threading.Barrier(n)
    outcomes: list[Outcome | BaseException | None] = [None] * n

    def tap(i: int) -> None:
        async def handle() -> Outcome:
            async with open_store(c.sim.engine.db.path) as db:
                engine = Engine(db, bot_username=c.sim.engine.bot_username, clock=lambda: instant,
                                rng=random.Random(i), **engine_options)
                start.wait()
                return await engine.handle(Event(
                    channel=CHANNEL, user_id=person.id, update_id=f"burst-{data}-{i}", user_name=person.name,
                    user_lang=person.lang, chat_id=group.id if group else person.id, is_group=group is not None,
                    button=data))
        try:
            outcomes[i] = asyncio.run(handle())
        except BaseException as exc:  # noqa: BLE001 (reported below)
            outcomes[i] = exc

    threads = [threading.Thread(target=tap, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])
    failed = [o for o in outcomes if not isinstance(o, Outcome)]
    assert not failed, failed
    for outcome in outcomes:
        await c.sim.delivery.deliver_outcome(outcome)
    await c.sim.delivery.shown()
    await c.sim.outbox.drain()
    c.sim.engine.clock.advance(seconds=5)
    return outcomes


async def audited(sim, action: str) -> int:
    async with sim.engine.db.transaction() as tx:
        return await tx.scalar("SELECT COUNT(*) FROM audit_log WHERE action = ?", (action,))


async def offered_for_confirmation(sim):
    """A closed sticker vote: every member put a sticker on #2, proposed by the second member."""
    c = await build_community(sim, 3, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    for member in c.members:
        await member.press_data(button_for(await group_ballot(c), 2), c.group)
    await c.facilitator.send("/close", c.group)
    offer = next(m for m in reversed(sim.messages(c.group.id)) if m.buttons)
    confirm = offer.buttons[0][0].data
    assert confirm.startswith("ch:")
    return c, confirm


def confirmations(sim, c) -> list:
    return [m for m in sim.messages(c.group.id) if any(b.data.startswith("vol:") for row in m.buttons for b in row
                                                       if b.data)]


@pytest.mark.parametrize("guard", [pytest.param(True, id="as-configured"),
                                   pytest.param(False, id="without-the-double-tap-guard")])
async def test_twenty_simultaneous_confirm_presses_confirm_once(sim, guard):
    """The facilitator's "Confirm #2" pressed twenty times at once: one confirmation in the group,
    one notice to the author, one audit entry. Without the double-tap guard, the database's write
    lock still makes the presses one after another: the others hear it is already confirmed."""
    c, confirm = await offered_for_confirmation(sim)
    author = c.members[1]
    outcomes = await press_at_once(c, c.facilitator, confirm, c.group, **({} if guard else {"double_tap": 0.0}))
    posted = confirmations(sim, c)
    assert len(posted) == 1 and "#2" in posted[0].text, [m.text for m in posted]
    assert [m.text for m in author.inbox() if "was chosen" in m.text] == [
        "Your problem #2 «Балалар алаңы жоқ» was chosen by the community. Thank you!"]
    assert await audited(sim, "step1.chosen") == 1
    toasts = Counter(o.toast.text for o in outcomes if o.toast is not None)
    if guard:  # the repeats are one press: answered once
        assert sum(toasts.values()) == 1, toasts
    else:  # every press is answered: once "confirmed", nineteen times "already confirmed"
        assert sorted(toasts.values()) == [1, 19], toasts
    async with sim.engine.db.transaction() as tx:
        assert (await problems.chosen(tx, 1)).number == 2


async def test_twenty_simultaneous_take_part_taps_put_the_member_on_the_list_once(sim):
    """Twenty taps of "I will take part" at the same instant are one tap (the double-tap guard, kept
    in the database): on the list. A tap a moment later leaves them on it (it never takes anyone off)."""
    c, confirm = await offered_for_confirmation(sim)
    await c.facilitator.press_data(confirm, c.group)
    take_part = confirmations(sim, c)[-1].buttons[0][0].data
    member = c.members[0]
    outcomes = await press_at_once(c, member, take_part, c.group)
    toasts = [o.toast.text for o in outcomes if o.toast is not None]
    assert toasts == ["You are on the list. 1 person will take part."]
    assert sum(o.duplicate for o in outcomes) == 19
    async with sim.engine.db.transaction() as tx:
        assert await problems.volunteers(tx, 1) == [member.name]
    assert (await audited(sim, "step1.volunteered"), await audited(sim, "step1.unvolunteered")) == (1, 0)
    await c.facilitator.send("/next", c.group)
    assert f"(1): {member.name}." in sim.messages(c.group.id)[-1].text
    outcome = await member.press_data(take_part, c.group)  # a moment later: a tap of its own
    assert outcome.toast.text.startswith("You are already on the list; 1 person will take part.")
    async with sim.engine.db.transaction() as tx:
        assert await problems.volunteers(tx, 1) == [member.name]


async def test_counts_after_voting_are_shown_only_to_those_who_voted(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots voted", c.group)
    await c.members[0].send("/vote")
    await c.members[0].press("Sticker voting")
    def with_counts(message) -> bool:  # a button reads "N · text · count" when counts are shown
        return all(b.text.count(" · ") == 2 for row in message.buttons for b in row)

    before = c.members[0].last()
    assert not with_counts(before)
    await c.members[0].press_data(before.buttons[0][0].data)
    assert with_counts(c.members[0].last())          # once voted, the member sees the counts
    assert not with_counts(await group_ballot(c))    # the group does not
    await c.members[1].send("/vote")
    await c.members[1].press("Sticker voting")
    assert not with_counts(c.members[1].last())      # nor a member who has not voted


async def test_results_reposts_the_latest_result_and_the_combined_ranking(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.members[0].send("/results")
    assert "No vote has closed yet" in c.members[0].last().text
    await c.facilitator.send("/poll dots", c.group)
    for member in c.members:
        await member.press_data(button_for(await group_ballot(c), 2), c.group)
    await c.facilitator.send("/close", c.group)
    await c.members[0].send("/results")
    latest = c.members[0].last()
    assert latest.image is not None and "Sticker voting: #2" in latest.text and "Check code:" in latest.text
    await c.facilitator.send("/poll pairwise", c.group)
    await c.members[0].send("/start b_2")
    for _ in range(3):
        await c.members[0].press_data(c.members[0].last().buttons[0][0].data)
    await c.facilitator.send("/close", c.group)
    await c.members[1].send("/results")
    pairwise, combined = c.members[1].inbox()[-2:]
    assert "Pairwise ranking" in pairwise.text and pairwise.image is not None
    assert "Combined ranking" in combined.text and combined.image is not None


async def test_every_result_posted_to_the_group_ends_with_the_audit_head(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:3])
    results_posted = []

    async def act(person, text=None, data=None, expect=1):
        before = len(sim.messages(c.group.id))
        await (person.send(text, c.group) if text else person.press_data(data, c.group))
        async with sim.engine.db.transaction() as tx:
            head = (await audit.head(tx))[:8]
        new = [m for m in sim.messages(c.group.id)[before:] if m.image is not None or not text or "/next" in text]
        assert len(new) >= expect, [m.text for m in new]
        results_posted.extend((m, head) for m in new)
        return new

    await c.facilitator.send("/poll dots", c.group)
    for member in c.members:
        await member.press_data(button_for(await group_ballot(c), 2), c.group)
    await act(c.facilitator, "/close")                       # the sticker result, with its chart
    await c.facilitator.send("/poll pairwise", c.group)
    await c.members[0].send("/start b_2")
    for _ in range(3):
        await c.members[0].press_data(c.members[0].last().buttons[0][0].data)
    pairwise, combined = await act(c.facilitator, "/close", expect=2)   # pairwise + combined ranking
    chosen = await act(c.facilitator, data=combined.buttons[0][0].data)  # the problem confirmed
    await act(c.facilitator, "/next")                       # step 1's result, step 2 opens
    assert len(results_posted) == 5
    for message, head in results_posted:
        last_line = message.text.splitlines()[-1]
        assert re.fullmatch(rf"[^:]+: {head}\. .+", last_line), (last_line, head, message.text[:80])
    assert "Жиынтық рейтинг" in combined.text and "Тексеру коды" in chosen[0].text  # the community speaks Kazakh
