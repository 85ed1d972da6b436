"""The next cycle through the simulator: after the evaluation the finished cycle is archived,
read-only, and the community starts again at step 1 with the problems it did not choose."""

from __future__ import annotations

import io
import sqlite3

import pytest
from pypdf import PdfReader

from bot.storage import ballots, cycles, problems
from tests.test_flows_step7 import answer


async def evaluated(c, change: str = "Start earlier in spring"):
    """The community chose #2 of three problems, went to step 7 and its evaluation is open."""
    for text in ("Жол жөнделмеген", "Су жоқ", "Жарық жоқ"):
        await c.facilitator.send(f"/propose {text}")
    await c.facilitator.send("/choose 2")
    for _ in range(6):
        await c.facilitator.send("/next")
    await c.facilitator.send("/poll evaluation", c.group)
    await answer(c.members[2], 0, 5, 0, "Everyone came", change)
    await answer(c.members[0], 1, 3, 1)


async def start_next_cycle(c):
    await c.facilitator.send("/cycle new")
    await c.facilitator.press_data(next(b.data for row in c.facilitator.last().buttons for b in row))


async def test_the_next_cycle_starts_at_step_1_with_the_unchosen_problems(community):
    c = community
    await evaluated(c)
    async with c.sim.engine.db.transaction() as tx:  # the cycle's ҚМҰТ (a member elected to it)
        elected = await tx.scalar("SELECT member_id FROM memberships WHERE community_id = 1 AND role = 'member'"
                                  " ORDER BY member_id LIMIT 1")
        await tx.execute("UPDATE memberships SET kmut = 1 WHERE community_id = 1 AND member_id = ?", (elected,))
    await c.facilitator.send("/cycle new")
    assert c.facilitator.last().text.startswith("Алдымен ашық дауыс беруді жабыңыз (Бағалау)")
    await c.facilitator.send("/close evaluation", c.group)
    await c.facilitator.send("/cycle new")
    assert "2 мәселемен" in c.facilitator.last().text
    await c.facilitator.press_data("cy:1:1")
    texts = [m.text for m in c.facilitator.inbox()[-2:]]
    assert texts[0].startswith("1-цикл аяқталып, мұрағатқа салынды.")
    assert texts[1] == "Өткен бағалауда мүшелер не өзгерту керек деп жазды (аты-жөнсіз):\n• Start earlier in spring"
    group_post = c.sim.messages(c.group.id)[-1].text
    assert group_post.startswith("1-цикл аяқталып, мұрағатқа салынды. 2-цикл басталады.")
    await c.members[1].send("/problems")
    listing = c.members[1].last().text.splitlines()
    assert listing[1:] == ["#1 Жол жөнделмеген — из прошлого цикла", "#2 Жарық жоқ — из прошлого цикла"]
    async with c.sim.engine.db.transaction() as tx:
        assert (await tx.one("SELECT step FROM communities WHERE id = 1"))[0] == 1
        assert await tx.scalar("SELECT kmut FROM memberships WHERE community_id = 1 AND member_id = ?",
                               (elected,)) == 1  # the ҚМҰТ stays until it is elected anew
        assert await ballots.of_community(tx, 1) == []  # no votes carried
        assert await problems.chosen(tx, 1) is None
        old = await cycles.archived(tx, 1, 1)
        assert old is not None and old.step == 7 and old.name == "Көктерек"
        assert [p.text for p in await problems.listed(tx, old.id)] == ["Жол жөнделмеген", "Су жоқ", "Жарық жоқ"]
        assert (await problems.chosen(tx, old.id)).text == "Су жоқ"
        assert [b.kind for b in await ballots.of_community(tx, old.id)] == ["evaluation"]
        assert await cycles.archived(tx, 1, 2) is None  # the current cycle is not archived
    await c.facilitator.send("/status")
    status = c.facilitator.last().text
    assert "▶️ 2-цикл:" in status and "✅ 1-цикл:" in status and "«Су жоқ»" in status
    # the new cycle works: a problem proposed again gets the next number, a ballot opens
    await c.members[0].send("/propose Мектеп алыс")
    assert c.members[0].last().text.startswith("#3 болып жазылды")
    await c.facilitator.send("/poll dots 3", c.group)
    async with c.sim.engine.db.transaction() as tx:
        assert [b.id for b in await ballots.of_community(tx, 1, "open")] == [2]


async def test_nothing_of_an_archived_cycle_can_change(community):
    c = community
    await evaluated(c)
    await c.facilitator.send("/close evaluation", c.group)
    await start_next_cycle(c)
    db = c.sim.engine.db
    for sql in ("UPDATE problems SET text = 'x' WHERE id = 1",
                "DELETE FROM problems WHERE id = 3",
                "UPDATE ballots SET check_code = 'x' WHERE id = 1",
                "INSERT INTO problems (community_id, number, text, norm, created_at) VALUES (2, 9, 'x', 'x', '')",
                "UPDATE problems SET community_id = 1 WHERE id = 1",
                "DELETE FROM step1_choices",
                "UPDATE communities SET step = 1 WHERE id = 2",
                "UPDATE cycles SET ended_at = NULL WHERE number = 1",
                "INSERT INTO memberships (community_id, member_id, role, joined_at) VALUES (2, 2, 'member', '')",
                "UPDATE evaluation_answers SET change = 'x'",
                "DELETE FROM evaluation_answers"):
        async with db.transaction() as tx:
            with pytest.raises(sqlite3.IntegrityError, match="archived cycle|finished cycle|stays in its"):
                await tx.execute(sql)
    # a member's erasure still takes their name off the archived cycle
    await c.members[2].send("/forget")
    await c.members[2].press_data("forget:yes")
    async with db.transaction() as tx:
        assert await tx.scalar("SELECT name FROM members WHERE id = 4") is None
        assert await tx.scalar("SELECT COUNT(*) FROM evaluation_answers WHERE ballot_id = 1") == 2  # still counted


async def test_bad_input(community):
    c = community
    await c.facilitator.send("/cycle new")
    assert c.facilitator.last().text.startswith("Цикл 7-қадаммен")
    await c.facilitator.send("/report 99")
    assert c.facilitator.last().text == ("«99» циклі жоқ: <b>Көктерек</b> қауымдастығында әзірге 1 цикл бар, "
                                         "1-ден бастап нөмірленген.")
    await c.facilitator.send("/report 1")  # the cycle that exists: its printed report
    name, content = c.facilitator.last().document
    assert name.endswith("-report.pdf") and content.startswith(b"%PDF")
    await c.members[0].send("/cycle new")  # a plain member
    assert c.members[0].last().text == "Мұны тек қауымдастық фасилитаторы жасай алады."
    await c.members[0].send("/report 1")
    assert c.members[0].last().text.startswith("Мұны тек ҚМҰТ")
    async with c.sim.engine.db.transaction() as tx:
        assert len(await cycles.history(tx, 1)) == 1
    await evaluated(c)
    await c.facilitator.send("/close evaluation", c.group)
    await c.facilitator.send("/cycle new")
    await c.facilitator.press_data("cy:1:1")
    again = await c.facilitator.press_data("cy:1:1")  # the same button again: cycle 2 has already started
    assert again.toast.text == "2-цикл басталып қойған."
    async with c.sim.engine.db.transaction() as tx:
        assert [y.number for y in await cycles.history(tx, 1)] == [1, 2]
    await c.facilitator.send("/report 1")  # the archived cycle, printed
    _, content = c.facilitator.last().document
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "Су жоқ" in text and "Цикл 1" in " ".join(text.split())


async def test_a_button_of_an_archived_cycle_says_so(community):
    c = community
    for text in ("Жол жөнделмеген", "Су жоқ"):
        await c.facilitator.send(f"/propose {text}")
    await c.facilitator.send("/poll dots 3", c.group)
    await c.facilitator.send("/close", c.group)
    await c.facilitator.send("/choose 1")
    for _ in range(6):
        await c.facilitator.send("/next")
    await start_next_cycle(c)
    tap = await c.members[2].press_data("d:1:1", c.group)  # a sticker on the first cycle's ballot
    assert tap.toast.text == ("This belongs to an earlier cycle: it is archived and no longer changes. "
                              "/status shows the cycles.")
    close = await c.facilitator.press_data("close:1", c.group)
    assert close.toast.text.startswith("Бұл өткен циклге жатады")
    async with c.sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM dot_votes") == 0
