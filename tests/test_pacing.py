"""One pacer per channel: a member's answer goes before a broadcast's next message, and no second
ever holds more sends than the channel's rate, even when the event loop was blocked a while."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.pacing import Busy, Pacer


async def test_an_answer_waits_one_slot_at_most_behind_a_broadcast_of_many():
    pacer = Pacer(10.0, lambda chat: 1.0)  # 10 a second: a slot every ~105 ms
    sent: list[tuple[str, float]] = []

    async def broadcast() -> None:
        for i in range(40):  # four seconds' worth
            await pacer.take(f"member{i}", urgent=False)
            sent.append((f"member{i}", time.monotonic()))

    drain = asyncio.create_task(broadcast())
    await asyncio.sleep(0.5)
    asked = time.monotonic()
    await pacer.take("voter", urgent=True)
    waited = time.monotonic() - asked
    sent.append(("voter", time.monotonic()))
    drain.cancel()
    assert waited < 0.15  # one slot at most, not the 35 broadcast messages still to go
    assert 3 <= len([s for s in sent if s[0] != "voter"]) <= 8  # the broadcast was running


async def test_no_second_holds_more_than_the_rate_even_after_the_loop_was_blocked():
    pacer = Pacer(30.0, lambda chat: 1.0)
    times: list[float] = []

    async def sender(i: int) -> None:
        await pacer.take(f"chat{i}", urgent=i % 5 == 0)
        times.append(time.monotonic())

    tasks = [asyncio.create_task(sender(i)) for i in range(90)]
    await asyncio.sleep(0.5)
    time.sleep(0.3)  # the event loop blocked (a long transaction, a chart): slots missed
    await asyncio.gather(*tasks)
    times.sort()
    most = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert most <= 28  # 0.95 of 30, whatever the loop did
    assert times[-1] - times[0] < 90 / 28.5 + 0.5  # and the missed slots were made up for


async def test_a_chat_waits_its_interval_whoever_sent_last_and_a_held_chat_defers_an_answer():
    pacer = Pacer(1000.0, lambda chat: 0.2 if chat.startswith("-") else 0.05)
    await pacer.take("-100", urgent=False)  # the outbox posts the digest to the group
    asked = time.monotonic()
    await pacer.take("-100", urgent=True)  # the live counts' edit right after: the group's interval
    assert time.monotonic() - asked >= 0.2
    pacer.hold("7", 30.0)  # a 429 for that chat: an answer is not kept waiting 30 s, it is queued
    with pytest.raises(Busy) as busy:
        await pacer.take("7", urgent=True)
    assert busy.value.seconds > 29


class Shifted:
    """The pacer's clock: real time, moved on by the test (a 429's hold passes in a moment)."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.shift


async def test_an_edit_answering_the_members_own_tap_takes_no_slot_while_a_broadcast_drains_others_do():
    clock = Shifted()
    pacer = Pacer(4.0, lambda chat: 3.0 if chat.startswith("-") else 1.0, clock=clock)  # a slot every ~263 ms
    drained: list[float] = []

    async def broadcast() -> None:
        for i in range(40):
            await pacer.take(f"member{i}", urgent=False)
            drained.append(time.monotonic())

    drain = asyncio.create_task(broadcast())
    try:
        while len(drained) < 6:  # past the first second's catch-up: a slot every ~263 ms
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)  # the broadcast just took a slot: the next is ~250 ms away
        asked = time.monotonic()
        for _ in range(5):  # a member answering five questions quickly, one edit after the other
            await pacer.take("voter", urgent=True, own=True)
        assert time.monotonic() - asked < 0.1  # neither the overall slot nor the chat's second
        assert pacer.own == 5
        asked = time.monotonic()
        await pacer.take("other", urgent=True)  # an edit nobody's tap in that chat asked for
        assert time.monotonic() - asked >= 0.15  # waits for the overall slot
        await pacer.take("-100", urgent=True)  # a group's counts
        assert time.monotonic() - asked >= 0.4  # and the one after it
        asked = time.monotonic()
        await pacer.take("voter", urgent=True)  # a new message to the member after their edits
        assert time.monotonic() - asked >= 0.8  # the chat's interval, which the own edits set
    finally:
        drain.cancel()
    times = drained + [time.monotonic()]
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 3  # the broadcast's cap held


async def test_an_edit_answering_the_members_own_tap_waits_out_a_429():
    clock = Shifted()
    pacer = Pacer(30.0, lambda chat: 1.0, clock=clock)
    pacer.hold("voter", 0.3)  # a 429 for that chat
    asked = time.monotonic()
    await pacer.take("voter", urgent=True, own=True)
    assert time.monotonic() - asked >= 0.29
    pacer.hold("voter", 30.0)  # held long: the edit goes to the outbox instead (Busy)
    with pytest.raises(Busy):
        await pacer.take("voter", urgent=True, own=True)
    clock.shift += 31.0  # the hold is over
    await asyncio.wait_for(pacer.take("voter", urgent=True, own=True), 0.05)
    pacer.hold("someone", 0.3, everywhere=True)  # a 429 for the whole channel holds own edits too
    asked = time.monotonic()
    await pacer.take("voter", urgent=True, own=True)
    assert time.monotonic() - asked >= 0.29
