"""Resource map chart (step 4): the checks every chart passes, and the map's own layout."""

from __future__ import annotations


import matplotlib
import numpy as np
import pytest
from matplotlib.lines import Line2D
from matplotlib.text import Text

from bot.charts import ResourceRow, render, render_resources
from bot.charts.common import MAX_PNG_BYTES, OKABE_ITO, SIZE_SMALL, clean
from bot.charts.resources import KIND_STYLES, LABELS, kind_styles, resources_chart
from tests.test_charts import (assert_readable_png, 
    KAZAKH_LETTERS, assert_disjoint, assert_inside_page, assert_text_clear_of_shapes, png_size,
    render_quietly, text_boxes,
)
from tests.test_charts_election import drawn

KINDS = [("people", "Адамдар мен дағдылар"), ("materials", "Материалдар мен құрал-жабдық"),
         ("money", "Қаржы"), ("premises", "Ғимараттар мен жер"), ("organisations", "Ұйымдар")]
KEYS = [key for key, _ in KINDS]
KK = {"title": "Ресурстар картасы", "subtitle": "6 ресурс · 5 түрдің 4-еуі", "holder": "иесі",
      "place": "қайда", "none": "әзірге жоқ", "empty": "Әзірге ресурс жоқ"}
SIX = [
    ResourceRow(1, "people", "Ерлан — дәнекерлеуші, құбыр жөндей алады", "Ерлан Қасымов",
                "Жаңаауыл, Абай көшесі"),
    ResourceRow(2, "people", "Мектеп мұғалімдері жиналыс өткізуге көмектеседі", "мектеп ұжымы"),
    ResourceRow(3, "materials", "Құбырлар мен шлангтар, 40 метр", "Нұрлан Өмірзақов", "қойма"),
    ResourceRow(4, "materials", "Трактор және тіркеме", "шаруа қожалығы «Береке»", "ауыл шеті"),
    ResourceRow(5, "premises", "Мәдениет үйінің залы кешке бос", "ауылдық округ әкімдігі",
                "орталық"),
    ResourceRow(6, "organisations", "«Таза су» қоғамдық бірлестігі"),
]
PHRASES = [
    "Ауыл ішіндегі жолдарды жөндеуге жастардың еріктілер тобы сенбілікке шығуға дайын",
    "мектептің спорт залы кешке бос тұрады, жиналыс өткізуге болады",
    "Һ әрпі мен Ө, Ү, Ұ, Ғ, Қ, Ң, І, Ә әріптері дұрыс шығуы керек",
    "шаруа қожалығының тракторы мен тіркемесі көктемде уақытша беріледі",
    "әкімдіктің бюджетінде абаттандыруға қаржы қарастырылған",
]


def kazakh(i: int, length: int) -> str:
    """A Kazakh text of exactly *length* characters (no edge spaces), different for each *i*."""
    words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(10))
    return f"{i + 1}) {words}"[:length].strip().ljust(3, "ә")


def resources(n: int, length: int = 200, holder: int = 100, place: int = 100,
              kinds: tuple[str, ...] = ("people", "materials", "premises", "organisations"),
              ) -> list[ResourceRow]:
    """*n* resources numbered from 1 over *kinds* in turn ("money" left empty by default)."""
    return [ResourceRow(i + 1, kinds[i % len(kinds)], kazakh(i, length),
                        kazakh(i + 1, holder) if holder else "",
                        kazakh(i + 2, place) if place else "") for i in range(n)]


def texts_at(fig) -> dict[str, tuple[float, float]]:
    """Text -> (left x, middle y) in pixels from the bottom-left, for texts drawn once."""
    seen: dict[str, list[tuple[float, float]]] = {}
    for text, x, y in drawn(fig):
        seen.setdefault(text, []).append((x, y))
    return {text: places[0] for text, places in seen.items() if len(places) == 1}


def markers(fig) -> list[Line2D]:
    return [a for a in fig.artists if isinstance(a, Line2D) and a.get_marker() != "None"]


# --- what every chart passes ---------------------------------------------------------------

@pytest.mark.parametrize("rows", [SIX[:1], SIX, resources(40, 120, 30, 20), resources(40),
                                  resources(40, 200, 0, 0), []],
                         ids=["1", "6", "40", "40-longest", "40-no-holders", "empty"])
def test_chart_is_a_small_readable_png(rows) -> None:
    data, complaints = render_quietly(render_resources, rows, KINDS, KK)
    assert_readable_png(data, complaints, 3600)


@pytest.mark.parametrize("rows", [
    SIX, resources(40), resources(40, 120, 30, 20), resources(40, 3, 3, 3),
    resources(12, 200, 100, 0), resources(13, 200, 0, 100), resources(5, kinds=tuple(KEYS)), [],
    [ResourceRow(1000 + i, KEYS[i % 5], "Ә" * 200, "Қ" * 100, "Ң" * 100) for i in range(15)],
], ids=["6", "40", "40-mixed", "40-short", "holders", "places", "all-kinds", "empty",
        "unbroken"])
def test_long_kazakh_labels_never_overlap_or_leave_the_page(rows) -> None:
    long_labels = {k: f"{v} {v} {v} {v}" for k, v in KK.items()}
    long_kinds = [(key, f"{name} {name} {name}") for key, name in KINDS]
    for labels, kinds in [(KK, KINDS), (long_labels, long_kinds)]:
        fig = resources_chart(rows, kinds, labels).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert len(boxes) >= 2 * len(rows) + len(kinds)
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)
        assert_markers_clear_of_text(fig, renderer, boxes)


def assert_markers_clear_of_text(fig, renderer, boxes: np.ndarray) -> None:
    """No marker (a line artist, which `assert_text_clear_of_shapes` does not see) touches a
    text, and every marker is on the page."""
    width, height = renderer.get_canvas_width_height()
    for line in markers(fig):
        r = line.get_markersize() * fig.dpi / 72 / 2 + line.get_markeredgewidth() * fig.dpi / 72
        for x, y in line.get_transform().transform(line.get_xydata()):
            assert r <= x <= width - r and r <= y <= height - r
            touching = ((boxes[:, 0] < x + r) & (x - r < boxes[:, 2])
                        & (boxes[:, 1] < y + r) & (y - r < boxes[:, 3]))
            assert not touching.any(), f"a marker at {(x, y)} touches a text"


def test_height_grows_with_the_resources_and_stays_within_budget() -> None:
    heights = [resources_chart(resources(n, 40, 20, 20), KINDS).figure.bbox.height
               for n in (1, 6, 20, 40)]
    assert heights == sorted(heights) and len(set(heights)) == 4
    for rows in (resources(40), resources(40, kinds=("people",)), resources(40, 200, 0, 0)):
        assert resources_chart(rows, KINDS, KK).figure.bbox.height <= 3600


def test_kazakh_letters_are_drawn() -> None:
    rows = [ResourceRow(1, "people", KAZAKH_LETTERS * 2, KAZAKH_LETTERS, KAZAKH_LETTERS)]
    chart, complaints = render_quietly(resources_chart, rows, [("people", KAZAKH_LETTERS)],
                                       {"title": KAZAKH_LETTERS})
    assert not complaints
    shown = "".join(text for text, _, _ in drawn(chart.figure))
    assert set(KAZAKH_LETTERS) <= set(shown)


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    rows = [ResourceRow(1, "money", "💰 Қаржы\u200b\n\tбар 🙏", "🙂 әкім\u00adдік", "\u202eауыл 🏠")]
    chart, complaints = render_quietly(resources_chart, rows, [("money", "💵 Ақша")],
                                       {"title": "🗺 Карта", "holder": "иесі 👤"})
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert {"Қаржы бар", "Ақша", "Карта", "иесі: әкімдік · where: ауыл"} <= set(shown)
    assert all(text == clean(text) for text in shown)


def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {key: f"T-{key}" for key in LABELS}
    kinds = [(key, f"K-{key}") for key in KEYS]
    rows = [ResourceRow(3, "people", "R-three", "H-three", "P-three"),
            ResourceRow(7, "money", "R-seven", "H-seven"),
            ResourceRow(5, "people", "R-five", place="P-five"),
            ResourceRow(9, "organisations", "R-nine")]
    shown = [text for text, _, _ in drawn(resources_chart(rows, kinds, labels).figure)]
    numbers = {text for text in shown if text.startswith("#")}
    assert numbers == {"#3", "#5", "#7", "#9"}
    counts = sorted(text for text in shown if text.isdigit())
    assert counts == ["0", "0", "1", "1", "2"]
    words = {labels["title"], labels["subtitle"], labels["none"], *(n for _, n in kinds),
             "R-three", "R-seven", "R-five", "R-nine", "T-holder: H-three · T-place: P-three",
             "T-holder: H-seven", "T-place: P-five"}
    assert set(shown) - numbers - set(counts) == words
    assert shown.count(labels["none"]) == 2  # materials and premises
    empty = [text for text, _, _ in drawn(resources_chart([], kinds, labels).figure)]
    assert set(empty) == {labels["title"], labels["subtitle"], labels["empty"], labels["none"],
                          "0", *(n for _, n in kinds)}


def test_unknown_label_keys_are_refused() -> None:
    with pytest.raises(KeyError):
        render_resources(SIX, KINDS, {"titel": "typo"})


def test_no_resources_still_gives_a_chart() -> None:
    for kinds in (KINDS, KINDS[:1], [("people", "")]):
        data = render_resources([], kinds)
        assert png_size(data)[0] == 1080 and len(data) < MAX_PNG_BYTES


def test_rows_may_be_plain_tuples() -> None:
    tuples = [(1, "people", "мұғалім", "Айгүл", "мектеп"), (2, "money", "грант"),
              (3, "premises", "зал", "", "орталық")]
    assert render_resources(tuples, KINDS) == render_resources(
        [ResourceRow(*t) for t in tuples], KINDS)


def test_resource_validation() -> None:
    for bad in [(0, "people", "abc"), (True, "people", "abc"), (1.0, "people", "abc"),
                (1, "", "abc"), (1, None, "abc"), (1, "people", None), (1, "people", "ab"),
                (1, "people", "  ab  "), (1, "people", "ә" * 201), (1, "people", "abc", None),
                (1, "people", "abc", "x" * 101), (1, "people", "abc", "", "x" * 101),
                (1, "people", "abc", "", 5)]:
        with pytest.raises(ValueError):
            ResourceRow(*bad)
    row = ResourceRow(1, "people", "ә" * 200, "x" * 100, "y" * 100)
    assert ResourceRow(2, "money", "abc").holder == "" and row.place == "y" * 100


@pytest.mark.parametrize("rows, kinds, message", [
    ([(1, "land", "жер телімі")], KINDS, "unknown kind"),
    ([(1, "people", "мұғалім"), (1, "money", "грант")], KINDS, "twice"),
    ([], [("people", "A"), ("people", "B")], "distinct"),
    ([], [], "at least one kind"),
])
def test_unknown_kinds_repeated_numbers_and_bad_kind_lists_are_refused(rows, kinds, message):
    with pytest.raises(ValueError, match=message):
        render_resources(rows, kinds)


async def test_renders_off_the_event_loop_deterministically() -> None:
    rows = resources(10, 120, 30, 20)
    expected = render_resources(rows, KINDS, KK)
    assert [await render(render_resources, rows, KINDS, KK) for _ in range(2)] == [expected] * 2


# --- the map's own layout -------------------------------------------------------------------

@pytest.mark.parametrize("rows", [[], SIX, resources(40)], ids=["empty", "6", "40"])
def test_every_kind_is_drawn_in_order_even_when_empty(rows) -> None:
    fig = resources_chart(rows, KINDS, KK).figure
    at = texts_at(fig)
    ys = [at[name][1] for _, name in KINDS]
    assert ys == sorted(ys, reverse=True)  # top to bottom in the caller's order
    empty = [key for key in KEYS if not any(r.kind == key for r in rows)]
    shown = [text for text, _, _ in drawn(fig)]
    assert shown.count(KK["none"]) == len(empty)
    # An empty kind is a dashed outline with a hollow marker; a kind with resources is not.
    dashed = [p for p in fig.artists if isinstance(p, matplotlib.patches.Rectangle)
              and p.get_linestyle() not in ("-", "solid")]
    assert sorted(matplotlib.colors.to_hex(p.get_edgecolor()) for p in dashed) == sorted(
        KIND_STYLES[key][0].lower() for key in empty)
    hollow = {line.get_marker() for line in markers(fig)
              if matplotlib.colors.to_hex(line.get_markerfacecolor()) == "#ffffff"}
    assert hollow == {KIND_STYLES[key][1] for key in empty}


@pytest.mark.parametrize("rows", [SIX, resources(40, kinds=tuple(KEYS)), resources(40)],
                         ids=["6", "40-all-kinds", "40"])
def test_each_resource_sits_in_its_kinds_block(rows) -> None:
    fig = resources_chart(rows, KINDS, KK).figure
    at = texts_at(fig)
    heads = [at[name][1] for _, name in KINDS] + [-1.0]
    for row in rows:
        i = KEYS.index(row.kind)
        y = at[f"#{row.number}"][1]
        assert heads[i] > y > heads[i + 1], f"#{row.number} is not in the {row.kind} block"
    # In the order given, within the block.
    for key in KEYS:
        ys = [at[f"#{r.number}"][1] for r in rows if r.kind == key]
        assert ys == sorted(ys, reverse=True)
    # Each block's outline holds exactly its own resources' numbers.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    blocks = [p.get_window_extent(renderer) for p in fig.artists
              if isinstance(p, matplotlib.patches.Rectangle) and p.get_linewidth() > 0]
    for row in rows:
        y = at[f"#{row.number}"][1]
        (block,) = [b for b in blocks if b.y0 < y < b.y1]
        head = at[dict(KINDS)[row.kind]][1]
        assert block.y0 < head < block.y1


def test_holder_and_place_appear_when_given() -> None:
    fig = resources_chart(SIX, KINDS, KK).figure
    shown = [text for text, _, _ in drawn(fig)]
    assert "иесі: Ерлан Қасымов · қайда: Жаңаауыл, Абай көшесі" in shown
    assert "иесі: мектеп ұжымы" in shown  # no place: no "қайда"
    assert sum("қайда" in t for t in shown) == 4 and sum("иесі" in t for t in shown) == 5
    # Under its resource, to the right of the number, in the smaller muted text.
    at = texts_at(fig)
    assert at["иесі: мектеп ұжымы"][1] < at["Мектеп мұғалімдері жиналыс өткізуге көмектеседі"][1]
    meta = [t for t in fig.findobj(Text) if t.get_text().startswith("иесі")]
    assert {t.get_fontsize() for t in meta} == {SIZE_SMALL}
    # Long ones, many resources: both still there, each shortened to its share of the line.
    rows = resources(40)
    shown = [text for text, _, _ in drawn(resources_chart(rows, KINDS, KK).figure)]
    metas = [t for t in shown if t.startswith("иесі: ")]
    assert len(metas) == 40 and all(" · қайда: " in t for t in metas)
    for t in metas:  # a label is never left alone, without the start of its value
        holder, place = t.removeprefix("иесі: ").split(" · қайда: ")
        assert len(holder.rstrip("…")) >= 2 and len(place.rstrip("…")) >= 2


def test_many_resources_are_shortened_few_keep_their_whole_text() -> None:
    text = kazakh(0, 200)
    few = drawn(resources_chart([ResourceRow(1, "money", text)], KINDS).figure)
    lines = [t for t, _, _ in few if t in text and t not in ("#1", "1")]
    assert " ".join(lines) == clean(text)
    fig = resources_chart(resources(40), KINDS, KK).figure
    cut = [t for t, _, _ in drawn(fig) if t.endswith("…")]
    assert len(cut) >= 40
    sizes = {t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()}
    assert min(sizes) >= SIZE_SMALL


def test_kinds_differ_by_colour_blind_safe_colour_and_by_shape() -> None:
    styles = kind_styles(KEYS)
    assert len({c for c, _ in styles.values()}) == 5 == len({m for _, m in styles.values()})
    assert {c for c, _ in styles.values()} <= set(OKABE_ITO.values()) - {
        OKABE_ITO["black"], OKABE_ITO["yellow"]}
    fig = resources_chart(resources(5, kinds=tuple(KEYS)), KINDS).figure
    drawn_styles = {(matplotlib.colors.to_hex(line.get_markerfacecolor()), line.get_marker())
                    for line in markers(fig)}
    assert drawn_styles == {(c.lower(), m) for c, m in styles.values()}
    # Other keys get the styles left free, distinct from the kinds given with them.
    other = kind_styles(["people", "land", "water"])
    assert len(set(other.values())) == 3 and other["people"] == KIND_STYLES["people"]
