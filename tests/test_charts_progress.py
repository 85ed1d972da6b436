"""The progress chart of step 6: the plan's bars filled to their percent, legible for 30 tasks
with long Kazakh labels, small, and never colour alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.charts import ProgressRow, render_progress
from bot.charts.progress import COLORS, LABELS, progress_chart
from tests.test_charts import (assert_disjoint, assert_inside_page, assert_readable_png, assert_text_clear_of_shapes,
                               render_quietly, text_boxes)
from tests.test_charts_plan import KK, MARCH, assert_text_clear_of_bars, bars, tasks

KK_PROGRESS = {**KK, "title": "Жоспардың орындалуы", "done": "орындалды", "on_track": "кесте бойынша",
               "late": "кешігуде", "blocked": "тоқтап тұр", "none": "әлі есеп жоқ"}
STATUSES = ("done", "on_track", "late", "blocked", "none")


def progress(n: int, length: int = 150) -> list[ProgressRow]:
    rows = []
    for i, t in enumerate(tasks(n, length)):
        start, due = (t.start, t.due) if t.start and t.due else (None, None)
        status = STATUSES[i % 5]
        rows.append(ProgressRow(t.number, t.title, t.owner, start, due, status,
                                0 if status == "none" else (100 if status == "done" else (i * 23) % 101)))
    return rows


@pytest.mark.parametrize("rows", [progress(1), progress(5), progress(30), progress(30, 40), []],
                         ids=["1", "5", "30", "30-short", "empty"])
def test_chart_is_a_small_readable_png(rows) -> None:
    data, complaints = render_quietly(render_progress, rows, KK_PROGRESS, MARCH + timedelta(days=20))
    assert_readable_png(data, complaints, 3000)
    assert len(data) < 200_000


@pytest.mark.parametrize("rows", [progress(5), progress(30)], ids=["5", "30"])
def test_long_kazakh_labels_never_overlap_or_leave_the_page(rows) -> None:
    long_labels = {k: f"{v} {v} {v}" for k, v in KK_PROGRESS.items() if k != "months"}
    long_labels["months"] = KK["months"]
    for labels in (KK_PROGRESS, long_labels):
        fig = progress_chart(rows, labels, MARCH + timedelta(days=10)).figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = text_boxes(fig, renderer)
        assert_inside_page(boxes, renderer)
        assert_disjoint(boxes)
        assert_text_clear_of_shapes(fig, renderer)
        assert_text_clear_of_bars(fig, boxes)


def test_each_bar_is_filled_to_its_percent_in_its_status_colour_and_the_status_is_written() -> None:
    rows = [ProgressRow(1, "Арық қазу", "Ерлан", MARCH, MARCH + timedelta(days=9), "late", 40),
            ProgressRow(2, "Хат жазу", "Гүлнар", MARCH, MARCH + timedelta(days=9), "done", 100)]
    fig = progress_chart(rows, KK_PROGRESS, MARCH).figure
    fig.canvas.draw()
    spans = bars(fig)
    full = [b for b in spans if round(b[2] - b[0]) >= round(max(s[2] - s[0] for s in spans)) - 1]
    filled = [b for b in spans if b not in full]
    assert len(filled) == 1  # #1's 40 %, while #2's fill is its whole bar
    assert abs((filled[0][2] - filled[0][0]) / (full[0][2] - full[0][0]) - 0.4) < 0.02
    texts = " ".join(t.get_text() for t in fig.texts) + " ".join(
        item[2] for batch in fig.findobj(lambda a: hasattr(a, "_items")) for item in batch._items)
    assert "кешігуде 40%" in texts and "орындалды 100%" in texts


def test_a_wrong_status_or_percent_is_refused() -> None:
    with pytest.raises(ValueError):
        ProgressRow(1, "x", status="lost")
    with pytest.raises(ValueError):
        ProgressRow(1, "x", status="late", percent=150)
    assert set(COLORS) == set(STATUSES) and set(LABELS) >= set(STATUSES)
