"""Redraws are asked for as ``View``s, from the flows through storage to delivery, and stored as
versioned JSON; a key stored by the version before ("b:12") still reads as its view and redraws."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from bot.flows.types import Event, Outcome, View
from bot.messages import SCHEMA
from bot.scheduler import Scheduler
from bot.storage import ballots, members, redraws
from tests.conftest import build_community

names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":{"), min_size=1, max_size=8)
ids = st.integers(min_value=0, max_value=2**53) | st.text(max_size=12).filter(
    lambda s: not (s.isascii() and s.isdigit()))


@settings(max_examples=200, deadline=None)
@given(name=names, id=ids)
def test_a_view_reads_back_as_written_in_its_json_and_in_a_kept_answer(name, id):
    view = View(name, id)
    stored = json.loads(view.to_json())
    assert stored == {"v": SCHEMA, "name": name, "id": id}
    assert View.from_json(view.to_json()) == view
    assert Outcome.from_json(Outcome(refresh={view}).to_json()).refresh == {view}


def test_keys_stored_before_read_as_their_views():
    assert View.from_json("b:12") == View("b", 12)
    assert View.from_json("ballot:7") == View("ballot", 7)
    kept = Outcome.from_json(json.dumps({"v": 1, "messages": [], "refresh": ["b:3", "plan:2"]}))
    assert kept.refresh == {View("b", 3), View("plan", 2)}
    # a newer version's row: its fields this version does not know are ignored
    assert View.from_json(json.dumps({"v": SCHEMA + 1, "name": "b", "id": 4, "priority": 1})) == View("b", 4)


async def test_a_vote_asks_for_the_ballots_view_and_storage_keeps_it_as_json(sim):
    c = await build_community(sim, 2, ("en", "kk"))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    ballot = sim.messages(c.group.id)[-1]
    voter = c.members[0]
    outcome = await sim.engine.handle(Event(voter.channel, voter.id, c.group.id, is_group=True, update_id="u1",
                                            user_lang="en", button=ballot.buttons[0][0].data))
    assert outcome.toast is not None and outcome.toast.text.startswith("Sticker placed"), outcome
    assert outcome.refresh == {View("b", 1)}  # not drawn yet: delivery has not had it
    async with sim.engine.db.transaction() as tx:
        assert [r[0] for r in await tx.all("SELECT view FROM pending_redraws")] == [View("b", 1).to_json()]
        await redraws.drawing(tx, View("b", 1))
        assert await redraws.pending(tx) == []


async def test_a_redraw_key_stored_before_the_upgrade_still_redraws_at_start(sim):
    """A vote committed by the version before, whose redraw a crash cut off: its key "b:1" is
    still in the table. The new version draws the group's counts at start and forgets the key."""
    c = await build_community(sim, 2, ("en", "kk"))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    before = sim.messages(c.group.id)[-1]
    counts = lambda shown: [b.text.rsplit(" · ", 1)[-1] for row in shown.buttons for b in row][:2]  # noqa: E731
    assert counts(before) == ["0", "0"]
    async with sim.engine.db.transaction() as tx:  # the vote, and the key as the version before wrote it
        member = await members.by_identity(tx, c.members[0].channel, c.members[0].id)
        await ballots.set_stickers(tx, 1, member.id, 1, 1)
        await tx.execute("INSERT INTO pending_redraws (view) VALUES ('b:1')")
    sim.delivery._shown.clear()  # a new process knows nothing of what the group shows
    scheduler = Scheduler(sim.engine, sim.delivery)
    await scheduler.start()
    await scheduler._at_start
    await scheduler.stop()
    await sim.delivery.shown()
    assert sorted(counts(sim.messages(c.group.id)[-1])) == ["0", "1"]  # the sticker is counted
    async with sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM pending_redraws") == 0


async def test_drawing_a_view_forgets_its_rows_of_every_form(sim):
    async with sim.engine.db.transaction() as tx:
        newer = json.dumps({"v": SCHEMA + 1, "id": 5, "name": "b", "priority": 1})
        await tx.executemany("INSERT INTO pending_redraws (view) VALUES (?)",
                             [("b:5",), (newer,), (View("b", 5).to_json(),), ("b:6",), ("{not json",)])
        assert await redraws.pending(tx) == [View("b", 5), View("b", 6)]  # each once; the broken row left out
        await redraws.drawing(tx, View("b", 5))
        assert {r[0] for r in await tx.all("SELECT view FROM pending_redraws")} == {"b:6", "{not json"}
