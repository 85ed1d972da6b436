"""Progress of the action plan in step 6 (мониторинг): the plan's Gantt chart with each bar
filled to its task's percent.

Laid out as `bot.charts.plan` (two lines a task across the page: "#3 title" with, right-aligned,
the owner, the percent and the status in words; under them the bar on the date axis, today
marked). A bar's whole span is a pale outline, filled from its start to its percent in the
status's colour: Okabe & Ito's bluish green when done, blue on track, orange (the warning
colour) when late, reddish purple with a black border when blocked; the status is written out
too (never colour alone). Tasks without dates are listed below with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date

from bot.charts.common import (
    DPI, HAIRLINE, INK, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE, SIZE_SMALL, SIZE_TEXT, Chart, Sheet, blend,
    clean, em, fit_lines, merge_labels, polyline, serialized, width_of,
)
from bot.charts.data import PROGRESS_STATUSES, ProgressRow, coerce
from bot.charts.plan import (TODAY, _axis_labels, _axis_rows, _draw_axis, _month_names, _Row, _task_text,
                             draw_unscheduled, timeline)

LABELS = {
    "title": "Plan progress",
    "subtitle": "",
    "owner_none": "no one yet",
    "unscheduled": "Not scheduled yet",
    "today": "today",
    "empty": "No tasks yet",
    "months": "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec",
    "done": "done",
    "on_track": "on track",
    "late": "late",
    "blocked": "blocked",
    "none": "no report yet",
}
COLORS = {"done": OKABE_ITO["green"], "on_track": OKABE_ITO["blue"], "late": OKABE_ITO["orange"],
          "blocked": OKABE_ITO["purple"], "none": "#9E9E9E"}
STATUSES = PROGRESS_STATUSES
assert tuple(COLORS) == STATUSES
MANY = 10


@serialized
def progress_chart(rows: Iterable[ProgressRow | tuple], labels: Mapping[str, str] | None = None,
                   today: date | None = None) -> Chart:
    rows = [coerce(ProgressRow, r) for r in rows]
    labels = merge_labels(LABELS, labels)
    names = _month_names(labels["months"])
    sheet = Sheet()
    right = sheet.width - MARGIN_PX
    inner = right - MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if not rows:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT, 2), SIZE_TEXT, color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    many = len(rows) > MANY
    size = SIZE_SMALL if many else SIZE_TEXT
    e = em(size)
    number_w = max(width_of(f"#{r.number}", size, bold=True) for r in rows)
    title_x = MARGIN_PX + number_w + e * 0.4
    dated = sorted((r for r in rows if r.start is not None and r.due is not None),
                   key=lambda r: (r.start, r.due, r.number))
    undated = sorted((r for r in rows if r.start is None or r.due is None), key=lambda r: r.number)

    def laid_out(row: ProgressRow) -> _Row:
        who = row.owner or labels["owner_none"]
        state = labels[row.status] + ("" if row.status == "none" else f" {row.percent}%")
        side = fit_lines(f"{state} · {who}", inner * 0.5, SIZE_SMALL, 1)[0]  # the status first: kept whole
        side_w = width_of(side, SIZE_SMALL) + e * 0.6 if clean(side) else 0.0
        lines = fit_lines(row.title, right - side_w - title_x, size, 1 if many else 2)
        return _Row(row, lines, side)  # type: ignore[arg-type]  (a ProgressRow has what _task_text reads)

    segments: dict[str, list[tuple[float, float, float, float]]] = {"month": [], "day": [], "today": []}
    axis = timeline([(r.number, r.title, r.owner, r.start, r.due) for r in dated], MARGIN_PX, right) if dated else None
    outlines: list[tuple[float, float, float, float]] = []
    fills: list[tuple[float, float, float, float]] = []
    fill_colors: list[str] = []
    blocked: list[tuple[float, float, float, float]] = []
    if axis is not None:
        ticks = _axis_labels(axis, names, SIZE_SMALL)
        now = today in axis
        today_x = axis.middle(today) if now else 0.0
        label_bottom, y = _draw_axis(sheet, y, ticks, labels["today"] if now else None, today_x, axis)
        if now:
            segments["today"].append((today_x, label_bottom, today_x, y))
        pad, bar_h, lane_pad = e * 0.3, e * 0.75, e * 0.25
        numbers: list = []
        for i, item in enumerate(map(laid_out, dated)):
            if i:
                sheet.line(MARGIN_PX, y, right, y, HAIRLINE, 1.0)
            y = _task_text(sheet, y + pad, item, size, title_x, number_w, numbers)
            bar_top = y + lane_pad
            lane_bottom = bar_top + bar_h + lane_pad
            row: ProgressRow = item.row  # type: ignore[assignment]
            x0, x1 = axis.span(row.start, row.due)
            width = max(x1 - x0, 4.0)
            outlines.append((x0, bar_top, width, bar_h))
            if row.percent:
                fills.append((x0, bar_top, max(width * row.percent / 100, 2.0), bar_h))
                fill_colors.append(COLORS[row.status])
            if row.status == "blocked":
                blocked.append((x0, bar_top, width, bar_h))
            for key, xs in (("month", ticks.month_lines), ("day", ticks.day_lines)):
                segments[key] += [(x, y, x, lane_bottom) for x in xs]
            if now:
                segments["today"].append((today_x, y, today_x, lane_bottom))
            y = lane_bottom + pad
        sheet.rects(outlines, [blend(COLORS[r.status], PAPER, 0.85) for r in dated], edge=RULE,
                    linewidth=1.0 * 72 / DPI)
        if fills:
            sheet.rects(fills, fill_colors, edge="none", linewidth=0.0)
        if blocked:
            sheet.rects(blocked, ["none"] * len(blocked), edge=INK, linewidth=2.5 * 72 / DPI)
        sheet.text_batch(numbers, size, bold=True)
        if many:
            sheet.line(MARGIN_PX, y, right, y, RULE, 1.0)
            y = _axis_rows(sheet, y + e * 0.3, ticks)
    if undated:
        y += em(SIZE_TEXT) * (1.0 if axis is not None else 0.0)
        y = draw_unscheduled(sheet, y, labels["unscheduled"], [laid_out(r) for r in undated], inner, right, size,
                             title_x, number_w)

    height = y + MARGIN_PX
    chart = sheet.chart(height)
    extra = tuple(c for c in (*COLORS.values(), TODAY) if c not in chart.flat_colors)
    chart = replace(chart, flat_colors=chart.flat_colors + extra)
    polyline(chart, height, segments["month"], RULE, 1.5, 0.5)
    polyline(chart, height, segments["day"], HAIRLINE, 1.0, 0.4)
    polyline(chart, height, segments["today"], TODAY, 3.0, 2.6)
    return chart


@serialized
def render_progress(rows: Iterable[ProgressRow | tuple], labels: Mapping[str, str] | None = None,
                    today: date | None = None) -> bytes:
    """PNG bytes of `progress_chart`."""
    return progress_chart(rows, labels, today).png()
