"""Initiative group (ҚМҰТ) election chart: the checks every chart passes, and its own marks."""

from __future__ import annotations

import math
from collections import Counter

import matplotlib
import numpy as np
import pytest
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle
from matplotlib.text import Text

from bot.charts import CandidateRow, render, render_election
from bot.charts.common import FONT_BOLD, MAX_PNG_BYTES, OKABE_ITO, TextBatch, clean
from bot.charts.election import CATEGORY_COLORS, LABELS, category_color, election_chart
from tests.test_charts import (assert_readable_png, 
    KAZAKH_LETTERS, PHRASES, assert_disjoint, assert_inside_page, assert_text_clear_of_shapes,
    png_size, render_quietly, text_boxes,
)

CATEGORIES = [("activist", "Белсенді / көшбасшы"), ("vulnerable", "Әлеуметтік осал топ"),
              ("authority", "Жергілікті билік"), ("business", "Бизнес"), ("ngo", "ҮЕҰ"),
              ("media", "БАҚ")]
KK = {"title": "ҚМҰТ сайлауы: Қауымдастықтың мүддесін ұсынушы топ",
      "subtitle": "42 мүше дауыс берді · 7 орын", "elected": "сайланды", "tied": "тең",
      "composition": "Санаттар", "candidates": "кандидаттар", "absent": "кандидат жоқ",
      "uncovered": "орын жоқ", "empty": "Әзірге кандидат жоқ"}
# Five of the six categories stand; "ngo" never does.
STANDING = ["activist", "vulnerable", "authority", "business", "media"]


def kazakh_name(i: int, length: int = 60) -> str:
    """A name of exactly *length* characters (Kazakh letters, spaces), different for each *i*."""
    words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(4))
    return f"{i + 1} {words}"[:length]


def candidates(n: int, length: int = 60, seats: int = 7) -> list[CandidateRow]:
    """*n* candidates, the first *seats* by votes elected, the last seat's two by a tie."""
    votes = [max(0, 40 - 3 * i) for i in range(n)]
    if n > 3:
        votes[seats - 1 if n > seats else n - 2] = votes[seats if n > seats else n - 1]
    return [CandidateRow(kazakh_name(i, length), STANDING[i % len(STANDING)], v,
                         elected=i < seats, tied=n > 3 and i in (seats - 1, seats))
            for i, v in enumerate(votes)]


def drawn(fig) -> list[tuple[str, float, float]]:
    """(text, x, y) of every visible text, in pixels from the bottom-left corner."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip():
            box = t.get_window_extent(renderer)
            out.append((t.get_text(), box.x0, (box.y0 + box.y1) / 2))
    for batch in fig.findobj(TextBatch):
        for (_, _, text, _), box in zip(batch._items, batch.get_window_extents(renderer)):
            out.append((text, box.x0, (box.y0 + box.y1) / 2))
    return out


def named_texts(fig) -> dict[str, Text]:
    return {t.get_text(): t for t in fig.texts}


def bars(fig) -> list[Rectangle]:
    """The candidates' bars, top first: plain rectangles starting where the names start."""
    rects = [p for p in fig.artists if type(p) is Rectangle]
    x = max(round(p.get_x(), 4) for p in rects)
    return sorted((p for p in rects if round(p.get_x(), 4) == x), key=lambda p: -p.get_y())


def hex_of(patch) -> str:
    return matplotlib.colors.to_hex(patch.get_facecolor())


# --- what every chart passes ---------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 7, 30, 40])
def test_chart_is_a_small_readable_png(n: int) -> None:
    data, complaints = render_quietly(render_election, candidates(n), CATEGORIES, KK)
    assert_readable_png(data, complaints, (2800 if n <= 30 else 3600))


@pytest.mark.parametrize("rows", [
    candidates(1), candidates(7), candidates(30), candidates(40),
    [CandidateRow(kazakh_name(i), "media", 0, True, True) for i in range(12)],  # all zero, tied
    [CandidateRow("Ә" * 60, key, 10 ** 6, True, True) for key, _ in CATEGORIES],
    [CandidateRow(kazakh_name(i, 8), "business", 3, False) for i in range(3)],
], ids=["1", "7", "30", "40", "zero-votes", "wide-values", "short-names"])
def test_long_kazakh_labels_never_overlap_or_leave_the_page(rows) -> None:
    long_labels = {k: f"{v} {v} {v} {v}" for k, v in KK.items()}
    long_categories = [(key, f"{name} {name} {name}") for key, name in CATEGORIES]
    for labels, categories in [(KK, CATEGORIES), (long_labels, long_categories)]:
        fig = election_chart(rows, categories, labels).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert len(boxes) >= 2 * len(rows)
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)


def test_height_follows_the_number_of_candidates() -> None:
    heights = [election_chart(candidates(n, 20), CATEGORIES).figure.bbox.height
               for n in (1, 5, 30, 40)]
    assert heights == sorted(heights) and len(set(heights)) == 4


def test_kazakh_letters_are_drawn() -> None:
    rows = [CandidateRow(KAZAKH_LETTERS * 2, "activist", 3, True)]
    chart, complaints = render_quietly(
        election_chart, rows, [("activist", KAZAKH_LETTERS)], {"title": KAZAKH_LETTERS})
    assert not complaints
    shown = "".join(text for text, _, _ in drawn(chart.figure))
    assert set(KAZAKH_LETTERS) <= set(shown)


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    rows = [CandidateRow("🙂 Айгүл\u200b\n\tСерікқызы 🙏", "media", 4, True)]
    chart, complaints = render_quietly(election_chart, rows, [("media", "📰 БАҚ")])
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert "Айгүл Серікқызы" in shown and "БАҚ" in shown
    assert all(text == clean(text) for text in shown)


def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {key: f"T-{key}" for key in LABELS}
    categories = [(key, f"C-{key}") for key, _ in CATEGORIES]
    rows = [CandidateRow("N-one", "activist", 5, True, True), CandidateRow("N-two", "media", 2, False),
            CandidateRow("N-three", "business", 0, False)]
    shown = {text for text, _, _ in drawn(election_chart(rows, categories, labels).figure)}
    words = set(labels.values()) | {name for _, name in categories} | {r.name for r in rows}
    numbers = {text for text in shown if text.isdigit()}
    assert shown - numbers <= words
    assert words - {labels["empty"]} <= shown  # everything but the empty-chart text is used
    assert numbers == {"0", "1", "2", "5"}  # votes and counts
    empty = {text for text, _, _ in drawn(election_chart([], categories, labels).figure)}
    assert empty == {labels["title"], labels["subtitle"], labels["empty"]}


def test_unknown_label_keys_are_refused() -> None:
    with pytest.raises(KeyError):
        render_election(candidates(2), CATEGORIES, {"titel": "typo"})


@pytest.mark.parametrize("categories", [CATEGORIES, []])
def test_no_candidates_still_gives_a_chart(categories) -> None:
    data = render_election([], categories)
    assert png_size(data)[0] == 1080 and len(data) < MAX_PNG_BYTES


def test_rows_may_be_plain_tuples() -> None:
    rows = [CandidateRow("Айгүл", "media", 4, True, True), CandidateRow("Ерлан", "ngo", 2, False)]
    assert render_election([("Айгүл", "media", 4, True, True), ("Ерлан", "ngo", 2, False)],
                           CATEGORIES) == render_election(rows, CATEGORIES)


def test_row_validation() -> None:
    for bad in [("a", "media", -1, True), ("a", "media", True, True), ("a", "media", 1.5, True),
                ("a", "media", 1, 1), ("a", "media", 1, True, "yes"), ("a", "", 1, True)]:
        with pytest.raises(ValueError):
            CandidateRow(*bad)
    with pytest.raises(ValueError, match="unknown category"):
        render_election([("a", "sports", 1, True)], CATEGORIES)
    with pytest.raises(ValueError, match="distinct"):
        render_election([], [("media", "A"), ("media", "B")])
    assert CandidateRow("a", "media", 0, False).tied is False


def test_all_zero_votes() -> None:
    rows = [CandidateRow(kazakh_name(i, 30), STANDING[i % 5], 0, i < 3) for i in range(6)]
    chart, complaints = render_quietly(election_chart, rows, CATEGORIES, KK)
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert shown.count("0") >= 6
    assert all(bar.get_width() * 150 <= 2.5 for bar in bars(chart.figure))  # stubs only


async def test_renders_off_the_event_loop_deterministically() -> None:
    rows = candidates(9)
    expected = render_election(rows, CATEGORIES, KK)
    assert [await render(render_election, rows, CATEGORIES, KK) for _ in range(2)] == [expected] * 2


# --- the election's own marks -----------------------------------------------------------------

def row_of(y: float, name_ys: list[float], tolerance: float) -> int | None:
    """Index of the name whose text is within *tolerance* pixels of *y* vertically."""
    near = [i for i, ny in enumerate(name_ys) if abs(ny - y) <= tolerance]
    return near[0] if len(near) == 1 else None


def test_candidates_are_in_vote_order_with_elected_first_among_equals() -> None:
    rows = [CandidateRow("C", "media", 5, False), CandidateRow("A", "ngo", 9, True),
            CandidateRow("D", "ngo", 5, True), CandidateRow("B", "business", 7, False)]
    texts = named_texts(election_chart(rows, CATEGORIES).figure)
    tops = sorted("ABCD", key=lambda name: -texts[name].get_position()[1])
    assert tops == ["A", "B", "D", "C"]


def test_elected_marks_only_for_elected_rows() -> None:
    rows = candidates(12, length=20)
    fig = election_chart(rows, CATEGORIES, KK).figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = named_texts(fig)
    name_of = {clean(r.name): r for r in rows}
    by_name = {text: t for text, t in texts.items() if text in name_of}
    assert len(by_name) == len(rows)
    for name, t in by_name.items():  # elected names are bold, the others are not
        assert (t.get_fontproperties().get_file() == FONT_BOLD) == name_of[name].elected

    def middle(artist) -> float:
        box = artist.get_window_extent(renderer)
        return (box.y0 + box.y1) / 2

    discs = fig.findobj(Circle)
    key_y = max(middle(t) for t in fig.texts if t.get_text() == KK["elected"])  # topmost
    names = list(by_name)
    name_ys = [middle(by_name[n]) for n in names]
    ticked = set()
    for disc in discs:
        if abs(middle(disc) - key_y) < 8:
            continue  # the key: "(tick) elected" under the title
        i = row_of(middle(disc), name_ys, 8)
        assert i is not None, "a disc on no candidate's line"
        ticked.add(names[i])
    assert ticked == {clean(r.name) for r in rows if r.elected}
    assert len(discs) == len(ticked) + 1

    (tick_line,) = [ln for ln in fig.findobj(Line2D) if np.isnan(ln.get_xdata()).any()]
    strokes = np.split(np.asarray(tick_line.get_xdata()),
                       np.where(np.isnan(tick_line.get_xdata()))[0])
    assert sum(1 for s in strokes if len(s[~np.isnan(s)])) == len(discs)  # a tick a disc


def test_nobody_elected_draws_no_tick_and_no_key() -> None:
    rows = [CandidateRow("Айгүл", "media", 3, False), CandidateRow("Ерлан", "ngo", 1, False)]
    fig = election_chart(rows, CATEGORIES, {"elected": "KEY-ELECTED"}).figure
    assert not fig.findobj(Circle)
    assert all(not np.isnan(ln.get_xdata()).any() for ln in fig.findobj(Line2D))
    # The table's column head stays; nothing else says "elected".
    assert [t.get_text() for t in fig.texts].count("KEY-ELECTED") == 1


def test_tie_chip_only_on_tied_rows() -> None:
    rows = [CandidateRow(clean(r.name), r.category, r.votes, r.elected, r.tied)
            for r in candidates(12, length=20)]
    fig = election_chart(rows, CATEGORIES, {"tied": "TIE"}).figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = named_texts(fig)
    chips = [t for t in fig.texts if t.get_text() == "TIE"]
    tied = [r for r in rows if r.tied]
    assert len(chips) == len(tied) == 2
    # Each chip sits on its candidate's bar line: just under the candidate's name.
    for chip in chips:
        y = chip.get_window_extent(renderer).y0
        above = min((t for t in texts.values() if t.get_text() in {r.name for r in rows}
                     and t.get_window_extent(renderer).y0 > y),
                    key=lambda t: t.get_window_extent(renderer).y0)
        assert above.get_text() in {r.name for r in tied}
    outlines = [p for p in fig.artists if isinstance(p, FancyBboxPatch)
                and matplotlib.colors.to_hex(p.get_edgecolor()) == "#1a1a1a"]
    assert len(outlines) == 2


def test_categories_absent_and_uncovered_are_labelled_and_look_different() -> None:
    # activist: 1 of 2 elected; media stood but got no seat; the other four: nobody stood.
    rows = [CandidateRow("Айгүл", "activist", 9, True), CandidateRow("Ерлан", "activist", 1, False),
            CandidateRow("Дәурен", "media", 4, False)]
    labels = {"absent": "ABSENT", "uncovered": "UNCOVERED"}
    fig = election_chart(rows, CATEGORIES, labels).figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = fig.texts
    lines: dict[float, list[str]] = {}
    for t in texts:  # group the table's texts by their baseline
        lines.setdefault(round(t.get_position()[1], 3), []).append(t.get_text())
    row = {name: lines[round(t.get_position()[1], 3)]
           for t in texts for key, name in CATEGORIES if t.get_text() == name}
    assert sorted(row["Белсенді / көшбасшы"]) == sorted(["Белсенді / көшбасшы", "1", "2"])
    assert sorted(row["БАҚ"]) == sorted(["БАҚ", "0", "1", "UNCOVERED"])
    for _, name in CATEGORIES[1:5]:
        assert sorted(row[name]) == sorted([name, "0", "0", "ABSENT"])
    assert [t.get_text() for t in texts].count("ABSENT") == 4

    # Absent: grey text and a hollow swatch; uncovered: a tinted band behind the row.
    colour = {t.get_text(): matplotlib.colors.to_hex(t.get_color()) for t in texts}
    assert colour["Жергілікті билік"] != colour["БАҚ"] == colour["Белсенді / көшбасшы"]
    hollow = [p for p in fig.artists if type(p) is Rectangle and hex_of(p) == "#ffffff"]
    assert len(hollow) == 4
    (band,) = [p for p in fig.artists if isinstance(p, FancyBboxPatch)]
    media = min((t.get_window_extent(renderer) for t in texts if t.get_text() == "БАҚ"),
                key=lambda box: box.y0)  # the table's line, not the candidate's
    assert band.get_window_extent(renderer).y0 < media.y0 < band.get_window_extent(renderer).y1


def test_colour_per_category_is_fixed_and_colour_blind_safe() -> None:
    palette = set(OKABE_ITO.values())
    assert set(CATEGORY_COLORS) == {key for key, _ in CATEGORIES}
    assert len(set(CATEGORY_COLORS.values())) == 6 <= len(palette & set(CATEGORY_COLORS.values()))
    assert category_color("sports") == category_color("sports") in palette  # other keys: stable

    def colours(rows, categories) -> dict[str, str]:
        fig = election_chart(rows, categories).figure
        order = sorted(rows, key=lambda r: -r.votes)
        return {r.name: hex_of(bar) for r, bar in zip(order, bars(fig))}

    rows = [CandidateRow(f"N{i}", key, 10 - i, i % 2 == 0) for i, (key, _) in enumerate(CATEGORIES)]
    first = colours(rows, CATEGORIES)
    assert first == {r.name: CATEGORY_COLORS[r.category].lower() for r in rows}
    # The same colour whatever the order of the categories, the other candidates, the votes.
    again = colours([replace_votes(r, r.votes * 3 % 7) for r in rows[::2]], CATEGORIES[::-1])
    assert all(again[name] == first[name] for name in again)
    # The table's swatches use the same colours.
    fig = election_chart(rows, CATEGORIES).figure
    swatches = Counter(hex_of(p) for p in fig.artists if type(p) is Rectangle)
    assert all(swatches[c.lower()] == 2 for c in CATEGORY_COLORS.values())  # bar + swatch


def replace_votes(row: CandidateRow, votes: int) -> CandidateRow:
    return CandidateRow(row.name, row.category, votes, row.elected, row.tied)


def test_sixty_character_names_are_shortened_to_fit() -> None:
    rows = candidates(30, length=60)
    fig = election_chart(rows, CATEGORIES, KK).figure
    shown = {text for text, _, _ in drawn(fig)}
    shortened = [text for text in shown if text.endswith("…")]
    assert shortened  # at 30 candidates a name gets one line
    full = {r.name for r in rows}
    for text in shortened:
        assert any(name.startswith(text[:-1].rstrip()) for name in full)
    assert math.isclose(fig.bbox.width, 1080)
