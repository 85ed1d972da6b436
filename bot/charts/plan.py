"""Action plan (іс-қимыл жоспары) of step 5 as a Gantt chart.

A phone screen is too narrow for the usual Gantt layout (names in a column on the left, bars
on the right), so each task takes two lines across the whole page, as in a Telegram poll:
its number ("#3"), its title and, right-aligned in smaller muted text, the responsible member
(`owner_none` when nobody has taken it); under them its bar on the date axis, which runs
across the page from the earliest date of the plan to the latest. A bar covers whole days:
from the start of its first day to the end of its due day. Tasks are in the order they start.

The axis above the tasks (repeated below them when there are many) has the months' names
(the caller's `months`, with the year when the plan runs into another year) and the days'
numbers: every day for a plan of up to about three weeks, Mondays for one of up to about five
months, none for a longer one. Month starts and those days are faint vertical lines in the
bars' lanes, never through the text. `today`, when it falls in the plan, is a vermillion line
through the lanes under its label on the axis.

A task with only one date (a start or a deadline) is a diamond on that day; tasks with no
date are listed under `unscheduled`, below the chart, in the order of their numbers.
Bars are Okabe & Ito's blue: solid for a task someone has taken, a pale fill with a blue
outline for one nobody has (which the owner's text says too: never colour alone).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from matplotlib.lines import Line2D

from bot.charts.common import (
    ASCENT, DPI, HAIRLINE, INK, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE, SIZE_SMALL, SIZE_TEXT,
    Chart, Sheet, blend, clean, em, fit_lines, merge_labels, polyline, serialized, width_of,
)
from bot.charts.data import TaskRow, coerce

LABELS = {
    "title": "Action plan",
    "subtitle": "",  # e.g. "12 tasks · 9 taken · 3 not scheduled yet"
    "owner_none": "no one yet",  # in place of the owner of a task nobody has taken
    "unscheduled": "Not scheduled yet",  # the heading of the tasks without dates
    "today": "today",  # over the today line
    "empty": "No tasks yet",
    # The twelve months' short names, January first, comma-separated.
    "months": "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec",
}

BAR = OKABE_ITO["blue"]
BAR_OPEN = blend(BAR, PAPER, 0.8)  # the fill of a task nobody has taken
TODAY = OKABE_ITO["vermillion"]
MANY = 10  # more tasks than this: smaller text, one line a title, the axis repeated below
DAY_GAP = 0.6  # ems of free space kept between two day numbers on the axis
MONTH_STEPS = (1, 2, 3, 4, 6, 12)  # every how many months a month's name is shown


def _check_date(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise ValueError(f"{name} must be a datetime.date or None, got {value!r}")


def _validated(rows: Iterable[TaskRow | tuple]) -> list[TaskRow]:
    rows = [coerce(TaskRow, r) for r in rows]
    seen: set[int] = set()
    for row in rows:
        if row.number in seen:
            raise ValueError(f"task number #{row.number} is used twice")
        seen.add(row.number)
    return rows


@dataclass(frozen=True)
class Timeline:
    """The date axis: day *first* starts at x *left*, day *last* ends at x *right* (pixels)."""

    first: date
    last: date
    left: float
    right: float

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def day_px(self) -> float:
        return (self.right - self.left) / self.days

    def x(self, day: date) -> float:
        """Where *day* starts (the day after `last`: where the axis ends)."""
        return self.left + (day - self.first).days * self.day_px

    def span(self, start: date, due: date) -> tuple[float, float]:
        """The bar of a task from the start of *start* to the end of *due*."""
        return self.x(start), self.x(due + timedelta(days=1))

    def middle(self, day: date) -> float:
        return self.x(day) + self.day_px / 2

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


def timeline(rows: Iterable[TaskRow | tuple], left: float, right: float) -> Timeline | None:
    """The axis from the earliest date of *rows* to the latest, between *left* and *right*;
    None when no task has a date."""
    days = [d for r in _validated(rows) for d in (r.start, r.due) if d is not None]
    return Timeline(min(days), max(days), left, right) if days else None


def _month_names(text: str) -> list[str]:
    names = [clean(n) for n in text.split(",")]
    if len(names) != 12:
        raise ValueError(f"the months label must name 12 months, comma-separated, got {text!r}")
    return names


def _next_month(day: date, months: int = 1) -> date:
    """The first day of the month *months* after *day*'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_starts(axis: Timeline) -> list[date]:
    """The first day of every month from the one *first* is in to the one *last* is in."""
    out = []
    day = axis.first.replace(day=1)
    while day <= axis.last:
        out.append(day)
        day = _next_month(day)
    return out


@dataclass
class _Axis:
    """What the axis shows: (x, text, left-aligned?) of the months' and the days' labels, the
    x of the month starts and of the days' lines."""

    months: list[tuple[float, str]]
    days: list[tuple[float, str]]
    month_lines: list[float]
    day_lines: list[float]


def _axis_labels(axis: Timeline, names: Sequence[str], size: float) -> _Axis:
    e = em(size)
    starts = _month_starts(axis)
    month_lines = [axis.x(m) for m in starts if m > axis.first]
    shown: list[date] = []
    step = 1
    years = axis.first.year != axis.last.year

    # Months: the name left-aligned just after the month's start (or the axis' start), every
    # `step` months, the smallest step at which every name fits before the next.
    months: list[tuple[float, str]] = []
    for step in MONTH_STEPS:
        months = []
        dropped = False
        shown = [m for m in starts if (m.month - 1) % step == 0 or m == starts[0]]
        for i, m in enumerate(shown):
            text = names[m.month - 1]
            if years and (not months or m.month == 1):
                text = f"{text} {m.year}"
            x = max(axis.x(m), axis.left) + e * 0.25
            end = axis.x(shown[i + 1]) if i + 1 < len(shown) else axis.right
            if x + width_of(text, size, bold=True) + e * 0.3 > end or not text:
                # The first and last names may go when the axis cuts their months short.
                clipped = (i == 0 and m < axis.first) or (
                    i + 1 == len(shown) and axis.x(_next_month(m, step)) > axis.right)
                dropped = dropped or (bool(text) and not clipped)
                continue
            months.append((x, text))
        if not dropped:
            break

    # Days: every day, or the Mondays, when their numbers fit between the lines.
    widest = width_of("28", size) + e * DAY_GAP
    if axis.day_px >= widest:
        ticks = [axis.first + timedelta(days=i) for i in range(axis.days)]
    elif axis.day_px * 7 >= widest:
        ticks = [axis.first + timedelta(days=i) for i in range(axis.days)
                 if (axis.first + timedelta(days=i)).weekday() == 0]
    else:
        ticks = []
    days = [(axis.x(d), str(d.day)) for d in ticks]
    day_lines = [axis.x(d) for d in ticks if d.day != 1 and d > axis.first]
    # Months whose names are left out (every `step`-th is shown) get the days' fainter line.
    strong = [axis.x(m) for m in shown[1:]] if step > 1 else month_lines
    day_lines += [x for x in month_lines if x not in strong]
    return _Axis(months, days, strong, day_lines)


@dataclass
class _Row:
    row: TaskRow
    lines: list[str]  # the title, wrapped
    owner: str  # the owner's name or `owner_none`, shortened


@serialized
def plan_chart(rows: Iterable[TaskRow | tuple], labels: Mapping[str, str] | None = None,
               today: date | None = None) -> Chart:
    """The plan's tasks as bars on a date axis, in the order they start; those without dates
    listed below. *today* (a date) draws a line when it falls in the plan."""
    rows = _validated(rows)
    _check_date("today", today)
    labels = merge_labels(LABELS, labels)
    names = _month_names(labels["months"])

    sheet = Sheet()
    right = sheet.width - MARGIN_PX
    inner = right - MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if not rows:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT, 2),
                        SIZE_TEXT, color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    many = len(rows) > MANY
    size = SIZE_SMALL if many else SIZE_TEXT
    e = em(size)
    max_lines = 1 if many else 2
    number_w = max(width_of(f"#{r.number}", size, bold=True) for r in rows)
    title_x = MARGIN_PX + number_w + e * 0.4
    dated = sorted((r for r in rows if r.start is not None or r.due is not None),
                   key=lambda r: (r.start or r.due, r.due or r.start, r.number))
    undated = sorted((r for r in rows if r.start is None and r.due is None),
                     key=lambda r: r.number)

    def laid_out(row: TaskRow) -> _Row:
        owner = fit_lines(row.owner or labels["owner_none"], inner * 0.35, SIZE_SMALL, 1)[0]
        owner_w = width_of(owner, SIZE_SMALL) + e * 0.6 if clean(owner) else 0.0
        return _Row(row, fit_lines(row.title, right - owner_w - title_x, size, max_lines), owner)

    segments: dict[str, list[tuple[float, float, float, float]]] = {
        "month": [], "day": [], "today": []}
    diamonds: list[tuple[float, float, bool]] = []
    axis = timeline(dated, MARGIN_PX, right) if dated else None
    if axis is not None:
        ticks = _axis_labels(axis, names, SIZE_SMALL)
        now = today in axis
        today_x = axis.middle(today) if now else 0.0
        label_bottom, y = _draw_axis(sheet, y, ticks, labels["today"] if now else None,
                                     today_x, axis)
        if now:
            segments["today"].append((today_x, label_bottom, today_x, y))
        pad = e * 0.3
        bar_h = e * 0.75
        lane_pad = e * 0.25
        solid: list[tuple[float, float, float, float]] = []
        hollow: list[tuple[float, float, float, float]] = []
        numbers: list[tuple[float, float, str, str]] = []
        for i, item in enumerate(map(laid_out, dated)):
            if i:
                sheet.line(MARGIN_PX, y, right, y, HAIRLINE, 1.0)
            y = _task_text(sheet, y + pad, item, size, title_x, number_w, numbers)
            lane_bottom = y + lane_pad + bar_h + lane_pad
            bar_top = y + lane_pad
            row = item.row
            if row.start is not None and row.due is not None:
                x0, x1 = axis.span(row.start, row.due)
                (solid if row.owner else hollow).append((x0, bar_top, max(x1 - x0, 4.0), bar_h))
            else:
                day = row.start if row.start is not None else row.due
                diamonds.append((axis.middle(day), bar_top + bar_h / 2, bool(row.owner)))
            for key, xs in (("month", ticks.month_lines), ("day", ticks.day_lines)):
                segments[key] += [(x, y, x, lane_bottom) for x in xs]
            if now:
                segments["today"].append((today_x, y, today_x, lane_bottom))
            y = lane_bottom + pad
        if solid:
            sheet.rects(solid, [BAR] * len(solid), edge="none", linewidth=0.0)
        if hollow:
            sheet.rects(hollow, [BAR_OPEN] * len(hollow), edge=BAR, linewidth=1.5 * 72 / DPI)
        sheet.text_batch(numbers, size, bold=True)
        if many:
            sheet.line(MARGIN_PX, y, right, y, RULE, 1.0)
            y = _axis_rows(sheet, y + e * 0.3, ticks)
    else:
        y -= em(SIZE_TEXT) * 0.3

    if undated:
        y += em(SIZE_TEXT) * (1.0 if axis is not None else 0.0)
        y = draw_unscheduled(sheet, y, labels["unscheduled"], [laid_out(r) for r in undated], inner, right, size,
                             title_x, number_w)

    height = y + MARGIN_PX
    chart = sheet.chart(height)
    extra = tuple(c for c in (BAR, TODAY) if c not in chart.flat_colors)
    chart = replace(chart, flat_colors=chart.flat_colors + extra)
    polyline(chart, height, segments["month"], RULE, 1.5, 0.5)
    polyline(chart, height, segments["day"], HAIRLINE, 1.0, 0.4)
    polyline(chart, height, segments["today"], TODAY, 3.0, 2.6)
    _diamonds(chart, height, diamonds, em(size) * 0.95)
    return chart


def draw_unscheduled(sheet: Sheet, y: float, heading: str, items: list, inner: float, right: float, size: float,
                     title_x: float, number_w: float) -> float:
    """The tasks without dates, under their heading, below the time line (the plan and its progress)."""
    e = em(size)
    heading = fit_lines(heading, inner, SIZE_TEXT, 1, bold=True)[0]
    y = sheet.lines(MARGIN_PX, y, [heading], SIZE_TEXT, bold=True) + e * 0.35
    sheet.line(MARGIN_PX, y, right, y, RULE, 1.0)
    numbers: list = []
    for i, item in enumerate(items):
        if i:
            sheet.line(MARGIN_PX, y, right, y, HAIRLINE, 1.0)
        y = _task_text(sheet, y + e * 0.3, item, size, title_x, number_w, numbers) + e * 0.3
    sheet.text_batch(numbers, size, bold=True)
    return y


def _task_text(sheet: Sheet, top: float, item: _Row, size: float, title_x: float,
               number_w: float, numbers: list) -> float:
    """"#3 title …" and, right-aligned on the first line, the owner; returns the bottom."""
    label = f"#{item.row.number}"
    baseline = top + em(size) * ASCENT
    numbers.append((MARGIN_PX + number_w - width_of(label, size, bold=True) / 2, baseline,
                    label, INK))
    if clean(item.owner):
        sheet.text(sheet.width - MARGIN_PX, baseline, item.owner, SIZE_SMALL,
                   color=INK if item.row.owner else MUTED, ha="right")
    return sheet.lines(title_x, top, item.lines, size)


def _axis_rows(sheet: Sheet, top: float, ticks: _Axis) -> float:
    """The months' names, then the days' numbers under them; returns the bottom."""
    size = SIZE_SMALL
    y = top
    if ticks.months:
        baseline = y + em(size) * ASCENT
        for x, text in ticks.months:
            sheet.text(x, baseline, text, size, bold=True)
        y = baseline + em(size) * DESCENT_PAD
    if ticks.days:
        baseline = y + em(size) * ASCENT
        sheet.text_batch([(x, baseline, text, MUTED) for x, text in ticks.days], size)
        y = baseline + em(size) * DESCENT_PAD
    return y


DESCENT_PAD = 0.3  # ems below an axis row's baseline (the digits and most names: no descent)


def _draw_axis(sheet: Sheet, top: float, ticks: _Axis, today: str | None, today_x: float,
               axis: Timeline) -> tuple[float, float]:
    """Months, days, the today label, then the axis' rule; returns the today label's bottom
    and where the tasks start."""
    size = SIZE_SMALL
    y = _axis_rows(sheet, top, ticks)
    if today is not None:
        text = fit_lines(today, axis.right - axis.left, size, 1, bold=True)[0]
        w = width_of(text, size, bold=True)
        x = min(max(today_x - w / 2, axis.left), axis.right - w)
        baseline = y + em(size) * (ASCENT + 0.1)
        if clean(text):
            sheet.text(x, baseline, text, size, bold=True, color=TODAY)
        y = baseline + em(size) * 0.3
    label_bottom = y
    y += em(size) * 0.15
    sheet.line(MARGIN_PX, y, sheet.width - MARGIN_PX, y, RULE, 1.5)
    return label_bottom, y + 1


def _diamonds(chart: Chart, height: float, points: list[tuple[float, float, bool]],
              size_px: float) -> None:
    """A diamond a task with a single date: solid when taken, pale with an outline if not."""
    height = math.ceil(height)
    fig = chart.figure
    for taken in (True, False):
        at = [(x / DPI, (height - y) / DPI) for x, y, t in points if t is taken]
        if not at:
            continue
        xs, ys = zip(*at)
        fig.add_artist(Line2D(xs, ys, transform=fig.dpi_scale_trans, linestyle="none",
                              marker="D", markersize=size_px * 0.75 * 72 / DPI,
                              markerfacecolor=BAR if taken else BAR_OPEN, markeredgecolor=BAR,
                              markeredgewidth=1.5 * 72 / DPI, zorder=2.5))


@serialized
def render_plan(rows: Iterable[TaskRow | tuple], labels: Mapping[str, str] | None = None,
                today: date | None = None) -> bytes:
    """PNG bytes of `plan_chart`."""
    return plan_chart(rows, labels, today).png()
