"""Problem tree chart (step 3): the checks every chart passes, and the tree's own layout."""

from __future__ import annotations


import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.text import Text

from bot.charts import TreeNode, render, render_tree
from bot.charts.common import MAX_PNG_BYTES, OKABE_ITO, SIZE_SMALL, clean
from bot.charts.tree import LABELS, outline, tree_chart
from tests.test_charts import (assert_readable_png, 
    KAZAKH_LETTERS, assert_disjoint, assert_inside_page, assert_text_clear_of_shapes, png_size,
    render_quietly, text_boxes,
)
from tests.test_charts_election import drawn

PROBLEM = ("Ауылда таза ауыз су жетіспейді: құдықтардағы су лас, су құбыры тозған, жазда "
           "су күніне екі-ақ сағат беріледі, тұрғындар суды алыстан тасиды")
KK = {"title": "Мәселе ағашы: себептері мен салдары", "subtitle": "25 себеп · 15 салдар",
      "effects": "Салдары (жапырақтар)", "problem": "Мәселе", "causes": "Себептері (тамырлар)",
      "no_effects": "Әзірге салдар жоқ", "no_causes": "Әзірге себеп жоқ",
      "empty": "Әзірге себеп те, салдар да жоқ"}
CAUSES = [
    "Су құбыры кеңес заманында салынған, содан бері күрделі жөндеу көрмеген",
    "ауылдық округтің бюджетінде су шаруашылығына қаржы қарастырылмаған",
    "құдықтарды тазартатын арнайы техника мен маман жоқ",
    "тұрғындар су үшін төлемақыны уақытында төлемейді, қарыз жиналған",
    "Ғимараттар мен малқоралар құдыққа тым жақын орналасқан, Һ Ө Ү Ұ Қ Ң І Ә",
]
EFFECTS = [
    "балалар ішек ауруларымен жиі ауырады, емханаға қатынау қиын",
    "әйелдер күнделікті уақытының көбін су тасуға жұмсайды",
    "жастар ауылдан қалаға көшіп кетуде, мектептегі оқушылар саны азайды",
    "бақша суармалы болмағандықтан өнім аз, отбасы табысы төмендейді",
    "мал суаты жетіспейді, шаруалар малды сатуға мәжбүр",
]
# Each kind in groups of five: a node on the problem, its child, the child's child, a second
# child and its child: three levels.
PATTERN = [None, 0, 1, 0, 3]


def node_text(kind: str, i: int, length: int) -> str:
    """A Kazakh text of exactly *length* characters, different for each *i*."""
    phrases = CAUSES if kind == "cause" else EFFECTS
    words = " ".join(phrases[(i + k) % len(phrases)] for k in range(8))
    return f"{i + 1}) {words}"[:length].strip()


def tree_nodes(causes: int, effects: int, length: int = 120) -> list[TreeNode]:
    """*causes* then *effects* numbered from 1, three levels deep each (see `PATTERN`)."""
    nodes: list[TreeNode] = []
    for kind, n in (("cause", causes), ("effect", effects)):
        first = len(nodes) + 1
        for i in range(n):
            up = PATTERN[i % 5]
            parent = None if up is None else first + i - i % 5 + up
            nodes.append(TreeNode(first + i, node_text(kind, i, length), kind, parent))
    return nodes


FIVE = [TreeNode(1, CAUSES[0], "cause"), TreeNode(2, CAUSES[2], "cause", 1),
        TreeNode(3, CAUSES[1], "cause"), TreeNode(4, EFFECTS[0], "effect"),
        TreeNode(5, EFFECTS[2], "effect", 4)]


def positions(fig) -> dict[str, tuple[float, float]]:
    """Text -> (left x, middle y) in pixels from the bottom-left, for texts drawn once."""
    seen: dict[str, list[tuple[float, float]]] = {}
    for text, x, y in drawn(fig):
        seen.setdefault(text, []).append((x, y))
    return {text: places[0] for text, places in seen.items() if len(places) == 1}


# --- what every chart passes ---------------------------------------------------------------

@pytest.mark.parametrize("causes, effects", [(1, 0), (3, 2), (25, 15), (0, 40)])
def test_chart_is_a_small_readable_png(causes: int, effects: int) -> None:
    data, complaints = render_quietly(render_tree, PROBLEM * 2, tree_nodes(causes, effects, 200),
                                      KK)
    assert_readable_png(data, complaints, 3600)


def deep_chain(n: int) -> list[TreeNode]:
    """*n* causes each hanging under the one before, and one consequence."""
    return [TreeNode(i + 1, node_text("cause", i, 200), "cause", i or None) for i in range(n)] + [
        TreeNode(n + 1, node_text("effect", 0, 200), "effect")]


@pytest.mark.parametrize("nodes", [
    FIVE, tree_nodes(25, 15, 200), tree_nodes(25, 15, 3), tree_nodes(6, 0, 200),
    tree_nodes(0, 9, 200), deep_chain(20), [],
    [TreeNode(1000 + i, "Ә" * 200, "cause" if i % 2 else "effect") for i in range(12)],
], ids=["5", "40", "40-short", "causes-only", "effects-only", "deep", "empty", "unbroken"])
def test_long_kazakh_labels_never_overlap_or_leave_the_page(nodes) -> None:
    long_labels = {k: f"{v} {v} {v} {v}" for k, v in KK.items()}
    for labels, problem in [(KK, PROBLEM), (long_labels, (PROBLEM + " ") * 3)]:
        fig = tree_chart(problem[:300], nodes, labels).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert len(boxes) >= 2 * len(nodes) + 3
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)
        assert_text_inside_its_box(fig, renderer)


def assert_text_inside_its_box(fig, renderer) -> None:
    """Every node text and number lies wholly inside one tinted box (the boxes are one
    collection, which `assert_text_clear_of_shapes` does not see)."""
    extents = [path.get_extents(boxes.get_transform())
               for boxes in fig.findobj(PolyCollection) for path in boxes.get_paths()]
    outer = [e for e in extents if e.width > 40]  # the tinted boxes, not the stripes
    shapes = np.array([[e.x0, e.y0, e.x1, e.y1] for e in outer]).reshape(-1, 4)
    for x0, y0, x1, y1 in text_boxes(fig, renderer):
        touching = ((shapes[:, 0] < x1) & (x0 < shapes[:, 2])
                    & (shapes[:, 1] < y1) & (y0 < shapes[:, 3]))
        inside = ((shapes[:, 0] - 0.5 <= x0) & (x1 <= shapes[:, 2] + 0.5)
                  & (shapes[:, 1] - 0.5 <= y0) & (y1 <= shapes[:, 3] + 0.5))
        assert not touching.any() or inside.any(), f"text at {(x0, y0)} crosses a box's edge"


def test_height_follows_the_number_of_nodes_and_stays_within_budget() -> None:
    heights = [tree_chart(PROBLEM, tree_nodes(c, e, 40)).figure.bbox.height
               for c, e in ((1, 0), (3, 2), (10, 5), (25, 15))]
    assert heights == sorted(heights) and len(set(heights)) == 4
    for nodes in (tree_nodes(25, 15, 200), tree_nodes(40, 0, 200), deep_chain(39)):
        assert tree_chart(PROBLEM * 3, nodes, KK).figure.bbox.height <= 3600


def test_kazakh_letters_are_drawn() -> None:
    nodes = [TreeNode(1, KAZAKH_LETTERS * 2, "cause"), TreeNode(2, KAZAKH_LETTERS, "effect")]
    chart, complaints = render_quietly(tree_chart, KAZAKH_LETTERS, nodes,
                                       {"title": KAZAKH_LETTERS})
    assert not complaints
    shown = "".join(text for text, _, _ in drawn(chart.figure))
    assert set(KAZAKH_LETTERS) <= set(shown)


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    nodes = [TreeNode(1, "🚰 Су\u200b\n\tжоқ 🙏", "cause"), TreeNode(2, "🙂 ауру\u00adлар", "effect")]
    chart, complaints = render_quietly(tree_chart, "💧 Ауыз\tсу 💧", nodes, {"title": "🌳 Ағаш"})
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert {"Су жоқ", "аурулар", "Ауыз су", "Ағаш"} <= set(shown)
    assert all(text == clean(text) for text in shown)


def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {key: f"T-{key}" for key in LABELS}
    nodes = [TreeNode(3, "N-cause", "cause"), TreeNode(7, "N-sub", "cause", 3),
             TreeNode(5, "N-effect", "effect")]
    shown = {text for text, _, _ in drawn(tree_chart("P-problem", nodes, labels).figure)}
    numbers = {text for text in shown if text.startswith("#")}
    assert numbers == {"#3", "#5", "#7"}
    words = set(labels.values()) | {"P-problem", "N-cause", "N-sub", "N-effect"}
    assert shown - numbers == words - {labels["empty"], labels["no_causes"], labels["no_effects"]}
    empty = {text for text, _, _ in drawn(tree_chart("P-problem", [], labels).figure)}
    assert empty == {labels["title"], labels["subtitle"], labels["problem"], "P-problem",
                     labels["empty"]}
    causes_only = {text for text, _, _ in drawn(tree_chart("P", nodes[:2], labels).figure)}
    assert labels["no_effects"] in causes_only and labels["no_causes"] not in causes_only
    effects_only = {text for text, _, _ in drawn(tree_chart("P", nodes[2:], labels).figure)}
    assert labels["no_causes"] in effects_only and labels["no_effects"] not in effects_only


def test_unknown_label_keys_are_refused() -> None:
    with pytest.raises(KeyError):
        render_tree(PROBLEM, FIVE, {"titel": "typo"})


def test_no_nodes_still_gives_a_chart() -> None:
    for problem in (PROBLEM, "", "🙂"):
        data = render_tree(problem, [])
        assert png_size(data)[0] == 1080 and len(data) < MAX_PNG_BYTES


def test_rows_may_be_plain_tuples() -> None:
    tuples = [(1, "себеп", "cause", None), (2, "ішкі себеп", "cause", 1), (3, "салдар", "effect")]
    assert render_tree(PROBLEM, tuples) == render_tree(PROBLEM, [TreeNode(*t) for t in tuples])


def test_node_validation() -> None:
    for bad in [(0, "a", "cause"), (True, "a", "cause"), (1.0, "a", "cause"), (1, "a", "root"),
                (1, "a", "Cause"), (1, None, "cause"), (1, "a", "cause", 0),
                (1, "a", "cause", True), (1, "a", "cause", "2"), (1, "a", "cause", 1)]:
        with pytest.raises(ValueError):
            TreeNode(*bad)
    assert TreeNode(1, "a", "effect").parent is None


@pytest.mark.parametrize("nodes, message", [
    ([(1, "a", "cause"), (2, "b", "effect", 1)], "a cause"),  # a parent of the other kind
    ([(1, "a", "effect"), (2, "b", "cause", 1)], "an? effect"),
    ([(1, "a", "cause"), (2, "b", "cause", 9)], "does not exist"),  # a missing parent
    ([(1, "a", "cause"), (1, "b", "effect")], "twice"),
    ([(1, "a", "cause"), (2, "b", "cause", 3), (3, "c", "cause", 2)], "cycle"),
    ([(1, "a", "effect", 3), (2, "b", "effect", 1), (3, "c", "effect", 2)], "cycle"),
])
def test_a_parent_that_is_missing_of_the_other_kind_or_in_a_cycle_is_refused(nodes, message):
    with pytest.raises(ValueError, match=message):
        render_tree(PROBLEM, nodes)


async def test_renders_off_the_event_loop_deterministically() -> None:
    nodes = tree_nodes(8, 6)
    expected = render_tree(PROBLEM, nodes, KK)
    assert [await render(render_tree, PROBLEM, nodes, KK) for _ in range(2)] == [expected] * 2


# --- the tree's own layout --------------------------------------------------------------------

@pytest.mark.parametrize("nodes", [FIVE, tree_nodes(25, 15, 200), tree_nodes(4, 4, 10)],
                         ids=["5", "40", "short"])
def test_causes_below_the_trunk_and_consequences_above(nodes) -> None:
    fig = tree_chart(PROBLEM, nodes, KK).figure
    at = positions(fig)
    trunk = at[KK["problem"]][1]  # y grows upward
    assert at[KK["effects"]][1] > trunk > at[KK["causes"]][1]
    for node in nodes:
        y = at[f"#{node.number}"][1]
        if node.kind == "effect":
            assert at[KK["effects"]][1] > y > trunk
        else:
            assert at[KK["causes"]][1] > y
    # The problem's own text is in the trunk, right under its label.
    problem_lines = [y for text, _, y in drawn(fig) if text and text in clean(PROBLEM)]
    assert problem_lines and all(trunk > y > at[KK["causes"]][1] for y in problem_lines)


def test_every_node_shows_its_number_once() -> None:
    nodes = tree_nodes(25, 15, 200)
    shown = [text for text, _, _ in drawn(tree_chart(PROBLEM, nodes, KK).figure)]
    assert sorted(t for t in shown if t.startswith("#")) == sorted(f"#{n.number}" for n in nodes)


@pytest.mark.parametrize("nodes", [FIVE, tree_nodes(25, 15, 200), deep_chain(12)],
                         ids=["5", "40", "deep"])
def test_children_follow_their_parents_indented(nodes) -> None:
    at = positions(tree_chart(PROBLEM, nodes, KK).figure)
    by_number = {n.number: n for n in nodes}
    depth = {n.number: d for part in outline(nodes).values() for n, d in part}
    for node in nodes:
        x, y = at[f"#{node.number}"]
        if node.parent is None:
            continue
        px, py = at[f"#{node.parent}"]
        assert y < py, f"#{node.number} is not under #{node.parent}"
        assert x > px + 10, f"#{node.number} is not indented under #{node.parent}"
        # Nothing but the parent's other descendants comes between them.
        for other in nodes:
            oy = at[f"#{other.number}"][1]
            if other.kind == node.kind and y < oy < py:
                up = other
                while up.parent is not None and up.number != node.parent:
                    up = by_number[up.parent]
                assert up.number == node.parent
    # The same depth is the same indent.
    xs: dict[int, set[float]] = {}
    for number, d in depth.items():
        xs.setdefault(d, set()).add(round(at[f"#{number}"][0], 1))
    assert all(len(v) == 1 for v in xs.values())


def test_outline_keeps_the_given_order_among_siblings() -> None:
    nodes = [TreeNode(5, "e", "cause"), TreeNode(2, "b", "cause", 5), TreeNode(1, "a", "cause"),
             TreeNode(9, "c", "cause", 5), TreeNode(4, "d", "effect")]
    parts = outline(nodes)
    assert [(n.number, d) for n, d in parts["cause"]] == [(5, 0), (2, 1), (9, 1), (1, 0)]
    assert [(n.number, d) for n, d in parts["effect"]] == [(4, 0)]


def test_few_nodes_get_their_whole_text_many_are_shortened() -> None:
    text = node_text("cause", 0, 200)
    few = drawn(tree_chart(PROBLEM, [TreeNode(1, text, "cause")]).figure)
    node_lines = [t for t, _, _ in few if t and t in text and t != "#1"]
    assert " ".join(node_lines) == clean(text)  # four lines at most: 200 characters fit
    many = tree_nodes(25, 15, 200)
    fig = tree_chart(PROBLEM, many, KK).figure
    shown = [t for t, _, _ in drawn(fig)]
    cut = [t for t in shown if t.endswith("…")]
    assert len(cut) >= 30
    full = [n.text for n in many]
    assert all(any(clean(f).find(t[:-1].rstrip()) >= 0 for f in full) for t in cut)
    # Never smaller than the other charts' smallest text.
    sizes = {t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()}
    assert min(sizes) >= SIZE_SMALL


def test_kinds_have_their_own_colour_blind_safe_colours() -> None:
    fig = tree_chart(PROBLEM, FIVE, KK).figure
    colours = [matplotlib.colors.to_hex(c)
               for boxes in fig.findobj(PolyCollection) for c in boxes.get_facecolors()]
    stripes = colours[1::2]  # each node: its tinted box, then its stripe
    assert set(stripes) == {OKABE_ITO["blue"].lower(), OKABE_ITO["vermillion"].lower()}
    order = [n for part in (outline(FIVE)["effect"], outline(FIVE)["cause"]) for n, _ in part]
    for node, stripe in zip(order, stripes):
        assert stripe == (OKABE_ITO["blue"] if node.kind == "cause"
                          else OKABE_ITO["vermillion"]).lower()
    # The headings carry the same colours as swatches, so the key is on the page.
    swatches = {matplotlib.colors.to_hex(p.get_facecolor()) for p in fig.artists
                if isinstance(p, matplotlib.patches.Rectangle)}
    assert {OKABE_ITO["blue"].lower(), OKABE_ITO["vermillion"].lower()} <= swatches


def test_links_join_every_child_to_its_parent() -> None:
    """One horizontal line a node (to the spine or to its parent's stripe)."""
    nodes = tree_nodes(10, 5)
    fig = tree_chart(PROBLEM, nodes).figure
    lines = [ln for ln in fig.artists if isinstance(ln, matplotlib.lines.Line2D)]
    horizontal = 0
    for ln in lines:
        xs, ys = ln.get_xdata(), ln.get_ydata()
        for i in range(0, len(xs), 3):
            if ys[i] == ys[i + 1] and xs[i] != xs[i + 1]:
                horizontal += 1
    assert horizontal == len(nodes)
