"""A member's own view is coalesced: taps that come faster than their chat may be redrawn (an
edit in flight there, or the chat's interval on a channel without edits) give one up-to-date view
(an edit on Telegram, one fresh message on WhatsApp), never a redraw per tap, while every tap is
acknowledged at once. The edit answering a member's own tap takes no slot of the channel's
overall rate; an edit nobody's tap in that chat asked for does."""

from __future__ import annotations

import asyncio
import time

from bot.delivery import Delivery
from bot.flows.types import Event, Message
from bot.sim import CHANNEL
from bot.storage import outbox
from tests.conftest import build_community
from tests.test_flows_step1 import TEXTS, db_stickers, propose_all


async def quick_taps(sim, person, data: list[str]) -> list:
    """Taps handled one after another as fast as the bot can, none waiting for a view."""
    outcomes = []
    for i, button in enumerate(data):
        outcome = await sim.engine.handle(Event(
            channel=CHANNEL, user_id=person.id, update_id=f"quick-{person.id}-{len(sim.sender.log)}-{i}",
            user_name=person.name, user_lang=person.lang, chat_id=person.id, button=button))
        outcomes.append(outcome)
        await sim.delivery.deliver_outcome(outcome)
    return outcomes


def edits_in(sim, chat: str) -> list[str]:
    return [shown.text for to, shown, edited in sim.sender.log if to == chat and edited]


def slow_edits(sim, chat: str, seconds: float) -> list[tuple[float, float]]:
    """Every edit in ``chat`` takes ``seconds`` to be answered (a round trip to Telegram); returns,
    per edit, when its request left and when it was answered."""
    flights: list[tuple[float, float]] = []
    edit = sim.sender.edit

    async def slow(message, message_id) -> None:
        if message.chat_id != chat:
            return await edit(message, message_id)
        left = time.monotonic()
        await asyncio.sleep(seconds)
        await edit(message, message_id)
        flights.append((left, time.monotonic()))

    sim.sender.edit = slow
    return flights


async def test_quick_taps_in_a_private_chat_give_one_up_to_date_edit_and_a_toast_each(sim):
    """The edit answering a member's own tap waits for neither the chat's interval nor an overall
    slot (bot/pacing.py), only for the chat's edit in flight: taps while it flies are one redraw."""
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS[:4])
    member = c.members[0]
    await c.facilitator.send("/poll dots 3", c.group)
    await member.send("/start b_1")
    view = sim.messages(member.id)[-1]
    taps = [b.data for row in view.buttons for b in row if b.data and b.data.startswith("d:")][:3]
    assert len(taps) == 3, view.buttons
    sim.delivery.pacer(CHANNEL).interval = lambda chat: 3.0 if chat == member.id else 0.0  # a chat's interval
    flights = slow_edits(sim, member.id, 1.0)

    started = time.monotonic()
    first = await quick_taps(sim, member, taps[:1])
    await asyncio.sleep(0.1)  # its edit is in flight
    assert len(edits_in(sim, member.id)) == 0 and sim.delivery._views
    rest = await quick_taps(sim, member, [taps[1], taps[2], taps[1], taps[1]])  # while it flies
    assert all(o.toast is not None for o in first + rest)  # every tap acknowledged, none waiting for a redraw
    assert [o.toast.text.split(" on ")[0].split(" from ")[0] for o in rest] == [
        "Sticker placed", "Sticker placed", "Sticker taken back", "Sticker placed"]
    assert time.monotonic() - started < 0.9  # handled without waiting for the edit in flight
    await sim.delivery.shown()
    edits = edits_in(sim, member.id)
    assert len(edits) == 2, edits  # the four quick taps: one redraw, not four
    assert flights[1][0] >= flights[0][1]  # one edit in flight in the chat: the next left once it was answered
    assert flights[1][0] - flights[0][0] < 2.5  # the chat's 3 s interval is not waited for
    assert edits[-1] == rest[-1].messages[-1].text != rest[0].messages[-1].text  # the newest state
    assert sim.messages(member.id)[-1].text == edits[-1]
    assert [sorted(s) for s in (await db_stickers(c)).values()] == [sorted({int(t.split(":")[2]) for t in taps})]


class Recorder:
    """A channel without edits (WhatsApp): every view goes as a fresh message."""

    rate = 80.0

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, str]] = []

    def min_interval(self, chat_id: str) -> float:
        return 0.5

    async def send(self, message: Message, image: bytes | None) -> str | None:
        self.sent.append((time.monotonic(), message.chat_id, message.text))
        return str(len(self.sent))

    async def edit(self, message: Message, message_id: str) -> None:
        raise AssertionError("this channel does not edit")


async def test_on_a_channel_without_edits_quick_views_give_one_fresh_message_with_the_newest_state_in_order(db):
    wa = Recorder()
    delivery = Delivery(db, {"whatsapp": wa})
    await delivery.deliver([Message("whatsapp", "1", "your stickers: none", tag="b1")])  # the chat's slot taken
    for n in range(1, 6):  # five taps' views while the chat waits for its next slot
        await delivery.deliver([Message("whatsapp", "1", f"your stickers: {n}", tag="b1")], wait=False)
        await delivery.deliver([Message("whatsapp", "2", f"other member: {n}", tag="b1")], wait=False)
    await delivery.deliver([Message("whatsapp", "1", "an older drawing", tag="b1", drawn_at=1.0)], wait=False)
    await delivery.deliver([Message("whatsapp", "1", "a note after the views")], wait=False)  # waits for them
    await delivery.shown()
    to_1 = [text for _, chat, text in wa.sent if chat == "1"]
    assert to_1 == ["your stickers: none", "your stickers: 5", "a note after the views"]
    assert [text for _, chat, text in wa.sent if chat == "2"] == ["other member: 5"]  # never an older one
    times = [at for at, chat, _ in wa.sent if chat == "1"]
    assert all(b - a >= 0.5 for a, b in zip(times, times[1:]))  # the chat's interval kept
    assert not delivery._views


async def test_a_stop_that_cannot_wait_drops_the_views_still_waiting(db):
    wa = Recorder()
    delivery = Delivery(db, {"whatsapp": wa})
    await delivery.deliver([Message("whatsapp", "1", "first", tag="b1")])
    await delivery.deliver([Message("whatsapp", "1", "second", tag="b1")], wait=False)
    await asyncio.wait_for(delivery.cancel(), 1.0)
    assert [text for _, _, text in wa.sent] == ["first"] and not delivery._views


class Editor(Recorder):
    """Telegram's way: a view is edited in place; 4 messages a second overall, 1 s in a chat."""

    rate = 4.0

    def min_interval(self, chat_id: str) -> float:
        return 1.0

    async def edit(self, message: Message, message_id: str) -> None:
        self.sent.append((time.monotonic(), message.chat_id, message.text))


async def test_a_members_own_tap_is_answered_at_once_while_a_digest_drains_other_edits_wait_their_slots(db):
    tg = Editor()
    delivery = Delivery(db, {"telegram": tg})
    tapped = ("telegram", "7")
    await delivery.deliver([Message("telegram", "7", "question 1", tag="b1"),
                            Message("telegram", "8", "question 1", tag="b1"),
                            Message("telegram", "-100", "counts: 0", tag="b1")])
    digest = [f"digest {i}" for i in range(40)]

    async def drain() -> None:  # the outbox's way: each in the overall slot interactive sends leave
        for i, text in enumerate(digest):
            await delivery.send_one(tg, Message("telegram", str(1000 + i), text))

    draining = asyncio.create_task(drain())
    try:
        while sum(1 for _, _, text in tg.sent if text.startswith("digest")) < 6:
            await asyncio.sleep(0.005)
        waits = []
        for n in range(2, 7):  # five answers in a row, each edit answering the member's own tap
            asked = time.monotonic()
            await delivery.deliver([Message("telegram", "7", f"question {n}", tag="b1", edit=True)], tapped=tapped)
            waits.append(time.monotonic() - asked)
        assert max(waits) < 0.2, waits  # no overall slot, no chat's second: at once, one after the other
        asked = time.monotonic()
        await delivery.deliver([Message("telegram", "7", "the ballot closed", tag="b1", edit=True)])  # no tap of theirs
        assert time.monotonic() - asked >= 0.9  # the chat's second since its last edit, and a slot
        await delivery.deliver([Message("telegram", "8", "question 2", tag="b1", edit=True),  # someone else's view
                                Message("telegram", "-100", "counts: 5", tag="b1", edit=True)],  # the group's
                               tapped=tapped)
    finally:
        draining.cancel()
    assert [text for _, chat, text in tg.sent if chat == "7"] == [
        "question 1", *(f"question {n}" for n in range(2, 7)), "the ballot closed"]
    assert [text for _, chat, text in tg.sent if chat in ("8", "-100")] == [
        "question 1", "counts: 0", "question 2", "counts: 5"]
    counted = sorted(at for at, chat, text in tg.sent if not (chat == "7" and text.startswith("question")))
    assert max(sum(1 for t in counted if s <= t < s + 1.0) for s in counted) <= 3  # the overall cap held
    pacer = delivery.pacer("telegram")
    assert (pacer.own, pacer.taken) == (5, len(tg.sent) - 5)  # every other send and edit took its slot


async def test_an_edit_answering_the_members_own_tap_waits_out_a_429_and_goes_to_the_outbox_when_long(db):
    tg = Editor()
    delivery = Delivery(db, {"telegram": tg})
    tapped = ("telegram", "7")
    await delivery.deliver([Message("telegram", "7", "question 1", tag="b1")])
    delivery.pacer("telegram").hold("7", 0.5)  # Telegram answered 429, retry_after
    asked = time.monotonic()
    await delivery.deliver([Message("telegram", "7", "question 2", tag="b1", edit=True)], tapped=tapped)
    assert time.monotonic() - asked >= 0.45
    delivery.pacer("telegram").hold("7", 30.0)
    await delivery.deliver([Message("telegram", "7", "question 3", tag="b1", edit=True)], tapped=tapped)
    assert [text for _, _, text in tg.sent] == ["question 1", "question 2"]  # not sent into the hold
    async with db.transaction() as tx:
        assert await outbox.size(tx) == 1  # the outbox sends it once the hold is over
