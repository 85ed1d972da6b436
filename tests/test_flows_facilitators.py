"""Several facilitators through the simulator: added by part of a name (members only), removed
(never the last), stepping down with a successor; each right works for each of them."""

from __future__ import annotations

from bot.storage import members
from bot.storage.db import Tx


async def roles(tx: Tx) -> dict[int, str]:
    return {r[0]: r[1] for r in await tx.all("SELECT member_id, role FROM memberships WHERE community_id = 1")}


async def facilitator_names(c) -> list[str]:
    async with c.sim.engine.db.transaction() as tx:
        return [name for _, name in await members.facilitators(tx, 1)]


async def test_a_member_added_by_part_of_the_name_is_told_and_can_close_a_ballot(community):
    c = community
    m1, m2, m3 = c.members  # kk, ru, en
    await c.facilitator.send("/propose Жол жөнделмеген")
    await c.facilitator.send("/propose Су жоқ")
    await c.facilitator.send("/facilitator add ше 3")
    assert c.facilitator.last().text == "Мүше 3 енді <b>Көктерек</b> қауымдастығының да фасилитаторы; оған хабарладым."
    assert m3.last().text.startswith("Айгерим made you a facilitator of <b>Көктерек</b>")
    assert await facilitator_names(c) == ["Айгерим", "Мүше 3"]
    await c.facilitator.send("/poll dots 3", c.group)
    await m3.send("/close", c.group)
    assert any(m.image is not None for m in c.sim.messages(c.group.id)[-2:])
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT status FROM ballots WHERE id = 1") == "closed"
        entries = {r[0]: r[1] for r in await tx.all("SELECT action, actor_id FROM audit_log")}
    assert entries["ballot.opened"] == 1 and entries["ballot.closed"] == 4 and entries["facilitator.added"] == 1


async def test_someone_outside_the_community_is_not_added(community):
    c = community
    stranger = c.sim.person("Бекзат", "kk")
    from tests.conftest import onboard

    await onboard(stranger)
    await c.facilitator.send("/facilitator add Бекзат")
    assert c.facilitator.last().text.startswith("<b>Көктерек</b> қауымдастығында аты «Бекзат»")
    assert await facilitator_names(c) == ["Айгерим"]
    await c.members[0].send("/facilitator add Мүше 1")  # a plain member cannot add anyone
    assert await facilitator_names(c) == ["Айгерим"]


async def test_the_last_facilitator_is_never_removed_and_names_a_successor_to_leave(community):
    c = community
    m1, m2, m3 = c.members
    await c.facilitator.send("/facilitator leave")
    assert c.facilitator.last().text.startswith("Қауымдастықтың әрқашан фасилитаторы болады")
    await c.facilitator.send("/facilitator remove Айгерим")
    assert c.facilitator.last().text.startswith("Қауымдастықтың әрқашан фасилитаторы болады")
    assert await facilitator_names(c) == ["Айгерим"]
    await c.facilitator.send("/facilitator leave Мүше")  # three match: a button each
    buttons = [b.data for row in c.facilitator.last().buttons for b in row]
    assert len(buttons) == 3 and all(d.startswith("fc:1:to:") for d in buttons)
    await c.facilitator.press("Мүше 2")
    assert c.facilitator.last().text.startswith("Сіз енді <b>Көктерек</b> қауымдастығының фасилитаторы емессіз")
    assert m2.last().text.startswith("Айгерим добавляет вас в фасилитаторы <b>Көктерек</b>")
    assert await facilitator_names(c) == ["Мүше 2"]
    async with c.sim.engine.db.transaction() as tx:
        assert (await roles(tx))[1] == "member"  # Aigerim stays a member
        assert [r[0] for r in await tx.all("SELECT action FROM audit_log WHERE action LIKE 'facilitator.%'"
                                           " ORDER BY id")] == ["facilitator.added", "facilitator.left"]
    # Мүше 2 removes nobody else: they are alone now; Aigerim, a member, can no longer act
    await c.facilitator.send("/facilitator add Айгерим")
    assert await facilitator_names(c) == ["Мүше 2"]


async def test_a_facilitator_removes_another_who_is_told(community):
    c = community
    m1, m2, m3 = c.members
    await c.facilitator.send("/facilitator add Мүше 1")
    await m1.send("/facilitator remove Айгерим")
    assert m1.last().text == "Айгерим енді <b>Көктерек</b> қауымдастығының фасилитаторы емес; оған хабарладым."
    assert c.facilitator.last().text.startswith("Мүше 1 сізден <b>Көктерек</b> қауымдастығының фасилитатор")
    assert await facilitator_names(c) == ["Мүше 1"]
    await m1.send("/facilitator remove Мүше 1")  # themselves, the last one
    assert await facilitator_names(c) == ["Мүше 1"]


async def test_the_database_keeps_a_facilitator(community):
    import sqlite3

    import pytest

    async with community.sim.engine.db.transaction() as tx:
        with pytest.raises(sqlite3.IntegrityError, match="keeps at least one facilitator"):
            await tx.execute("UPDATE memberships SET role = 'member' WHERE community_id = 1 AND member_id = 1")
