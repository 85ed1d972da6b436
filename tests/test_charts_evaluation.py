"""Evaluation chart (step 7): the checks every chart passes, and the evaluation's own layout."""

from __future__ import annotations

import re

import matplotlib
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.text import Text

from bot.charts import EvaluationSummary, render, render_evaluation
from bot.charts.common import EMPTY, MAX_PNG_BYTES, OKABE_ITO, TextBatch, clean
from bot.charts.evaluation import LABELS, evaluation_chart, mean_rating, percents
from tests.test_charts import (assert_readable_png, 
    KAZAKH_LETTERS, assert_disjoint, assert_inside_page, assert_text_clear_of_shapes, png_size,
    render_quietly, text_boxes,
)
from tests.test_charts_election import drawn

KK = {"title": "Бағалау: ауылға таза ауыз су", "subtitle": "30 мүшенің 24-і жауап берді",
      "question": "Біз қалаған мақсатқа жеттік пе?", "yes": "Иә", "partly": "Ішінара",
      "no": "Жоқ", "rating": "Баға, 1-ден 5-ке дейін", "mean": "орташа {mean}",
      "again": "Келесі жолы да қатысамын", "again_yes": "Иә", "again_no": "Жоқ",
      "empty": "Әзірге жауап жоқ", "decimal": ","}
TYPICAL = EvaluationSummary((13, 8, 3), (1, 2, 5, 9, 7), (19, 4), 24)
ONE = EvaluationSummary((0, 0, 12), (0, 0, 0, 0, 12), (12, 0), 12)
EMPTY_SUMMARY = EvaluationSummary((0, 0, 0), (0, 0, 0, 0, 0), (0, 0), 0)
PARTIAL = EvaluationSummary((5, 0, 0), (0, 0, 0, 0, 0), (0, 0), 6)  # only the first question
LOW = EvaluationSummary((0, 1, 9), (7, 2, 1, 0, 0), (3, 7), 10)  # the mean's label on the right
HUGE = EvaluationSummary((9000, 900, 99), (1, 0, 0, 0, 9998), (5000, 4999), 9999)
SUMMARIES = [TYPICAL, ONE, PARTIAL, LOW, HUGE, EMPTY_SUMMARY]
IDS = ["typical", "one-answer", "partial", "low", "huge", "empty"]


def shapes(fig) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of every bar, track and column, and of the mean's pointer, in display
    pixels (y up)."""
    out = [tuple(path.get_extents(c.get_transform()).extents)
           for c in fig.findobj(PolyCollection) for path in c.get_paths()]
    for x, y, side in pointers(fig):
        out.append((x - side / 2, y - side / 2, x + side / 2, y + side / 2))
    return out


def pointers(fig) -> list[tuple[float, float, float]]:
    """(x, y, side in pixels) of the mean's pointer (none or one)."""
    out = []
    for line in fig.artists:
        if isinstance(line, Line2D) and line.get_marker() == "^":
            side = line.get_markersize() * fig.dpi / 72
            out += [(*p, side) for p in line.get_transform().transform(line.get_xydata())]
    return out


def at(fig, text: str) -> list[tuple[float, float]]:
    """(x0, middle y) of every drawn *text*."""
    return [(x, y) for t, x, y in drawn(fig) if t == text]


def placed(fig) -> list[tuple[str, float, float]]:
    """(text, centre x, middle y) of every visible text, in display pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    for batch in fig.findobj(TextBatch):
        boxes += [(item[2], box) for item, box in zip(batch._items,
                                                      batch.get_window_extents(renderer))]
    return [(text, (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2) for text, b in boxes]


def scale_centres(fig) -> dict[int, tuple[float, float]]:
    """Rating -> (centre x, middle y) of its number on the histogram's scale: the one row
    where all of "1" … "5" stand."""
    texts = placed(fig)
    rows = [{round(y, 1) for t, _, y in texts if t == str(r)} for r in range(1, 6)]
    (row,) = set.intersection(*rows)
    return {r: next((x, y) for t, x, y in texts if t == str(r) and round(y, 1) == row)
            for r in range(1, 6)}


def bars_by_color(fig) -> dict[str, list[tuple[float, float, float, float]]]:
    out: dict[str, list] = {}
    for coll in fig.findobj(PolyCollection):
        faces = coll.get_facecolors()
        for i, path in enumerate(coll.get_paths()):
            colour = matplotlib.colors.to_hex(faces[i % len(faces)])
            out.setdefault(colour, []).append(tuple(path.get_extents(coll.get_transform()).extents))
    return out


# --- what every chart passes ---------------------------------------------------------------

@pytest.mark.parametrize("summary", SUMMARIES, ids=IDS)
def test_chart_is_a_small_readable_png(summary) -> None:
    data, complaints = render_quietly(render_evaluation, summary, KK)
    assert_readable_png(data, complaints, 1400)


@pytest.mark.parametrize("summary", SUMMARIES, ids=IDS)
def test_long_kazakh_labels_never_overlap_or_leave_the_page(summary) -> None:
    long_labels = {k: f"{v} {v} {v} {v}" for k, v in KK.items() if k not in ("mean", "decimal")}
    long_labels["mean"] = "орташа баға {mean} орташа баға орташа баға орташа баға орташа баға"
    unbroken = {k: "Ә" * 120 for k in long_labels}
    unbroken["mean"] = "Ә" * 60 + "{mean}" + "Ә" * 60
    for labels in (KK, long_labels, unbroken):
        fig = evaluation_chart(summary, labels).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert len(boxes) >= (3 if summary.respondents == 0 else 12)
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)
        width, height = fig.canvas.get_width_height()
        for sx0, sy0, sx1, sy1 in shapes(fig):
            assert 0 <= sx0 < sx1 <= width and 0 <= sy0 < sy1 <= height
            for x0, y0, x1, y1 in boxes:
                assert not (x0 < sx1 and sx0 < x1 and y0 < sy1 and sy0 < y1), "text on a bar"
        assert fig.bbox.height <= 1400


def test_kazakh_letters_are_drawn() -> None:
    labels = {key: KAZAKH_LETTERS for key in LABELS if key not in ("mean", "decimal")}
    labels["mean"] = KAZAKH_LETTERS + " {mean}"
    chart, complaints = render_quietly(evaluation_chart, TYPICAL, labels)
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert shown.count(KAZAKH_LETTERS) >= 5  # the title and headings whole
    assert set(KAZAKH_LETTERS) <= set("".join(shown))
    assert f"{KAZAKH_LETTERS} 3.8" in shown


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    labels = {"title": "📊 Баға\u200bлау", "question": "🎯 Мақсатқа\n\tжеттік пе?",
              "yes": "✅ Иә", "no": "❌ Жоқ", "mean": "⭐ орта\u00adша {mean}",
              "again": "🔁 Тағы\u202e да", "decimal": "🙂,"}
    chart, complaints = render_quietly(evaluation_chart, TYPICAL, labels)
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert {"Бағалау", "Мақсатқа жеттік пе?", "Иә", "Жоқ", "орташа 3,8", "Тағы да"} <= set(shown)
    assert all(text == clean(text) for text in shown)
    empty, complaints = render_quietly(evaluation_chart, EMPTY_SUMMARY, {"empty": "🤷 жоқ\x00"})
    assert not complaints
    assert "жоқ" in [text for text, _, _ in drawn(empty.figure)]


def numbers_only(text: str) -> bool:
    """A count, a share or a rating: digits and the per cent sign, no words."""
    return re.fullmatch(r"\d+%?", text) is not None


def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {key: f"T-{key}" for key in LABELS}
    labels["mean"] = "T-mean={mean}"
    labels["decimal"] = "D"
    shown = {text for text, _, _ in drawn(evaluation_chart(TYPICAL, labels).figure)}
    words = {labels[k] for k in LABELS if k not in ("mean", "decimal", "empty")}
    assert {t for t in shown if not numbers_only(t)} == words | {"T-mean=3D8"}
    # A question nobody answered shows the empty label under its heading.
    fig = evaluation_chart(PARTIAL, labels).figure
    shown = [text for text, _, _ in drawn(fig) if not numbers_only(text)]
    assert sorted(shown) == sorted(labels[k] for k in (
        "title", "subtitle", "question", "yes", "partly", "no", "rating", "empty", "again",
        "empty"))
    (rating_y,), (again_y,) = ([y for t, _, y in drawn(fig) if t == labels[k]]
                               for k in ("rating", "again"))
    assert sorted(y for t, _, y in drawn(fig) if t == labels["empty"]) == [
        pytest.approx(again_y - 45, abs=15), pytest.approx(rating_y - 45, abs=15)]
    empty = {text for text, _, _ in drawn(evaluation_chart(EMPTY_SUMMARY, labels).figure)}
    assert empty == {labels["title"], labels["subtitle"], labels["empty"]}


@pytest.mark.parametrize("labels", [{"titel": "typo"}, {"mean": "mean"}, {"mean": "{avg}"}])
def test_unknown_label_keys_and_a_mean_label_without_the_mean_are_refused(labels) -> None:
    with pytest.raises((KeyError, ValueError)):
        render_evaluation(TYPICAL, labels)


def test_empty_summary_gives_the_empty_text() -> None:
    for labels, text in ((None, LABELS["empty"]), (KK, KK["empty"])):
        chart = evaluation_chart(EMPTY_SUMMARY, labels)
        shown = [t for t, _, _ in drawn(chart.figure)]
        assert text in shown
        assert not shapes(chart.figure)
        data = render_evaluation(EMPTY_SUMMARY, labels)
        assert png_size(data)[0] == 1080 and len(data) < MAX_PNG_BYTES


def test_summary_may_be_a_plain_tuple_or_mapping() -> None:
    plain = ((13, 8, 3), (1, 2, 5, 9, 7), (19, 4), 24)
    expected = render_evaluation(TYPICAL)
    assert render_evaluation(plain) == expected
    assert render_evaluation(dict(zip(("goal", "ratings", "again", "respondents"), plain))) \
        == expected
    assert EvaluationSummary([1, 2, 3], [0, 0, 0, 0, 6], [6, 0], 6).goal == (1, 2, 3)


@pytest.mark.parametrize("bad", [
    ((1, 2), (0,) * 5, (0, 0), 9),  # two goal answers
    ((1, 2, 3, 4), (0,) * 5, (0, 0), 10),
    ((0, 0, 0), (0,) * 4, (0, 0), 9),
    ((0, 0, 0), (0,) * 5, (1,), 9),
    ((0, 0, 0), (0,) * 5, (0, 0), -1),
    ((-1, 0, 0), (0,) * 5, (0, 0), 9),
    ((0, 0, 0), (0, 0, 1.5, 0, 0), (0, 0), 9),
    ((True, 0, 0), (0,) * 5, (0, 0), 9),
    ((0, 0, 0), (0,) * 5, (0, 0), True),
    ((0, 0, 0), (0,) * 5, (0, 0), 2.0),
    ("123", (0,) * 5, (0, 0), 9),
    (None, (0,) * 5, (0, 0), 9),
    ((5, 3, 2), (0,) * 5, (0, 0), 9),  # more answers than members who answered
    ((0, 0, 0), (2, 2, 2, 2, 2), (0, 0), 9),
    ((0, 0, 0), (0,) * 5, (5, 5), 9),
])
def test_summary_validation(bad) -> None:
    with pytest.raises(ValueError):
        EvaluationSummary(*bad)
    with pytest.raises(ValueError):
        render_evaluation(bad)


async def test_renders_off_the_event_loop_deterministically() -> None:
    expected = render_evaluation(TYPICAL, KK)
    assert [await render(render_evaluation, TYPICAL, KK) for _ in range(2)] == [expected] * 2


# --- the evaluation's own layout --------------------------------------------------------------

def test_percentages_are_whole_and_add_up_to_100() -> None:
    assert percents([13, 8, 3]) == [54, 33, 13]
    assert percents([1, 1, 1]) == [34, 33, 33]
    assert percents([0, 0, 12]) == [0, 0, 100]
    assert percents([0, 0]) == [0, 0]
    for counts in ([9000, 900, 99], [1, 2, 3], [7, 0, 6], [5000, 4999]):
        assert sum(percents(counts)) == 100


def test_counts_and_shares_appear_on_their_answers_rows() -> None:
    fig = evaluation_chart(TYPICAL, KK).figure
    rows = {"Иә": [], "Жоқ": []}
    for name in rows:
        rows[name] = sorted((y for _, y in at(fig, name)), reverse=True)  # goal, then again
    ((_, partly_y),) = at(fig, KK["partly"])
    expected = [(rows["Иә"][0], "13", "54%"), (partly_y, "8", "33%"), (rows["Жоқ"][0], "3", "13%"),
                (rows["Иә"][1], "19", "83%"), (rows["Жоқ"][1], "4", "17%")]
    for y, count, share in expected:
        assert any(abs(cy - y) < 1 for _, cy in at(fig, count)), count
        assert any(abs(sy - y) < 1 for _, sy in at(fig, share)), share
    # Every rating's count stands above its column, over its rating on the scale.
    scale = scale_centres(fig)
    for rating, count in enumerate(TYPICAL.ratings, 1):
        x, y = scale[rating]
        assert any(abs(cx - x) < 1 and cy > y + 20 for t, cx, cy in placed(fig) if t == str(count))


def test_bars_are_the_answers_shares_of_the_track() -> None:
    fig = evaluation_chart(TYPICAL, KK).figure
    by = bars_by_color(fig)
    tracks = by[EMPTY.lower()]
    assert len(tracks) == 5
    track_w = tracks[0][2] - tracks[0][0]
    assert all(t[2] - t[0] == pytest.approx(track_w) for t in tracks)
    blue, sky, vermillion = (by[OKABE_ITO[k].lower()] for k in ("blue", "sky_blue", "vermillion"))
    widths = sorted((b[2] - b[0] for b in blue), reverse=True)  # again yes 19/23, goal yes 13/24
    assert widths == pytest.approx([track_w * 19 / 23, track_w * 13 / 24], abs=0.6)
    assert [b[2] - b[0] for b in sky] == pytest.approx([track_w * 8 / 24], abs=0.6)
    assert sorted(b[2] - b[0] for b in vermillion) == pytest.approx(
        [track_w * 3 / 24, track_w * 4 / 23], abs=0.6)
    # Columns: heights in proportion to the counts, in the order 1..5 left to right.
    columns = sorted(by[OKABE_ITO["orange"].lower()])
    heights = [c[3] - c[1] for c in columns]
    assert heights == pytest.approx([h * heights[3] / 9 for h in TYPICAL.ratings], abs=0.6)
    # A zero count has no bar: one answer only gives one coloured bar a panel.
    by = bars_by_color(evaluation_chart(ONE, KK).figure)
    assert len(by[OKABE_ITO["vermillion"].lower()]) == 1
    assert len(by[OKABE_ITO["blue"].lower()]) == 1
    assert len(by[OKABE_ITO["orange"].lower()]) == 1
    assert OKABE_ITO["sky_blue"].lower() not in by


@pytest.mark.parametrize("summary", [TYPICAL, ONE, LOW, HUGE], ids=["typical", "one", "low",
                                                                     "huge"])
def test_the_mean_shown_is_the_weighted_mean_and_the_pointer_is_there(summary) -> None:
    mean = sum((k + 1) * c for k, c in enumerate(summary.ratings)) / sum(summary.ratings)
    assert mean_rating(summary.ratings) == pytest.approx(mean)
    fig = evaluation_chart(summary, KK).figure
    shown = [text for text, _, _ in drawn(fig) if text.startswith("орташа ")]
    assert len(shown) == 1
    number = float(shown[0].removeprefix("орташа ").replace(",", "."))
    assert re.fullmatch(r"\d,\d", shown[0].removeprefix("орташа "))
    assert number == pytest.approx(mean, abs=0.05)
    # The pointer sits on the scale at the mean, under the ratings' numbers.
    ((x, y, _),) = pointers(fig)
    scale = scale_centres(fig)
    step = scale[2][0] - scale[1][0]
    assert x == pytest.approx(scale[1][0] + (mean - 1) * step, abs=0.6)
    assert y < scale[1][1]


def test_no_ratings_no_pointer_and_the_default_decimal_mark() -> None:
    assert not pointers(evaluation_chart(PARTIAL, KK).figure)
    assert mean_rating((0, 0, 0, 0, 0)) is None
    shown = [text for text, _, _ in drawn(evaluation_chart(TYPICAL).figure)]
    assert "mean 3.8" in shown


def test_colours_are_colour_blind_safe_and_never_the_only_cue() -> None:
    fig = evaluation_chart(TYPICAL, KK).figure
    faces = set(bars_by_color(fig))
    allowed = {OKABE_ITO[k].lower() for k in ("blue", "sky_blue", "vermillion", "orange")}
    assert faces == allowed | {EMPTY.lower()}
    # Each answer's bar has its name on its row.
    for name in ("Иә", "Ішінара", "Жоқ"):
        assert at(fig, name)
