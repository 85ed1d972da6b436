"""Step 7 evaluation (бағалау): the members' answers in three panels, one under another.

1. «Біз қалаған мақсатқа жеттік пе?» ("Did we reach the goal we wanted?"): a row an answer
   (yes, partly, no), its name on the left, a bar on a pale track that stands for every
   answer to the question, and the count with its share on the right (shares rounded so
   they add up to 100 %).
2. The ratings 1 to 5 as a small histogram: a column a rating with its count above it, the
   ratings under the axis, and under them a pointer at the mean on that scale with the
   `mean` label ("mean 3.8", in the caller's decimal mark).
3. "Will take part again": yes and no, drawn as in the first panel.

Shares are of the answers to that question: a member may skip one, so each panel may have
fewer answers than `respondents`. A question nobody answered shows `empty` under its
heading; when nobody answered at all the chart is the header and `empty` only.

Colours are Okabe & Ito's: yes blue, partly sky blue (a lighter yes), no vermillion, the
ratings orange; every bar also has its answer's name or rating next to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from matplotlib.lines import Line2D

from bot.charts.common import (
    CAP, DPI, EMPTY, INK, MARGIN_PX, MUTED, OKABE_ITO, RULE, SIZE_SMALL, SIZE_TEXT, Chart, Sheet,
    block_height, em, fit_lines, fmt_number, merge_labels, serialized, width_of,
)
from bot.charts.data import EvaluationSummary, coerce

LABELS = {
    "title": "Evaluation",
    "subtitle": "",  # e.g. "24 of 30 members answered"
    "question": "Did we reach the goal we wanted?",
    "yes": "Yes",
    "partly": "Partly",
    "no": "No",
    "rating": "Rating, 1 to 5",
    "mean": "mean {mean}",  # under the histogram, by the pointer; {mean} is the number
    "again": "Will take part again",
    "again_yes": "Yes",
    "again_no": "No",
    "empty": "No answers yet",
    "decimal": ".",  # the decimal mark of the mean
}

YES = OKABE_ITO["blue"]
PARTLY = OKABE_ITO["sky_blue"]
NO = OKABE_ITO["vermillion"]
RATING = OKABE_ITO["orange"]
POINTER = INK
TRACK = EMPTY  # the whole of a question's answers, behind each bar


def percents(counts: Sequence[int]) -> list[int]:
    """Whole percentages of *counts* that add up to 100 (largest remainders get the rest);
    all zeros when there are no counts."""
    total = sum(counts)
    if not total:
        return [0] * len(counts)
    exact = [100 * c / total for c in counts]
    out = [math.floor(p) for p in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: (out[i] - exact[i], i))
    for i in by_remainder[: 100 - sum(out)]:
        out[i] += 1
    return out


def mean_rating(ratings: Sequence[int]) -> float | None:
    """The mean of the ratings 1..5 given *ratings[k]* times each; None without ratings."""
    total = sum(ratings)
    return sum((k + 1) * c for k, c in enumerate(ratings)) / total if total else None


@serialized
def evaluation_chart(summary: EvaluationSummary | tuple | Mapping[str, Any],
                     labels: Mapping[str, str] | None = None) -> Chart:
    """The goal answers, the ratings' histogram and the take-part-again answers."""
    summary = coerce(EvaluationSummary, summary)
    labels = merge_labels(LABELS, labels)
    if "{mean}" not in labels["mean"]:
        raise ValueError(f"the mean label must contain {{mean}}, got {labels['mean']!r}")

    sheet = Sheet()
    inner = sheet.width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if not summary.respondents:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT, 2),
                        SIZE_TEXT, color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    goal = [(labels["yes"], YES), (labels["partly"], PARTLY), (labels["no"], NO)]
    again = [(labels["again_yes"], YES), (labels["again_no"], NO)]
    # One column for the answers' names in both panels, so their bars line up.
    names = [fit_lines(name, inner * 0.32, SIZE_TEXT, 2, bold=True)
             for name, _ in goal + again]
    name_w = max(width_of(line, SIZE_TEXT, bold=True) for lines in names for line in lines)

    y = _heading(sheet, y, labels["question"])
    y = _answers(sheet, y, list(zip(names[:3], summary.goal, (c for _, c in goal))), name_w,
                 labels["empty"])
    y = _divider(sheet, y)
    y = _heading(sheet, y, labels["rating"])
    y, pointer = _histogram(sheet, y, summary.ratings, labels)
    y = _divider(sheet, y)
    y = _heading(sheet, y, labels["again"])
    y = _answers(sheet, y, list(zip(names[3:], summary.again, (c for _, c in again))), name_w,
                 labels["empty"])

    height = y + MARGIN_PX
    chart = sheet.chart(height)
    if pointer is not None:
        x, middle, side = pointer
        fig = chart.figure
        fig.add_artist(Line2D([x / DPI], [(math.ceil(height) - middle) / DPI],
                              transform=fig.dpi_scale_trans, linestyle="none", marker="^",
                              markersize=side * 72 / DPI, markerfacecolor=POINTER,
                              markeredgecolor=POINTER, markeredgewidth=0.0, zorder=2.5))
        if POINTER not in chart.flat_colors:
            chart = replace(chart, flat_colors=chart.flat_colors + (POINTER,))
    return chart


def _heading(sheet: Sheet, top: float, text: str) -> float:
    """A panel's heading (bold, up to 2 lines); returns where its content starts."""
    lines = fit_lines(text, sheet.width - 2 * MARGIN_PX, SIZE_TEXT, 2, bold=True)
    return sheet.lines(MARGIN_PX, top, lines, SIZE_TEXT, bold=True) + em(SIZE_TEXT) * 0.5


def _divider(sheet: Sheet, top: float) -> float:
    """A rule between two panels; returns where the next one starts."""
    e = em(SIZE_TEXT)
    y = top + e * 0.7
    sheet.line(MARGIN_PX, y, sheet.width - MARGIN_PX, y, RULE, 1.0)
    return y + e * 0.8


def _empty(sheet: Sheet, top: float, text: str) -> float:
    lines = fit_lines(text, sheet.width - 2 * MARGIN_PX, SIZE_TEXT, 2)
    return sheet.lines(MARGIN_PX, top, lines, SIZE_TEXT, color=MUTED)


def _answers(sheet: Sheet, top: float, rows: list[tuple[list[str], int, str]], name_w: float,
             empty: str) -> float:
    """A row an answer: its name, its bar on the track, the count and share right-aligned;
    returns the bottom."""
    counts = [count for _, count, _ in rows]
    total = sum(counts)
    if not total:
        return _empty(sheet, top, empty)
    size, small = SIZE_TEXT, SIZE_SMALL
    e = em(size)
    right = sheet.width - MARGIN_PX
    shares = [f"{p}%" for p in percents(counts)]
    share_w = max(width_of("100%", small), *(width_of(s, small) for s in shares))
    count_w = max(width_of(str(c), size, bold=True) for c in counts)
    count_right = right - share_w - e * 0.4
    bar_x = MARGIN_PX + name_w + e * 0.6
    bar_max = count_right - count_w - e * 0.6 - bar_x
    bar_h = e * 0.85
    row_h = max(block_height(max(len(n) for n, _, _ in rows), size), bar_h) + e * 0.5
    cap = e * CAP
    tracks, bars, colors = [], [], []
    for i, (name, count, color) in enumerate(rows):
        middle = top + row_h * (i + 0.5)
        sheet.lines_centered(MARGIN_PX, middle, name, size, bold=True)
        bar_top = middle - bar_h / 2
        tracks.append((bar_x, bar_top, bar_max, bar_h))
        if count:
            bars.append((bar_x, bar_top, max(bar_max * count / total, 2.0), bar_h))
            colors.append(color)
        baseline = middle + cap / 2
        sheet.text(count_right, baseline, str(count), size, bold=True, ha="right")
        sheet.text(right, baseline, shares[i], small, color=MUTED, ha="right")
    sheet.rects(tracks, [TRACK] * len(tracks), edge="none", linewidth=0.0)
    sheet.rects(bars, colors, edge="none", linewidth=0.0)
    return top + row_h * len(rows)


def _histogram(sheet: Sheet, top: float, ratings: Sequence[int], labels: Mapping[str, str],
               ) -> tuple[float, tuple[float, float, float] | None]:
    """Columns of the ratings 1..5 with their counts, the ratings under the axis and the
    pointer at the mean; returns the bottom and the pointer's (x, middle y, side)."""
    mean = mean_rating(ratings)
    if mean is None:
        return _empty(sheet, top, labels["empty"]), None
    size = SIZE_TEXT
    e = em(size)
    cap = e * CAP
    inner = sheet.width - 2 * MARGIN_PX
    right = sheet.width - MARGIN_PX
    col_w = inner / 5
    bar_w = col_w * 0.6
    tall = e * 5.5
    peak = max(ratings)
    base = top + cap + e * 0.35 + tall  # the axis, where the columns stand

    def centre(rating: float) -> float:
        return MARGIN_PX + col_w * (rating - 0.5)

    columns, counts, scale = [], [], []
    for k, count in enumerate(ratings):
        cx = centre(k + 1)
        h = tall * count / peak
        if count:
            columns.append((cx - bar_w / 2, base - h, bar_w, h))
        counts.append((cx, base - h - e * 0.3, str(count), INK if count else MUTED))
        scale.append((cx, base + e * 0.35 + cap, str(k + 1), INK))
    sheet.rects(columns, [RATING] * len(columns), edge="none", linewidth=0.0)
    sheet.line(MARGIN_PX, base, right, base, RULE, 1.5)
    sheet.text_batch(counts, size, bold=True)
    sheet.text_batch(scale, size)

    # The pointer under the scale, its label beside it (on the side with room).
    side = e * 0.75
    middle = base + e * 0.35 + cap + e * 0.55 + side / 2
    x = centre(mean)
    gap = side / 2 + e * 0.3
    room_right, room_left = right - (x + gap), (x - gap) - MARGIN_PX
    text = fit_lines(labels["mean"].replace("{mean}", fmt_number(mean, 1, labels["decimal"])),
                     max(room_right, room_left), size, 1, bold=True)[0]
    if width_of(text, size, bold=True) <= room_right:
        sheet.text(x + gap, middle + cap / 2, text, size, bold=True)
    else:
        sheet.text(x - gap, middle + cap / 2, text, size, bold=True, ha="right")
    return middle + max(side / 2, e * 0.24 + cap / 2), (x, middle, side)


@serialized
def render_evaluation(summary: EvaluationSummary | tuple | Mapping[str, Any],
                      labels: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes of `evaluation_chart`."""
    return evaluation_chart(summary, labels).png()
