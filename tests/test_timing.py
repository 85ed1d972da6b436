"""Timed behaviour: coalesced group edits and closing a ballot at its closing time."""

from __future__ import annotations

import asyncio

from bot.delivery import EditThrottle
from bot.flows.types import Event, View
from bot.scheduler import Scheduler
from bot.storage import ballots, redraws
from tests.conftest import build_community


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_edits_of_one_message_are_coalesced_latest_wins():
    clock = FakeTime()
    throttle = EditThrottle(interval=3.0, clock=clock)
    done: list[int] = []

    def edit(n):
        async def run():
            done.append(n)
        return run

    await throttle.submit(("t", "-1", "5"), edit(1))  # first edit goes at once
    for n in range(2, 50):                             # a burst of taps within the interval
        await throttle.submit(("t", "-1", "5"), edit(n))
    assert done == [1]
    clock.now += 3.0
    await throttle.flush()
    assert done == [1, 49]                             # one more edit, with the latest content
    await throttle.submit(("t", "-2", "7"), edit(100))  # another message is not held back
    assert done == [1, 49, 100]


async def test_a_ballot_closes_at_its_closing_time_and_posts_the_result(sim, clock):
    c = await build_community(sim, 1, ("en",))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots 30m", c.group)
    ballot = sim.messages(c.group.id)[-1]
    assert "10:30" in ballot.text  # the closing time, in Asia/Almaty
    await c.members[0].press_data(ballot.buttons[0][0].data, c.group)
    scheduler = Scheduler(sim.engine, sim.delivery)
    await scheduler.sweep()
    async with sim.engine.db.transaction() as tx:
        assert (await ballots.get(tx, 1)).is_open
    clock.advance(minutes=31)
    await scheduler.sweep()
    await sim.outbox.drain()
    async with sim.engine.db.transaction() as tx:
        assert not (await ballots.get(tx, 1)).is_open
    assert any(m.image for m in sim.messages(c.group.id))
    await scheduler.sweep()  # nothing twice
    await sim.outbox.drain()
    assert sum(1 for m in sim.messages(c.group.id) if m.image) == 1


async def test_the_scheduler_runs_its_sweep_periodically(sim, clock):
    calls = []

    async def sweep():
        calls.append(1)

    scheduler = Scheduler(sim.engine, sim.delivery, interval=0.05)
    scheduler.sweep = sweep
    await scheduler.start()
    await asyncio.sleep(0.3)
    await scheduler.stop()
    assert len(calls) >= 3


async def test_a_request_during_a_slow_redraw_gets_its_own_and_flush_waits_for_it():
    throttle = EditThrottle(interval=0.05)
    done: list[int] = []

    def edit(n, slow=0.0):
        async def run():
            await asyncio.sleep(slow)
            done.append(n)
        return run

    await throttle.submit("b:1", edit(1))          # at once
    await throttle.submit("b:1", edit(2, slow=0.2))  # delayed; slow to run
    await asyncio.sleep(0.1)                       # now inside edit 2
    await throttle.submit("b:1", edit(3))          # arrives during it
    await throttle.flush()
    assert done == [1, 2, 3]                       # the last state is drawn, and flush saw it


async def test_the_sweep_forgets_old_update_ids_and_taps_but_keeps_recent_ones(sim, clock):
    from datetime import timedelta

    from bot.storage import updates

    now = clock.now
    async with sim.engine.db.transaction() as tx:
        await updates.claim(tx, "telegram", "old", (now - timedelta(days=40)).isoformat(timespec="seconds"))
        await updates.claim(tx, "telegram", "new", (now - timedelta(days=1)).isoformat(timespec="seconds"))
        await updates.claim_tap(tx, "telegram", "1", "d:1:1", (now - timedelta(hours=2)).timestamp(), 1.0)
        await updates.claim_tap(tx, "telegram", "1", "d:1:2", now.timestamp(), 1.0)
    await Scheduler(sim.engine, sim.delivery).sweep()
    async with sim.engine.db.transaction() as tx:
        ids = {r[0] for r in await tx.all("SELECT update_id FROM processed_updates WHERE channel = 'telegram'")}
        taps = {r[0] for r in await tx.all("SELECT data FROM recent_taps")}
    assert ids == {"new"} and taps == {"d:1:2"}


async def test_a_redraw_that_changes_nothing_sends_no_edit(sim):
    c = await build_community(sim, 2, ("en", "kk"))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    ballot = sim.messages(c.group.id)[-1]
    edits = lambda: sum(1 for chat, _, edited in sim.sender.log if chat == c.group.id and edited)  # noqa: E731
    await c.members[0].press_data(ballot.buttons[0][0].data, c.group)
    assert edits() == 1 and "1" in sim.messages(c.group.id)[-1].buttons[0][0].text
    await sim.delivery._redraw(View("b", 1))  # nothing changed since: Telegram would refuse the edit
    assert edits() == 1
    await c.members[1].press_data(ballot.buttons[0][0].data, c.group)
    assert edits() == 2


async def test_the_redraws_a_crash_cut_off_are_drawn_at_start_despite_one_that_fails(sim, monkeypatch):
    """At start the views still waiting for a redraw are drawn: one whose refresher fails is
    logged and left for later, one of a kind no longer known is forgotten, and the rest are
    drawn all the same."""
    from bot.flows import registry

    c = await build_community(sim, 2, ("en", "kk"))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    edits = lambda: sum(1 for chat, _, edited in sim.sender.log if chat == c.group.id and edited)  # noqa: E731

    async def broken(ctx, arg):
        raise RuntimeError("cannot draw")

    monkeypatch.setitem(registry.REFRESHERS, "aa", broken)  # sorted before "b": drawn first
    member = c.members[0]
    ballot = sim.messages(c.group.id)[-1]
    await sim.engine.handle(Event(channel=member.channel, user_id=member.id, update_id="cut-off", user_lang="en",
                                  user_name=member.name, chat_id=c.group.id, is_group=True,
                                  button=ballot.buttons[0][0].data))  # a vote whose redraw a crash cut off
    async with sim.engine.db.transaction() as tx:  # keys as stored before views were JSON
        await tx.executemany("INSERT INTO pending_redraws (view) VALUES (?)", [("aa:1",), ("b:1",), ("zz:9",)])
    sim.delivery._shown.clear()  # a new process knows nothing of what the group shows
    scheduler = Scheduler(sim.engine, sim.delivery)
    await scheduler.start()
    await scheduler._at_start
    await scheduler.stop()
    assert edits() == 1 and "1" in sim.messages(c.group.id)[-1].buttons[0][0].text  # the ballot's counts, redrawn
    async with sim.engine.db.transaction() as tx:
        assert await redraws.pending(tx) == [View("aa", 1)]
        assert {r[0] for r in await tx.all("SELECT view FROM pending_redraws")} <= {"aa:1", View("aa", 1).to_json()}


class SlowSender:
    """Telegram applies edits as they arrive; the answers may come back in another order."""

    rate = 30.0

    def __init__(self) -> None:
        self.screen: dict[str, str] = {}
        self.delays: list[float] = []

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message, image):
        return "7"

    async def edit(self, message, message_id: str) -> None:
        self.screen[message_id] = message.text  # shown now
        await asyncio.sleep(self.delays.pop(0))  # the answer takes this long


async def test_two_edits_of_one_message_at_once_leave_the_screen_and_memory_agreeing(db):
    from bot.delivery import Delivery
    from bot.flows.types import Message
    from bot.storage import updates

    sender = SlowSender()
    delivery = Delivery(db, {"t": sender})
    await db.atomic(lambda tx: updates.remember_message(tx, "t", "1", "v:1", "7"))
    view = lambda text: Message("t", "1", text, (), tag="v:1", edit=True)  # noqa: E731
    sender.delays = [0.05, 0.0]
    await asyncio.gather(delivery.send_one(sender, view("A")), delivery.send_one(sender, view("B")))
    assert sender.screen["7"] == "B"
    sender.delays = [0.0]
    await delivery.send_one(sender, view("A"))  # back to A: must be drawn, not skipped
    assert sender.screen["7"] == "A"


async def test_an_edit_drawn_before_the_one_shown_is_not_sent_even_after_a_restart(db):
    """A newer view of a member's ballot was shown; an older drawing of it still waited in the
    outbox (or came back with a replayed update's answer) when the bot restarted. The restarted
    bot, which remembers nothing in memory, must not draw the old view over the new one."""
    from bot.delivery import Delivery
    from bot.flows.types import Message

    sender = SlowSender()
    sender.delays = [0.0, 0.0, 0.0]
    view = lambda text, at: Message("t", "1", text, (), tag="v:1", edit=True, drawn_at=at)  # noqa: E731
    before = Delivery(db, {"t": sender})
    await before.deliver([Message("t", "1", "first pair", (), tag="v:1", drawn_at=1.0)])
    await before.deliver([view("third pair", 3.0)])
    restarted = Delivery(db, {"t": sender})
    await restarted.deliver([view("second pair", 2.0)])
    assert sender.screen["7"] == "third pair"
    await restarted.deliver([view("fourth pair", 4.0)])
    assert sender.screen["7"] == "fourth pair"
