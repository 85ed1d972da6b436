"""Charts that state what members were asked: the matrix's 1–3 scale in words, the institutional
diagram's names and rings, the resource map counting the diagram's organisations."""

from __future__ import annotations

import math

from bot.charts import MatrixPoint, OrgRow, ResourceRow
from bot.charts.matrix import matrix_chart
from bot.charts.orgs import R_COMMUNITY, Geometry, name_variants, orgs_chart
from bot.charts.resources import resources_chart
from bot.domain.text import shorten
from tests.test_charts import assert_disjoint, assert_inside_page, text_boxes
from tests.test_charts_election import drawn
from tests.test_charts_orgs import KK as ORGS_KK
from tests.test_charts_orgs import assert_text_clear_of_circles, community, org_discs

MATRIX_KK = {"title": "Басымдық матрицасы", "x": "Маңыздылығы", "y": "Шұғылдығы",
             "levels": "1 төмен|2 орташа|3 жоғары", "score": "Маңыздылық · шұғылдық",
             "note": "Мүшелер әр мәселені 1-ден 3-ке дейін бағалады. Ұяшық бұрышындағы сан — "
                     "маңыздылық + шұғылдық − 1.", "decimal": ","}


def test_the_matrix_names_the_levels_members_used_and_explains_the_cell_numbers() -> None:
    points = [MatrixPoint(1, "Ауыл ішіндегі жолдардың барлығы бұзылған", 3, 3, 4.5, 2.5, 3.0),
              MatrixPoint(2, "Ауыз су", 1, 2, 2.0, 1.0, 2.0)]
    fig = matrix_chart(points, MATRIX_KK).figure
    shown = [text for text, _, _ in drawn(fig)]
    for level in ("1 төмен", "2 орташа", "3 жоғары"):
        assert shown.count(level) == 2  # across and down
    assert any("маңыздылық + шұғылдық − 1" in text for text in shown)
    assert "2,5 · 3,0" in shown and "1,0 · 2,0" in shown  # the means on the 1–3 scale, a decimal comma
    assert "4,5" not in shown  # no mean "of 5" a member was never asked
    renderer = fig.canvas.get_renderer()
    boxes = text_boxes(fig, renderer)
    assert_inside_page(boxes, renderer)
    assert_disjoint(boxes)


def test_organisations_are_named_beside_their_circles_in_whole_words() -> None:
    assert name_variants("Ауылдық округ әкімдігі") == [["Ауылдық округ", "әкімдігі"], ["Ауылдық округ…"]]
    long = "«Жасыл ауыл» қоғамдық бірлестігінің жастар қанаты мен еріктілер тобы"
    assert all(lines[-1].endswith("…") for lines in name_variants(long))
    assert name_variants("Ж" * 100) == []  # one word too long for the room: the number alone
    rows = [OrgRow(1, "Банк", 3.0, 2.0, 4), OrgRow(2, "Ауылдық округ әкімдігі", 3.0, 3.0, 4),
            OrgRow(3, "Мешіт", 1.0, 1.0, 2)]
    labels = dict(ORGS_KK, ring="жақындығы {n}")
    fig = orgs_chart(rows, labels).figure
    shown = [text for text, _, _ in drawn(fig)]
    assert shown.count("Банк") == 2 and shown.count("Мешіт") == 2  # beside its circle and in the list
    assert "Ауылдық округ" in shown and "әкімдігі" in shown
    assert {"жақындығы 3", "жақындығы 2", "жақындығы 1"} <= set(shown)
    cx, cy, cr = community(fig)
    for x, y, r in org_discs(fig):  # no circle over the community's
        assert math.hypot(x - cx, y - cy) >= cr + r
    renderer = fig.canvas.get_renderer()
    assert_disjoint(text_boxes(fig, renderer))
    assert_text_clear_of_circles(fig, renderer, rows)


def test_closeness_3_is_beside_the_community_never_over_it() -> None:
    geo = Geometry(40, 30)
    assert geo.distance(3) - geo.r_most > R_COMMUNITY


def test_the_resource_map_counts_organisations_kept_on_the_diagram() -> None:
    kinds = [("people", "Адамдар"), ("organisations", "Ұйымдар")]
    rows = [ResourceRow(1, "people", "Серік, трактор жүргізуші")]
    note = "Институционалдық диаграммада (/orgs): 7 — Әкімдік, Мектеп, …"
    fig = resources_chart(rows, kinds, {"none": "әзірге жоқ"}, {"organisations": (7, note)}).figure
    shown = [text for text, _, _ in drawn(fig)]
    assert "7" in shown and "әзірге жоқ" not in shown
    assert any(text.startswith("Институционалдық диаграммада") for text in shown)
    with_own = resources_chart(rows + [ResourceRow(2, "organisations", "Жастар кеңесі")], kinds, None,
                               {"organisations": (7, note)}).figure
    shown = [text for text, _, _ in drawn(with_own)]
    assert "8" in shown and any(text.startswith("Институционалдық") for text in shown)
    renderer = with_own.canvas.get_renderer()
    assert_disjoint(text_boxes(with_own, renderer))


def test_a_shortened_text_ends_at_a_word_with_an_ellipsis() -> None:
    text = "Ауыл ішіндегі жолдардың барлығы бұзылған"
    assert shorten(text, 100) == text
    cut = shorten(text, 20)
    assert cut == "Ауыл ішіндегі…" and len(cut) <= 20
    assert shorten("Жолдардыңбарлығыбұзылған", 10) == "Жолдардың…"  # one long word: cut, but said so


def test_the_pairwise_listing_shows_wins_of_comparisons_when_given() -> None:
    from bot.charts.data import Problem, RankedProblem
    from bot.charts.pairwise import pairwise_chart

    problems = [Problem(1, "Жол"), Problem(2, "Су")]
    order = [RankedProblem(1, "Жол", 0.7, 20, 29), RankedProblem(2, "Су", 0.3, 9, 29)]
    shown = [text for text, _, _ in drawn(pairwise_chart(problems, [[0, 20], [9, 0]], order,
                                                         {"score": "таңдалды / салыстырылды"}).figure)]
    assert "20 / 29" in shown and "9 / 29" in shown and "0,7" not in shown and "0.7" not in shown
