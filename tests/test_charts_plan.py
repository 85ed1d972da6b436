"""Action plan Gantt chart (step 5): the checks every chart passes, and the plan's own layout."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.text import Text

from bot.charts import TaskRow, render, render_plan
from bot.charts.common import MAX_PNG_BYTES, OKABE_ITO, SIZE_SMALL, TextBatch, clean
from bot.charts.plan import LABELS, plan_chart, timeline
from tests.test_charts import (assert_readable_png, 
    KAZAKH_LETTERS, assert_disjoint, assert_inside_page, assert_text_clear_of_shapes, png_size,
    render_quietly, text_boxes,
)
from tests.test_charts_election import drawn

KK = {"title": "Іс-қимыл жоспары: ауылға таза ауыз су",
      "subtitle": "30 тапсырма · 24 орындаушы бар · 4 әлі жоспарланбаған",
      "owner_none": "әзірге ешкім", "unscheduled": "Әлі жоспарланбаған", "today": "бүгін",
      "empty": "Әзірге тапсырма жоқ",
      "months": "қаң,ақп,нау,сәу,мам,мау,шіл,там,қыр,қаз,қар,жел"}
PHRASES = [
    "Ауылдағы ескі су құбырын ауыстыру үшін әкімдікке өтініш жазу және жиналыс өткізу",
    "құдықтарды тазартуға еріктілер тобын жинап, Һ Ө Ү Ұ Ғ Қ Ң І Ә әріптерін тексеру",
    "мектеп ауласындағы су бұрғысын жөндеуге демеуші іздеу, кәсіпкерлермен кездесу",
    "тұрғындардан су сапасы туралы сауалнама жинап, нәтижесін топқа жариялау",
    "аудандық санэпидстанцияға су сынамасын апарып, қорытындысын алу",
]
NAMES = ["Әбдірахманова Гүлнәр Серікқызы", "Қасымов Ерлан", "",
         "Өмірзақов Нұрлан Бақытұлы Сейітқали Ұлжан Әбенқызы Төлеуова Мәдина Үсенова Айгүл",
         "Үсенова Айгүл"]
MARCH = date(2026, 3, 2)  # a Monday
FIVE = [
    TaskRow(1, "Әкімдікке өтініш жазу", "Қасымов Ерлан", date(2026, 3, 2), date(2026, 3, 6)),
    TaskRow(2, "Құдықтарды тазартуға еріктілер жинау", "", date(2026, 3, 5), date(2026, 3, 20)),
    TaskRow(3, "Су сынамасын санэпидстанцияға апару", "Үсенова Айгүл", date(2026, 3, 16),
            date(2026, 3, 16)),
    TaskRow(4, "Демеуші іздеу: кәсіпкерлермен кездесу", "Өмірзақов Нұрлан", None,
            date(2026, 3, 27)),
    TaskRow(5, "Нәтижені топқа жариялау", "", None, None),
]


def kazakh(i: int, length: int) -> str:
    """A Kazakh title of exactly *length* characters (no edge spaces), different for each *i*."""
    words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(4))
    return f"{i + 1}) {words}"[:length].strip().ljust(3, "ә")


def tasks(n: int, length: int = 150, days: int = 90, unscheduled: int = 7) -> list[TaskRow]:
    """*n* tasks spread over *days* days from `MARCH`; every *unscheduled*-th without dates,
    every eleventh with only a due day, every fifth without an owner."""
    rows = []
    for i in range(n):
        start = MARCH + timedelta(days=(i * 37) % 97 * max(days - 21, 0) // 96)
        due = min(start + timedelta(days=(i * 13) % 21), MARCH + timedelta(days=days - 1))
        if unscheduled and i % unscheduled == (unscheduled - 2) % unscheduled:
            start = due = None
        elif i % 11 == 3:
            start = None
        rows.append(TaskRow(i + 1, kazakh(i, length), NAMES[i % len(NAMES)], start, due))
    return rows


def bars(fig) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of every bar, in display pixels (y up)."""
    return [tuple(path.get_extents(c.get_transform()).extents)
            for c in fig.findobj(PolyCollection) for path in c.get_paths()]


def diamonds(fig) -> list[tuple[float, float]]:
    """(x, y) of every single-date task's diamond, in display pixels."""
    out = []
    for line in fig.artists:
        if isinstance(line, Line2D) and line.get_marker() == "D":
            out += [tuple(p) for p in line.get_transform().transform(line.get_xydata())]
    return out


def today_lines(fig) -> list[Line2D]:
    return [a for a in fig.artists if isinstance(a, Line2D)
            and matplotlib.colors.to_hex(a.get_color()) == OKABE_ITO["vermillion"].lower()]


def numbers(fig) -> dict[int, tuple[float, float]]:
    """Task number -> (x0, middle y) of its "#n", in display pixels."""
    return {int(text[1:]): (x, y) for text, x, y in drawn(fig) if text.startswith("#")}


def owner_of(fig, rows: list[TaskRow]) -> dict[int, int]:
    """Bar or diamond index -> the number of the task whose "#n" is just above it."""
    at = numbers(fig)
    return {i: min((n for n in at if at[n][1] > top), key=lambda n: at[n][1])
            for i, (_, _, _, top) in enumerate(bars(fig))}


# --- what every chart passes ---------------------------------------------------------------

@pytest.mark.parametrize("rows", [FIVE[:1], FIVE, tasks(30, 90), tasks(30), tasks(30, 3),
                                  tasks(8, unscheduled=1), []],
                         ids=["1", "5", "30", "30-longest", "30-short", "unscheduled", "empty"])
def test_chart_is_a_small_readable_png(rows) -> None:
    data, complaints = render_quietly(render_plan, rows, KK, MARCH + timedelta(days=30))
    assert_readable_png(data, complaints, 3000)


SPANS = {"days": 10, "weeks": 90, "year": 400, "years": 1200}


@pytest.mark.parametrize("rows", [
    FIVE, tasks(30), tasks(30, 3), tasks(30, 150, 10), tasks(30, 150, 400),
    tasks(30, 150, 1200), tasks(12, unscheduled=1), [TaskRow(7, "ә" * 150, "Ә" * 100, MARCH)],
    [TaskRow(1000 + i, "Ә" * 150, "Ә" * 100, MARCH, MARCH + timedelta(days=i)) for i in range(30)],
    [],
], ids=["5", "30", "30-short", "10-days", "400-days", "1200-days", "unscheduled", "one-day",
        "unbroken", "empty"])
def test_long_kazakh_labels_never_overlap_or_leave_the_page(rows) -> None:
    long_labels = {k: f"{v} {v} {v} {v}" for k, v in KK.items() if k != "months"}
    long_labels["months"] = ",".join(f"{m}-{m}-{m}" for m in KK["months"].split(","))
    for labels, today in [(KK, MARCH + timedelta(days=5)), (long_labels, MARCH)]:
        fig = plan_chart(rows, labels, today).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert len(boxes) >= 2 * len(rows) + 1
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)
        assert_text_clear_of_bars(fig, boxes)


def assert_text_clear_of_bars(fig, boxes: np.ndarray) -> None:
    """No text touches a bar or a diamond (the bars are collections, which
    `assert_text_clear_of_shapes` does not see), and every bar is on the page."""
    shapes = bars(fig) + [(x - 12, y - 12, x + 12, y + 12) for x, y in diamonds(fig)]
    width, height = fig.canvas.get_width_height()
    for sx0, sy0, sx1, sy1 in shapes:
        assert 0 <= sx0 < sx1 <= width and 0 <= sy0 < sy1 <= height
        for x0, y0, x1, y1 in boxes:
            assert not (x0 < sx1 and sx0 < x1 and y0 < sy1 and sy0 < y1), "text on a bar"


def test_height_grows_with_the_tasks_and_stays_within_budget() -> None:
    heights = [plan_chart(tasks(n, 40)).figure.bbox.height for n in (1, 5, 12, 30)]
    assert heights == sorted(heights) and len(set(heights)) == 4
    for rows in (tasks(30), tasks(30, unscheduled=1), tasks(30, unscheduled=0)):
        assert plan_chart(rows, KK).figure.bbox.height <= 3000


def test_kazakh_letters_are_drawn() -> None:
    rows = [TaskRow(1, KAZAKH_LETTERS * 2, KAZAKH_LETTERS, MARCH, MARCH),
            TaskRow(2, KAZAKH_LETTERS, "", None, None)]
    chart, complaints = render_quietly(plan_chart, rows, {"title": KAZAKH_LETTERS})
    assert not complaints
    shown = "".join(text for text, _, _ in drawn(chart.figure))
    assert set(KAZAKH_LETTERS) <= set(shown)


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    rows = [TaskRow(1, "🚰 Су\u200b\n\tтасу 🙏", "🙂 Ерлан\u00adжан", MARCH, MARCH),
            TaskRow(2, "🙂 жина\u00adлыс", "", None, None)]
    chart, complaints = render_quietly(plan_chart, rows, {"title": "📅 Жоспар",
                                                          "unscheduled": "⏳ Кейін"})
    assert not complaints
    shown = [text for text, _, _ in drawn(chart.figure)]
    assert {"Су тасу", "Ерланжан", "жиналыс", "Жоспар", "Кейін"} <= set(shown)
    assert all(text == clean(text) for text in shown)


def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {key: f"T-{key}" for key in LABELS}
    labels["months"] = ",".join(f"M{m}" for m in range(1, 13))
    rows = [TaskRow(3, "N-three", "O-three", date(2026, 3, 30), date(2026, 4, 10)),
            TaskRow(7, "N-seven", "", date(2026, 4, 2), None),
            TaskRow(5, "N-five", "O-five", None, None)]
    shown = {text for text, _, _ in drawn(plan_chart(rows, labels, date(2026, 4, 1)).figure)}
    numbers_ = {text for text in shown if text.startswith("#")}
    assert numbers_ == {"#3", "#5", "#7"}
    days = {text for text in shown if text.isdigit()}
    assert days and all(1 <= int(d) <= 31 for d in days)
    words = {labels[k] for k in ("title", "subtitle", "owner_none", "unscheduled", "today")}
    assert shown - numbers_ - days == words | {"M3", "M4", "N-three", "N-seven", "N-five",
                                                "O-three", "O-five"}
    empty = {text for text, _, _ in drawn(plan_chart([], labels, date(2026, 4, 1)).figure)}
    assert empty == {labels["title"], labels["subtitle"], labels["empty"]}
    # The year, in digits, only when the plan runs into another year.
    rows = [TaskRow(1, "N-one", "O", date(2026, 12, 1), date(2027, 1, 20))]
    shown = {text for text, _, _ in drawn(plan_chart(rows, labels).figure)}
    assert {"M12 2026", "M1 2027"} <= shown


@pytest.mark.parametrize("labels", [{"titel": "typo"}, {"months": "Jan,Feb"},
                                    {"months": ",".join(["x"] * 13)}])
def test_unknown_label_keys_and_a_wrong_number_of_months_are_refused(labels) -> None:
    with pytest.raises((KeyError, ValueError)):
        render_plan(FIVE, labels)


def test_no_tasks_still_gives_a_chart() -> None:
    for today in (None, MARCH):
        data = render_plan([], KK, today)
        assert png_size(data)[0] == 1080 and len(data) < MAX_PNG_BYTES


def test_rows_may_be_plain_tuples() -> None:
    tuples = [(1, "бірінші", "Ерлан", MARCH, MARCH + timedelta(days=3)), (2, "екінші"),
              (3, "үшінші", "", None, MARCH)]
    assert render_plan(tuples) == render_plan([TaskRow(*t) for t in tuples])


def test_task_validation() -> None:
    for bad in [(0, "абв"), (True, "абв"), (1.0, "абв"), (1, "аб"), (1, "  аб  "),
                (1, "ә" * 151), (1, None), (1, "абв", None), (1, "абв", "Ә" * 101),
                (1, "абв", "", "2026-03-02"), (1, "абв", "", None, datetime(2026, 3, 2)),
                (1, "абв", "", MARCH, MARCH - timedelta(days=1))]:
        with pytest.raises(ValueError):
            TaskRow(*bad)
    assert TaskRow(1, "ә" * 150, "", MARCH, MARCH).due == MARCH
    assert TaskRow(2, "абв").start is None


def test_due_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        render_plan([(1, "абв", "", date(2026, 3, 10), date(2026, 3, 9))])


@pytest.mark.parametrize("rows, today, message", [
    ([(1, "абв"), (1, "где")], None, "twice"),
    ([(1, "абв")], datetime(2026, 3, 2, 12), "today"),
    ([(1, "абв")], "2026-03-02", "today"),
])
def test_repeated_numbers_and_a_today_that_is_not_a_date_are_refused(rows, today, message):
    with pytest.raises(ValueError, match=message):
        render_plan(rows, None, today)


async def test_renders_off_the_event_loop_deterministically() -> None:
    rows = tasks(12)
    expected = render_plan(rows, KK, MARCH)
    assert [await render(render_plan, rows, KK, MARCH) for _ in range(2)] == [expected] * 2


# --- the plan's own layout --------------------------------------------------------------------

def test_a_bar_starts_and_ends_at_its_dates_on_the_axis() -> None:
    """Bars cover whole days: from where the start day's number is on the axis to where the
    number of the day after the due day is."""
    rows = [TaskRow(1, "бірінші", "А", date(2026, 3, 3), date(2026, 3, 5)),
            TaskRow(2, "екінші", "Б", date(2026, 3, 2), date(2026, 3, 2)),
            TaskRow(3, "үшінші", "", date(2026, 3, 9), date(2026, 3, 14))]
    fig = plan_chart(rows, KK).figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (batch,) = [b for b in fig.findobj(TextBatch) if any(i[2] == "14" for i in b._items)]
    day_x = {}  # the middle of each day number on the axis: where its day starts
    for (_, _, text, _), box in zip(batch._items, batch.get_window_extents(renderer)):
        day_x[date(2026, 3, int(text))] = (box.x0 + box.x1) / 2
    assert sorted(day_x) == [date(2026, 3, d) for d in range(2, 15)]  # every day: 13 days
    spans = {owner_of(fig, rows)[i]: (x0, x1) for i, (x0, _, x1, _) in enumerate(bars(fig))}
    assert sorted(spans) == [1, 2, 3]
    step = day_x[date(2026, 3, 3)] - day_x[date(2026, 3, 2)]
    for row in rows:
        x0, x1 = spans[row.number]
        assert x0 == pytest.approx(day_x[row.start], abs=0.6)
        end = day_x.get(row.due + timedelta(days=1), day_x[row.due] + step)
        assert x1 == pytest.approx(end, abs=0.6)
    # The axis runs from the earliest start to the latest due, across the page.
    axis = timeline(rows, 28, 1080 - 28)
    assert (axis.first, axis.last) == (date(2026, 3, 2), date(2026, 3, 14))
    assert min(x0 for x0, _ in spans.values()) == pytest.approx(28, abs=0.6)
    assert max(x1 for _, x1 in spans.values()) == pytest.approx(1080 - 28, abs=0.6)
    for row in rows:
        assert spans[row.number] == pytest.approx(axis.span(row.start, row.due), abs=0.6)


@pytest.mark.parametrize("rows", [tasks(30), tasks(30, 150, 400), tasks(30, 150, 1200)],
                         ids=["90-days", "400-days", "1200-days"])
def test_bars_follow_the_axis_at_any_span(rows) -> None:
    fig = plan_chart(rows, KK).figure
    axis = timeline(rows, 28, 1080 - 28)
    by_number = {r.number: r for r in rows}
    owners = owner_of(fig, rows)
    assert sorted(owners.values()) == sorted(r.number for r in rows if r.start and r.due)
    for i, (x0, _, x1, _) in enumerate(bars(fig)):
        row = by_number[owners[i]]
        start, end = axis.span(row.start, row.due)
        assert x0 == pytest.approx(start, abs=0.6)
        assert x1 == pytest.approx(max(end, start + 4), abs=0.6)  # at least 4 px wide
    # Months are named on the axis (some months at least, whatever the span).
    names = set(KK["months"].split(","))
    shown = {text.split(" ")[0] for text, _, _ in drawn(fig)}
    assert len(names & shown) >= 2


def test_tasks_without_dates_are_listed_below_without_a_bar() -> None:
    rows = tasks(20, 60, unscheduled=4)
    undated = [r.number for r in rows if r.start is None and r.due is None]
    assert len(undated) == 5
    fig = plan_chart(rows, KK).figure
    at = numbers(fig)
    heading = {text: y for text, _, y in drawn(fig)}[KK["unscheduled"]]
    # Below the heading, in the order of their numbers; everything else above it.
    assert all(at[n][1] < heading for n in undated)
    assert all(at[r.number][1] > heading for r in rows if r.number not in undated)
    assert sorted(undated, key=lambda n: -at[n][1]) == undated
    # No bar or diamond below the heading, and none for those tasks.
    assert all(bottom > heading for _, bottom, _, _ in bars(fig))
    assert all(y > heading for _, y in diamonds(fig))
    assert not set(owner_of(fig, rows).values()) & set(undated)
    # A plan where nothing is scheduled has no axis at all: no bar, no day numbers.
    fig = plan_chart(tasks(6, unscheduled=1), KK).figure
    assert not bars(fig) and not diamonds(fig)
    assert not [text for text, _, _ in drawn(fig) if text.isdigit()]
    # And with every task scheduled there is no heading.
    fig = plan_chart(FIVE[:3], KK).figure
    assert KK["unscheduled"] not in {text for text, _, _ in drawn(fig)}


def test_a_task_with_one_date_is_a_diamond_on_that_day() -> None:
    rows = [TaskRow(1, "бастау", "А", date(2026, 3, 2), date(2026, 3, 31)),
            TaskRow(2, "мерзімі ғана", "Б", None, date(2026, 3, 20)),
            TaskRow(3, "басы ғана", "", date(2026, 3, 10), None)]
    fig = plan_chart(rows, KK).figure
    axis = timeline(rows, 28, 1080 - 28)
    points = sorted(diamonds(fig), key=lambda p: -p[1])  # top first
    assert len(points) == 2 and len(bars(fig)) == 1
    at = numbers(fig)
    # In the order they start: #1 (2 March), #3 (10 March), #2 (20 March).
    assert at[1][1] > at[3][1] > at[2][1]
    assert points[0][0] == pytest.approx(axis.middle(date(2026, 3, 10)), abs=0.6)
    assert points[1][0] == pytest.approx(axis.middle(date(2026, 3, 20)), abs=0.6)
    assert at[3][1] > points[0][1] > at[2][1] > points[1][1]


def test_tasks_are_drawn_in_the_order_they_start() -> None:
    rows = tasks(30)
    at = numbers(plan_chart(rows).figure)
    dated = [r for r in rows if r.start or r.due]
    order = sorted(dated, key=lambda r: (r.start or r.due, r.due or r.start, r.number))
    assert sorted(dated, key=lambda r: -at[r.number][1]) == order


@pytest.mark.parametrize("today, shown", [
    (date(2026, 3, 1), False), (date(2026, 3, 2), True), (date(2026, 3, 10), True),
    (date(2026, 3, 14), True), (date(2026, 3, 15), False), (None, False)])
def test_the_today_line_appears_only_when_today_is_in_the_plan(today, shown) -> None:
    rows = [TaskRow(1, "бірінші", "А", date(2026, 3, 3), date(2026, 3, 5)),
            TaskRow(2, "екінші", "Б", date(2026, 3, 2), date(2026, 3, 14)),
            TaskRow(3, "үшінші", "", None, None)]
    fig = plan_chart(rows, KK, today).figure
    texts = {text for text, _, _ in drawn(fig)}
    lines = today_lines(fig)
    assert (KK["today"] in texts) is shown
    assert bool(lines) is shown
    if shown:
        axis = timeline(rows, 28, 1080 - 28)
        xs = {round(float(x), 3) for line in lines
              for x in line.get_transform().transform(line.get_xydata())[:, 0] if x == x}
        assert xs == {round(axis.middle(today), 3)}
        # It runs through both tasks' lanes, under its label.
        ys = [y for line in lines for y in line.get_transform().transform(
            line.get_xydata())[:, 1] if y == y]
        label_y = {text: y for text, _, y in drawn(fig)}[KK["today"]]
        at = numbers(fig)
        assert max(ys) < label_y and min(ys) < at[1][1] < at[2][1] < max(ys)
    # Never when nothing is scheduled.
    assert not today_lines(plan_chart(rows[2:], KK, today).figure)


def test_colours_are_colour_blind_safe_and_never_the_only_cue() -> None:
    fig = plan_chart(FIVE, KK, date(2026, 3, 10)).figure
    faces = {matplotlib.colors.to_hex(c) for coll in fig.findobj(PolyCollection)
             for c in coll.get_facecolors()}
    edges = {matplotlib.colors.to_hex(c) for coll in fig.findobj(PolyCollection)
             for c in coll.get_edgecolors()}
    blue = OKABE_ITO["blue"].lower()
    assert blue in faces and blue in edges  # taken: solid blue; not taken: outlined in blue
    assert len(faces) == 2
    assert [matplotlib.colors.to_hex(a.get_color()) for a in today_lines(fig)] == [
        OKABE_ITO["vermillion"].lower()]
    # A task nobody has taken says so in words too.
    shown = [text for text, _, _ in drawn(fig)]
    assert shown.count(KK["owner_none"]) == 2


def test_many_tasks_get_one_line_and_the_axis_again_below() -> None:
    rows = tasks(30, 150, unscheduled=0)
    fig = plan_chart(rows, KK).figure
    titles = [t for t in fig.findobj(Text) if t.get_text().startswith(tuple("0123456789"))
              and ")" in t.get_text()]
    assert len(titles) == 30 and all(t.get_text().endswith("…") for t in titles)
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()) >= SIZE_SMALL
    months = [text for text, _, _ in drawn(fig) if text in KK["months"].split(",")]
    assert len(months) == 2 * len(set(months))  # above and below
    few = plan_chart(FIVE, KK).figure
    first = [t.get_text() for t in few.findobj(Text)]
    assert FIVE[1].title in first  # whole
    months = [text for text, _, _ in drawn(few) if text in KK["months"].split(",")]
    assert months == ["нау"]
