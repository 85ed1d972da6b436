"""Institutional diagram (step 4): the checks every chart passes, and the diagram's own layout."""

from __future__ import annotations

import math
import re

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PatchCollection
from matplotlib.text import Text

from bot.charts import OrgRow, render, render_orgs
from bot.charts.common import MAX_PNG_BYTES, OKABE_ITO, SIZE_SMALL, TextBatch, clean
from bot.charts.orgs import LABELS, Geometry, clashes, orgs_chart, place
from tests.test_charts import (assert_readable_png, 
    KAZAKH_LETTERS, assert_disjoint, assert_inside_page, assert_text_clear_of_shapes, png_size,
    render_quietly, text_boxes,
)
from tests.test_charts_election import drawn

KK = {"title": "Институционалдық диаграмма", "subtitle": "14 мүше бағалады",
      "community": "Біздің ауыл қауымдастығы", "importance": "шеңбер өлшемі: маңыздылығы",
      "closeness": "қашықтығы: жақындығы",
      "scores": "маңыздылығы {importance}, жақындығы {closeness}", "raters": "{n} баға",
      "empty": "Әзірге ұйымдар жоқ", "decimal": ","}
NAMES = ["Ауылдық округ әкімдігі", "Мектеп", "Дәрігерлік амбулатория", "Жергілікті кәсіпкерлер",
         "Аудандық мәслихат депутаты", "Жастар ресурстық орталығы", "Мешіт",
         "Ауыл ақсақалдары кеңесі", "Фермерлер қауымдастығы «Береке»", "Аудандық білім бөлімі",
         "ҮЕҰ «Таза су» қоғамдық бірлестігі", "Полиция учаскелік инспекторы",
         "Ата-аналар комитеті", "Ұлттық банктің өңірлік филиалы",
         "Әбдірахманова Гүлнәр Серікқызы, кітапханашы"]


def long_name(i: int, length: int = 100) -> str:
    """A Kazakh name of *length* characters (at most 100), different for each *i*."""
    base = NAMES[i % len(NAMES)]
    return f"{base} — Шонжы ауылы, Һ Ө Ү Ұ Ғ Қ Ң І Ә әріптері бар ұзын атау {base} {base}"[:length]


def org_rows(n: int, length: int = 100) -> list[OrgRow]:
    """*n* organisations with estimates spread over 1 to 3 and long Kazakh names."""
    return [OrgRow(i + 1, long_name(i, length), 1 + (i * 7 % 11) / 5, 1 + (i * 5 % 9) / 4,
                   1 + i % 13) for i in range(n)]


FOUR = [OrgRow(1, "Ауылдық округ әкімдігі", 2.8, 2.1, 12), OrgRow(2, "Мектеп", 2.2, 2.9, 9),
        OrgRow(3, "Аудандық мәслихат депутаты", 1.3, 1.2, 7), OrgRow(4, "Мешіт", 1.7, 2.6, 1)]
CROWDED = [OrgRow(i + 1, f"Ұйым {i + 1}", 3.0, 3.0, 1) for i in range(20)]  # one ring, biggest


def circles(fig) -> list[tuple[float, float, float, tuple]]:
    """(x, y, radius, face RGBA) of every drawn circle, in display pixels."""
    (collection,) = [c for c in fig.findobj(PatchCollection) if c.get_gid() == "circles"]
    transform = collection.get_transform()
    out = []
    for path, face in zip(collection.get_paths(), collection.get_facecolors()):
        e = path.get_extents(transform)
        out.append(((e.x0 + e.x1) / 2, (e.y0 + e.y1) / 2, e.width / 2, tuple(face)))
    return out


def org_discs(fig) -> list[tuple[float, float, float]]:
    """The organisations' circles in the diagram (translucent blue, not the key's)."""
    return [(x, y, r) for x, y, r, face in circles(fig)
            if face[3] < 1 and face[3] > 0 and r > 25]


def community(fig) -> tuple[float, float, float]:
    (disc,) = [(x, y, r) for x, y, r, face in circles(fig) if face[3] == 1]
    return disc


def numbers(fig) -> dict[int, np.ndarray]:
    """The "#n" inside the circles: number -> (x0, y0, x1, y1) in display pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (batch,) = fig.findobj(TextBatch)
    return {int(text[1:]): np.array(box.extents)
            for (_, _, text, _), box in zip(batch._items, batch.get_window_extents(renderer))}


def box_in_disc(box, disc) -> bool:
    x, y, r = disc
    return all(math.hypot(px - x, py - y) <= r + 0.5 for px in box[::2] for py in box[1::2])


def box_touches_disc(box, disc) -> bool:
    x, y, r = disc
    gx = max(box[0] - x, 0, x - box[2])
    gy = max(box[1] - y, 0, y - box[3])
    return gx * gx + gy * gy < r * r


def disc_of(fig, rows) -> dict[int, tuple[float, float, float]]:
    """Number -> its circle: the one drawn circle its number lies inside, nearest its centre."""
    discs = org_discs(fig)
    out = {}
    for number, box in numbers(fig).items():
        mid = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        inside = [d for d in discs if box_in_disc(box, d)]
        assert inside, f"#{number} is in no circle"
        out[number] = min(inside, key=lambda d: math.hypot(d[0] - mid[0], d[1] - mid[1]))
    assert len(set(out.values())) == len(rows)
    return out


# --- what every chart passes ---------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 4, 15, 20])
def test_chart_is_a_small_readable_png(n: int) -> None:
    data, complaints = render_quietly(render_orgs, org_rows(n), KK)
    assert_readable_png(data, complaints, 3600)


@pytest.mark.parametrize("rows", [
    FOUR, org_rows(1), org_rows(15), org_rows(20), org_rows(20, 3), CROWDED,
    [OrgRow(i + 1000, "Ә" * 100, 1.0, 3.0, 999) for i in range(12)], [],
], ids=["4", "1", "15", "20", "20-short", "crowded", "unbroken", "empty"])
def test_long_kazakh_labels_never_overlap_or_leave_the_page(rows) -> None:
    long_labels = {k: f"{v} {v} {v} {v}" for k, v in KK.items() if k != "decimal"}
    for labels in (KK, long_labels):
        fig = orgs_chart(rows, labels).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert len(boxes) >= 3 * len(rows) + 3
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)
        assert_text_clear_of_circles(fig, renderer, rows)


def assert_text_clear_of_circles(fig, renderer, rows) -> None:
    """The circles are one collection, which `assert_text_clear_of_shapes` does not see:
    each number lies inside its own circle, the community's name inside the community's
    circle and clear of every other, and no other text touches a circle."""
    x, y, r = community(fig)
    orgs = org_discs(fig)
    found = numbers(fig) if rows else {}
    name = [t for t in fig.findobj(Text) if t.get_text().strip()
            and box_in_disc(t.get_window_extent(renderer).extents, (x, y, r))]
    assert name, "the community has no name"
    for t in name:
        box = t.get_window_extent(renderer).extents
        assert not any(box_touches_disc(box, d) for d in orgs), f"{t.get_text()!r} is covered"
    for box in found.values():
        assert sum(box_in_disc(box, d) for d in orgs) >= 1
    for t in fig.findobj(Text):
        if t.get_text().strip() and t not in name:
            box = t.get_window_extent(renderer).extents
            touched = [d for d in orgs + [(x, y, r)] if box_touches_disc(box, d)]
            # An organisation's name may stand in its own circle, whole and clear of the others.
            in_own = len(touched) == 1 and touched[0] in orgs and box_in_disc(box, touched[0])
            assert not touched or in_own, t.get_text()


def test_kazakh_letters_are_drawn() -> None:
    rows = [OrgRow(1, KAZAKH_LETTERS * 2, 2.0, 2.0, 3)]
    chart, complaints = render_quietly(orgs_chart, rows, {"title": KAZAKH_LETTERS,
                                                          "community": KAZAKH_LETTERS[:8]})
    assert not complaints
    shown = "".join(text for text, _, _ in drawn(chart.figure))
    assert set(KAZAKH_LETTERS) <= set(shown)


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    rows = [OrgRow(1, "🏫 Мектеп\u200b\n\tдиректоры 🙏", 2.0, 2.0, 3),
            OrgRow(2, "🙂 әкім\u00adдік", 3.0, 1.0, 1)]
    chart, complaints = render_quietly(orgs_chart, rows,
                                       {"title": "🌍 Диаграмма", "community": "👥 Біз\tмұндамыз"})
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert {"Мектеп директоры", "Диаграмма", "Біз мұндамыз"} <= set(shown)
    assert any(text.startswith("әкімдік") for text in shown)
    assert all(text == clean(text) for text in shown)


def words(text: str) -> set[str]:
    """The words of *text*: letters only, numbers and punctuation dropped."""
    return set(re.findall(r"[^\W\d_]+", text))


def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {key: f"Tw{key.replace('_', '')} Xw{key.replace('_', '')}" for key in LABELS}
    labels.update(scores="Simp {importance} Sclose {closeness}", raters="Rmany {n}",
                  raters_one="Rone {n}", decimal=",")
    rows = [OrgRow(3, "Nthree", 2.25, 1.5, 1), OrgRow(7, "Nseven word", 3.0, 3.0, 12)]
    shown = [text for text, _, _ in drawn(orgs_chart(rows, labels).figure)]
    allowed = words(" ".join(labels.values())) | {"Nthree", "Nseven", "word"}
    assert set().union(*map(words, shown)) <= allowed
    assert not any(words(text) & {"importance", "closeness", "estimates", "estimate"}
                   for text in shown)
    # Numbers are the chart's own: "#n", the means with the caller's decimal mark, counts.
    joined = " | ".join(shown)
    assert "Simp 2,2 Sclose 1,5" in joined or "Simp 2,3 Sclose 1,5" in joined
    assert "(Rone 1)" in joined and "(Rmany 12)" in joined and "Simp 3,0 Sclose 3,0" in joined
    empty = {text for text, _, _ in drawn(orgs_chart([], labels).figure)}
    assert set().union(*map(words, empty)) == words(
        " ".join(labels[k] for k in ("title", "subtitle", "community", "empty")))


def test_raters_alone_serves_every_count() -> None:
    shown = " ".join(t for t, _, _ in drawn(orgs_chart([OrgRow(1, "a", 2, 2, 1)],
                                                       {"raters": "бағалаған: {n}"}).figure))
    assert "бағалаған: 1" in shown
    english = " ".join(t for t, _, _ in drawn(orgs_chart([OrgRow(1, "a", 2, 2, 1),
                                                          OrgRow(2, "b", 2, 2, 5)]).figure))
    assert "(1 estimate)" in english and "(5 estimates)" in english


def test_unknown_label_keys_are_refused() -> None:
    with pytest.raises(KeyError):
        render_orgs(FOUR, {"titel": "typo"})


def test_no_organisations_still_gives_a_chart() -> None:
    for labels in (None, KK, {"community": "🙂"}):
        data = render_orgs([], labels)
        assert png_size(data)[0] == 1080 and len(data) < MAX_PNG_BYTES
    shown = {t for t, _, _ in drawn(orgs_chart([], KK).figure)}
    assert KK["empty"] in shown


def test_rows_may_be_plain_tuples() -> None:
    tuples = [(1, "әкімдік", 3, 2.5, 4), (2, "мектеп", 1.5, 1, 2)]
    assert render_orgs(tuples) == render_orgs([OrgRow(*t) for t in tuples])


def test_row_validation() -> None:
    for bad in [(0, "a", 2, 2, 1), (True, "a", 2, 2, 1), (1.0, "a", 2, 2, 1),
                (1, None, 2, 2, 1), (1, "a" * 101, 2, 2, 1), (1, "a", 0.9, 2, 1),
                (1, "a", 2, 3.1, 1), (1, "a", float("nan"), 2, 1), (1, "a", "2", 2, 1),
                (1, "a", True, 2, 1), (1, "a", 2, 2, 0), (1, "a", 2, 2, 1.0),
                (1, "a", 2, 2, True)]:
        with pytest.raises(ValueError):
            OrgRow(*bad)
    row = OrgRow(1, "a" * 100, 3, 1, 1)
    assert row.importance == 3.0 and isinstance(row.importance, float)
    with pytest.raises(ValueError, match="twice"):
        render_orgs([(1, "a", 2, 2, 1), (1, "b", 2, 2, 1)])


async def test_renders_off_the_event_loop_deterministically() -> None:
    rows = org_rows(8)
    expected = render_orgs(rows, KK)
    assert [await render(render_orgs, rows, KK) for _ in range(2)] == [expected] * 2


# --- the diagram's own layout -----------------------------------------------------------------

@pytest.mark.parametrize("rows", [FOUR, org_rows(15), org_rows(20)], ids=["4", "15", "20"])
def test_closer_is_nearer_the_community_and_more_important_is_bigger(rows) -> None:
    fig = orgs_chart(rows, KK).figure
    cx, cy, cr = community(fig)
    disc = disc_of(fig, rows)
    for a in rows:
        for b in rows:
            da, db = disc[a.number], disc[b.number]
            if a.closeness > b.closeness:
                assert math.hypot(da[0] - cx, da[1] - cy) < math.hypot(db[0] - cx, db[1] - cy)
            if a.importance > b.importance:
                assert da[2] > db[2]
    for row in rows:  # closeness 3 close to the community, never over it; 1 is well away from it
        x, y, r = disc[row.number]
        gap = math.hypot(x - cx, y - cy) - cr - r
        assert gap > 0, f"#{row.number} covers the community's circle"
        if row.closeness == 3:
            assert gap < 60
        if row.closeness == 1:
            assert gap > 100


def test_sizes_and_distances_follow_the_estimates_exactly() -> None:
    geo = Geometry(40, 30)
    assert geo.distance(3) < geo.distance(2.5) < geo.distance(1)
    areas = [geo.radius(i) ** 2 for i in (1, 2, 3)]
    assert areas[1] - areas[0] == pytest.approx(areas[2] - areas[1])  # area linear in importance
    assert geo.radius(3) / geo.radius(1) >= 1.6


@pytest.mark.parametrize("rows", [FOUR, org_rows(15), org_rows(20), CROWDED,
                                  [OrgRow(i + 1, "a", 1.0, 3.0, 1) for i in range(20)],
                                  [OrgRow(i + 100, "a", 2.0, 2.5, 1) for i in range(20)]],
                         ids=["4", "15", "20", "crowded", "small-inner", "wide-numbers"])
def test_numbers_in_circles_do_not_overlap_and_stay_in_their_circle(rows) -> None:
    fig = orgs_chart(rows, KK).figure
    found = numbers(fig)
    assert sorted(found) == sorted(r.number for r in rows)
    assert_disjoint(np.array(list(found.values())))
    disc_of(fig, rows)  # every number inside a circle of its own


@pytest.mark.parametrize("rows", [FOUR, org_rows(15), org_rows(20)], ids=["4", "15", "20"])
def test_no_circle_hides_another_number(rows) -> None:
    """With the estimates people give, every number is clear of all other circles."""
    fig = orgs_chart(rows, KK).figure
    own = disc_of(fig, rows)
    for number, box in numbers(fig).items():
        others = [d for d in org_discs(fig) if d != own[number]]
        assert not any(box_touches_disc(box, d) for d in others), f"#{number} is covered"


def test_numbers_get_smaller_only_when_a_ring_is_too_crowded() -> None:
    small_inner = [OrgRow(i + 1, "a", 1.0, 3.0, 1) for i in range(26)]  # twenty-six on one ring
    sizes = {t: b._prop.get_size_in_points()
             for t, rows in (("15", org_rows(15)), ("20", CROWDED), ("inner", small_inner))
             for b in orgs_chart(rows).figure.findobj(TextBatch)}
    assert sizes["15"] == sizes["20"] == 13.0 and 9.0 <= sizes["inner"] < 13.0
    assert clashes(place(small_inner), 13.0) > 0
    assert clashes(place(small_inner, size=sizes["inner"]), sizes["inner"]) == 0


def test_the_list_names_every_organisation_with_its_estimates() -> None:
    rows = org_rows(15, 40)
    fig = orgs_chart(rows, KK).figure
    shown = [t for t, _, _ in drawn(fig)]
    for row in rows:
        assert shown.count(f"#{row.number}") == 2  # in its circle and in the list
        assert any(t.startswith(clean(row.name)) for t in shown)
        scores = (f"маңыздылығы {row.importance:.1f}, жақындығы {row.closeness:.1f}"
                  .replace(".", ","))
        assert any(scores in t and f"({row.raters} баға)" in t for t in shown), row
    # The list is by number, top to bottom, under the diagram.
    name_y = [next(y for t, _, y in drawn(fig) if t.startswith(clean(r.name))) for r in rows]
    assert name_y == sorted(name_y, reverse=True)
    disc_bottom = min(y - r for _, y, r in org_discs(fig))
    assert max(name_y) < disc_bottom


def test_names_of_100_characters_are_shown_whole_or_shortened_never_dropped() -> None:
    rows = org_rows(15)
    fig = orgs_chart(rows, KK).figure
    shown = " ".join(t for t, _, _ in drawn(fig))
    assert all(clean(row.name) in shown for row in rows)
    wide = [OrgRow(1, "Ж" * 100, 2.0, 2.0, 1)]
    cut = [t for t, _, _ in drawn(orgs_chart(wide).figure) if t.startswith("Ж")]
    assert len(cut) == 2 and cut[-1].endswith("…")
    sizes = {t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()}
    assert min(sizes) >= SIZE_SMALL


def test_colours_are_colour_blind_safe_and_the_circles_translucent() -> None:
    fig = orgs_chart(FOUR).figure
    faces = {matplotlib.colors.to_hex(face, keep_alpha=False)
             for _, _, _, face in circles(fig) if face[3] > 0}
    assert OKABE_ITO["blue"].lower() in faces
    # Only the community is opaque: an organisation's circle never hides what is under it.
    assert [face[3] for _, _, _, face in circles(fig)].count(1.0) == 1
    assert len(org_discs(fig)) == len(FOUR)
