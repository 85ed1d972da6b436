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
