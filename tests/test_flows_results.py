"""Results that must not mislead: numbers a member can check against what they were asked, in
their locale's number format, the same everywhere, with the check code said in plain words."""

from __future__ import annotations

import re

from bot.flows import results
from bot.storage import audit, ballots, communities, resources
from tests.conftest import build_community
from tests.test_flows_step1 import TEXTS, button_for, group_ballot, propose_all


def last_chart(c):
    return next(m for m in reversed(c.sim.messages(c.group.id)) if m.image is not None)


def closed_ballot_message(c):
    return next(m for m in c.sim.messages(c.group.id) if "дауыс беру жабылды" in m.text)


async def stickers_on(c, number, members):
    for member in members:
        await member.press_data(button_for(await group_ballot(c), number), c.group)


# --- in-person meetings --------------------------------------------------------------------
async def test_two_paper_meetings_add_up_and_the_caption_shows_online_and_paper_apart(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    await stickers_on(c, 1, c.members)                  # online: #1 has 2
    await c.facilitator.send("/paper 4 2:3 3:1")       # first meeting: #2 has 3
    await c.facilitator.send("/paper 2 2:2")           # second meeting adds, never replaces
    assert "2 кездесу" not in c.facilitator.last().text  # (the count is said in words below)
    async with sim.engine.db.transaction() as tx:
        ballot = await ballots.get(tx, 1)
        assert (ballot.paper_meetings, ballot.paper_present) == (2, 6)
        assert await ballots.paper(tx, 1) == {2: 5, 3: 1}
    await c.facilitator.send("/close", c.group)
    caption = last_chart(c).text
    # #2: 0 online + 5 in person = 5 beats #1's 2; of 2 + 6 = 8 stickers
    assert "#2" in caption.splitlines()[0] and "8 жапсырманың 5" in caption
    assert "Онлайн 0 + жиналыста 5 = 5." in caption
    assert "жиналыс саны 2" in caption and "Келгендер: 6." in caption and "Қағаз жапсырмалар: 6." in caption


async def test_the_closed_ballot_and_the_chart_name_the_same_winner(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    await stickers_on(c, 1, c.members)
    await c.facilitator.send("/paper 3 3:3")
    await c.facilitator.send("/close", c.group)
    closed = closed_ballot_message(c).text.splitlines()
    first = next(line for line in closed if re.match(r"\d+\. ", line))
    assert first.startswith("3. ") and first.endswith("<b>0 + 3 = 3</b>")  # online + in person = together
    assert any(line.startswith("1. ") and line.endswith("<b>2 + 0 = 2</b>") for line in closed)
    assert "#3" in last_chart(c).text.splitlines()[0]


async def test_a_result_reposted_after_paper_keeps_the_in_person_line_and_old_buttons_refuse(sim):
    c = await build_community(sim, 3, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    await stickers_on(c, 1, c.members)
    await c.facilitator.send("/close", c.group)
    old = c.sim.messages(c.group.id)[-1]
    old_confirm = next(b.data for row in old.buttons for b in row if b.data.startswith("ch:"))
    await c.facilitator.send("/paper 10 2:10")         # the meeting changes the winner
    reposted = last_chart(c)
    assert "#2" in reposted.text.splitlines()[0] and "Келгендер: 10." in reposted.text
    closed = closed_ballot_message(c).text            # the frozen ballot follows the new tally
    assert next(line for line in closed.splitlines() if re.match(r"\d+\. ", line)).startswith("2. ")
    newest = c.sim.messages(c.group.id)[-1]
    assert any(b.data.startswith("ch:2:") for row in newest.buttons for b in row)
    outcome = await c.facilitator.press_data(old_confirm, c.group)
    assert "өзгерді" in outcome.toast.text            # "this result has changed since"
    async with sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM step1_choices") == 0
    new_confirm = next(b.data for row in newest.buttons for b in row if b.data.startswith("ch:2:"))
    await c.facilitator.press_data(new_confirm, c.group)
    assert "#2" in c.sim.messages(c.group.id)[-1].text


# --- the combined ranking ------------------------------------------------------------------
async def test_a_method_that_did_not_include_a_problem_gives_it_no_rank(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:4])
    await c.facilitator.send("/poll dots", c.group)
    await stickers_on(c, 4, c.members)
    await c.facilitator.send("/close", c.group)
    await c.facilitator.send("/poll pairwise 1 2", c.group)  # a shortlist: #3 and #4 not on it
    for member in c.members:
        await member.send("/start b_2")
        choices = [b for row in member.last().buttons for b in row]
        await member.press_data(next(b.data for b in choices if "#1" in b.text))
    await c.facilitator.send("/close", c.group)
    async with sim.engine.db.transaction() as tx:
        latest = [await results.build(tx, b) for b in await ballots.of_community(tx, 1, "closed")]
    rows, chart = results.combined("kk", latest)
    by_number = {latest[0].by_id[r.option].number: r for r in rows}
    assert by_number[4].ranks == {"dots": 1} and by_number[4].mean_rank == 1.0  # never "=3" in pairs
    assert by_number[3].ranks == {"dots": 2}
    assert by_number[1].ranks == {"dots": 2, "pairwise": 1}
    chart_rows, methods, labels = chart.args
    shown = {r.number: r.ranks for r in chart_rows}
    assert shown[3] == (2, None) and shown[4] == (1, None)  # drawn as "—"
    assert "«—»" in labels["subtitle"] and "қамтыған әдістердегі" in labels["subtitle"]


# --- numbers in the locale's format --------------------------------------------------------
async def matrix_result(sim, locale):
    c = await build_community(sim, 2, ("en",))
    async with sim.engine.db.transaction() as tx:
        await tx.execute("UPDATE communities SET locale = ? WHERE id = 1", (locale,))
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/poll matrix", c.group)
    for member, importance in zip(c.members, (3, 2)):  # #1: importance 3 and 2, urgency 3 and 3
        await member.send("/start b_1")
        for _ in range(2):
            first = "<b>#1</b>" in member.last().text
            await member.press(str(importance) if first else "1")
            await member.press("3" if first else "1")
    await c.facilitator.send("/close", c.group)
    return last_chart(c).text


async def test_the_matrix_caption_states_the_1_to_3_scale_with_a_decimal_comma_in_kazakh(sim):
    caption = await matrix_result(sim, "kk")
    assert "1-ден 3-ке дейінгі шкала" in caption
    assert "маңыздылығы 2,5" in caption and "шұғылдығы 3,0" in caption
    assert "of 5" not in caption and "5-тен" not in caption


async def test_the_matrix_caption_has_a_decimal_comma_in_russian(sim):
    caption = await matrix_result(sim, "ru")
    assert "важность 2,5 и срочность 3,0" in caption and "от 1 до 3" in caption


async def test_the_matrix_chart_shows_the_scale_members_used():
    from bot.flows.results import Result, chart
    from bot.domain.matrix import matrix_result as rule
    from bot.storage.problems import Problem

    problem = Problem(1, 1, 1, "Жол", "open", None)  # noqa: the storage's field order
    ballot = ballots.Ballot(1, 1, "matrix", "closed", 3, 1, "live", None, 0, 2, "x", "x")
    rows = rule({1: {1: (3, 3)}, 2: {1: (2, 3)}}, [1])
    drawn = chart("ru", Result(ballot, {1: problem}, {1: 1}, [1], 2, rows))
    points, labels = drawn.args
    assert (points[0].mean_a, points[0].mean_b) == (2.5, 3.0)
    assert labels["decimal"] == "," and labels["levels"] == "1 низкая|2 средняя|3 высокая"
    assert "от 1 до 3" in labels["note"] and "от 1 (наименее острая) до 5" in labels["note"]


# --- the check code ------------------------------------------------------------------------
async def test_results_repeats_the_original_check_code_in_plain_words(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:2])
    await c.facilitator.send("/poll dots", c.group)
    await stickers_on(c, 1, c.members)
    await c.facilitator.send("/close", c.group)
    posted = last_chart(c).text.splitlines()[-1]
    code = re.search(r"Тексеру коды: ([0-9a-f]{8})\. ", posted).group(1)
    assert "бірде-бір дауыстың өзгермегенін" in posted      # what it is, in words
    await c.members[0].send(f"/propose {TEXTS[3]}")     # the audit log moves on
    async with sim.engine.db.transaction() as tx:
        assert not (await audit.head(tx)).startswith(code)
    await c.facilitator.send("/results", c.group)
    assert c.sim.messages(c.group.id)[-1].text.splitlines()[-1] == posted
    await c.members[0].send("/results", c.group)        # in the reader's language, the same code
    assert c.sim.messages(c.group.id)[-1].text.splitlines()[-1].startswith(f"Check code: {code}. With it")


# --- steps and step 4 ----------------------------------------------------------------------
async def test_a_step_moved_past_with_nothing_done_shows_as_skipped(sim):
    c = await build_community(sim, 1, ("en",))
    async with sim.engine.db.transaction() as tx:
        await communities.set_step(tx, 1, 6)
    await c.facilitator.send("/next", c.group)
    assert "6-қадам өткізіп жіберілді" in c.sim.messages(c.group.id)[-1].text
    await c.facilitator.send("/status", c.group)
    status = c.sim.messages(c.group.id)[-1].text
    assert "⏭ 6. Іске асыру және мониторинг — өткізіп жіберілді" in status
    assert "✅ 6." not in status and "✅ 5." in status  # moved past before the record: shown as before


async def test_the_resource_map_counts_the_organisations_of_the_diagram(sim):
    c = await build_community(sim, 1, ("en",))
    async with sim.engine.db.transaction() as tx:
        for name in ("Әкімдік", "Мектеп", "Мешіт"):
            await resources.add_org(tx, 1, name, name.lower(), 1, "2026-01-01T00:00:00")
    await c.facilitator.send("/resources", c.group)
    caption = c.sim.messages(c.group.id)[-1].text
    assert "Институционалдық диаграммадағы ұйымдар: 3." in caption
    assert "Ұйымдар" not in caption.split("Әзірге жоқ:")[-1]  # not named among the missing kinds
    await c.facilitator.send("/resources")
    listing = c.facilitator.last().text
    section = listing.split("<b>Ұйымдар</b>")[1]
    assert "әзірге жоқ" not in section and "Әкімдік, Мектеп, Мешіт" in section


# --- the sticker ballot ---------------------------------------------------------------------
async def test_the_sticker_ballot_lists_problems_in_its_buttons_order_and_says_why(sim):
    c = await build_community(sim, 1, ("en",))
    await propose_all(c, TEXTS)
    await c.facilitator.send("/poll dots", c.group)
    ballot = await group_ballot(c)
    listed = [int(m.group(1)) for m in re.finditer(r"^(\d+)\. ", ballot.text, re.M)]
    buttons = [int(b.text.split(" ·")[0]) for row in ballot.buttons for b in row]
    assert listed == buttons and sorted(buttons) != buttons  # shuffled, and the text follows
    assert "аралас ретпен" in ballot.text


async def test_the_open_ballot_counts_the_meetings_stickers_with_the_online_ones(sim):
    c = await build_community(sim, 2, ("en",))
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    await stickers_on(c, 1, c.members)
    await c.facilitator.send("/paper 3 2:3")
    ballot = next(m for m in c.sim.messages(c.group.id) if m.buttons and any(
        (b.data or "").startswith("d:") for row in m.buttons for b in row))
    assert "Келгендер: 3." in ballot.text
    counts = {int(b.text.split(" ·")[0]): int(b.text.rsplit("· ", 1)[1]) for row in ballot.buttons for b in row}
    assert counts == {1: 2, 2: 3, 3: 0}  # the same numbers the result will give


def test_the_pairwise_order_lists_counts_a_member_can_check_in_the_matrix():
    from bot.domain.pairwise import pairwise_result
    from bot.storage.problems import Problem

    by_id = {i: Problem(i, 1, i, f"Мәселе {i}", "open", None) for i in (1, 2, 3)}
    answers = {m: {(1, 2): 1, (1, 3): 1, (2, 3): 3 if m else 2} for m in range(3)}
    outcome = pairwise_result(answers, [1, 2, 3])
    ballot = ballots.Ballot(1, 1, "pairwise", "closed", 3, 1, "live", None, 0, 3, "x", "x")
    result = results.Result(ballot, by_id, {o: r for o, _, r in outcome.ranking}, [o for o, _, _ in outcome.ranking],
                            3, outcome.ranking, {"outcome": outcome}, included={1, 2, 3})
    _, _, order, labels = results.chart("ru", result).args
    assert [(r.number, r.wins, r.compared) for r in order] == [(1, 6, 6), (3, 2, 6), (2, 1, 6)]
    assert labels["score"] == "выбрана / сравнений"
    from bot.i18n import translator
    assert "выбрана: 6, всего сравнений с ней: 6." in results.caption(translator("ru"), result, "0" * 8)
