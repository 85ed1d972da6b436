"""Priority matrix result: the handbook's 3×3 grid with every problem in its cell."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

import matplotlib

from bot.charts.common import (
    CAP, INK, MARGIN_PX, MUTED, PAPER, SIZE_SMALL, SIZE_TEXT, Chart, Sheet, blend, em,
    fit_lines, fit_size, fmt_number, ink_on, merge_labels, serialized, width_of,
)
from bot.charts.data import MatrixPoint, coerce

LABELS = {
    "title": "Priority matrix",
    "subtitle": "",  # e.g. "17 members scored 6 problems"
    "x": "Importance",  # cell_a, columns
    "y": "Urgency",  # cell_b, rows
    "levels": "1 low|2 medium|3 high",  # the scale members used, for both axes
    "problems": "Problems",
    "score": "Importance · urgency",
    "note": "",  # what the number in a cell's corner is
    "empty": "No scores yet",
    "decimal": ".",
}

SIZE_AXIS = 14.0
SIZE_VALUE = 16.0


def cell_color(value: int) -> tuple[float, float, float]:
    """Colour of a cell worth *value* (1..5): light for low priority, dark for high."""
    cmap = matplotlib.colormaps["viridis"]
    base = cmap(0.97 - 0.22 * (value - 1))[:3]
    return blend(matplotlib.colors.to_hex(base), PAPER, 0.25)


@serialized
def matrix_chart(
    points: Iterable[MatrixPoint | tuple], labels: Mapping[str, str] | None = None
) -> Chart:
    """The handbook's 3×3 grid (importance across, urgency down, each axis's levels named in
    words, cell value a + b − 1 coloured light to dark and explained by the note) with each
    problem's number on a disc in its cell, and under it the list "number. text … importance ·
    urgency" (means on the 1–3 scale members used) in the order given (pass them by priority)."""
    points = [coerce(MatrixPoint, p) for p in points]
    labels = merge_labels(LABELS, labels)
    sheet = Sheet()
    width = sheet.width
    inner = width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if not points:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT), color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    y = _grid(sheet, y, points, labels)
    if labels["note"]:
        y = sheet.lines(MARGIN_PX, y + em(SIZE_SMALL) * 0.8, fit_lines(labels["note"], inner, SIZE_SMALL, 4),
                        SIZE_SMALL, color=MUTED)
    rows = [(p.number, p.text, _means(p, labels["decimal"])) for p in points]
    y = sheet.listing(y + em(SIZE_TEXT) * 1.2, rows, labels["problems"], labels["score"],
                      SIZE_TEXT if len(points) <= 10 else SIZE_SMALL,
                      2 if len(points) <= 12 else 1)
    return sheet.chart(y + MARGIN_PX)


def _means(p: MatrixPoint, decimal: str) -> str:
    if p.mean_a is None or p.mean_b is None:
        return fmt_number(p.mean_score, 1, decimal)
    return f"{fmt_number(p.mean_a, 1, decimal)} · {fmt_number(p.mean_b, 1, decimal)}"


def _grid(sheet: Sheet, top: float, points: list[MatrixPoint], labels: dict[str, str]) -> float:
    axis = em(SIZE_AXIS)
    tick = em(SIZE_SMALL)
    levels = (labels["levels"].split("|") + ["", "", ""])[:3]
    grid_x = MARGIN_PX + axis * 1.3 + tick * 1.4
    grid_y = top + axis * 1.5 + tick * 1.6
    cell = (sheet.width - MARGIN_PX - grid_x) / 3
    grid_h = cell * 3

    x_name = fit_lines(f"{labels['x']} →", cell * 3, SIZE_AXIS, 1, bold=True)[0]
    sheet.text(grid_x + grid_h / 2, top + axis * CAP, x_name, SIZE_AXIS, bold=True, ha="center")
    y_name = fit_lines(f"{labels['y']} →", grid_h, SIZE_AXIS, 1, bold=True)[0]
    sheet.text(MARGIN_PX + axis * 0.5, grid_y + grid_h / 2, y_name, SIZE_AXIS, bold=True,
               ha="center", va="center", rotation=-90)
    for i, level in enumerate(levels):
        word = fit_lines(level, cell * 0.95, SIZE_SMALL, 1, bold=True)[0]
        sheet.text(grid_x + cell * (i + 0.5), grid_y - tick * 0.45, word, SIZE_SMALL,
                   bold=True, ha="center", color=MUTED)
        sheet.text(grid_x - tick * 0.7, grid_y + cell * (i + 0.5), word, SIZE_SMALL, bold=True,
                   ha="center", va="center", rotation=-90, color=MUTED)

    by_cell: dict[tuple[int, int], list[MatrixPoint]] = defaultdict(list)
    for p in points:
        by_cell[p.cell_a, p.cell_b].append(p)
    value_band = em(SIZE_VALUE) * 1.45
    for a in (1, 2, 3):
        for b in (1, 2, 3):
            x0 = grid_x + cell * (a - 1)
            y0 = grid_y + cell * (b - 1)
            color = cell_color(a + b - 1)
            sheet.rect(x0, y0, cell, cell, color, edge=PAPER, linewidth=3)
            sheet.text(x0 + em(SIZE_VALUE) * 0.4, y0 + em(SIZE_VALUE) * 1.1, str(a + b - 1),
                       SIZE_VALUE, bold=True, color=ink_on(color))
            members = sorted(by_cell.get((a, b), []), key=lambda p: -p.mean_score)
            _markers(sheet, members, x0, y0 + value_band, cell, cell - value_band)
    return grid_y + grid_h


def _markers(sheet: Sheet, members: list[MatrixPoint], x0: float, y0: float, w: float,
             h: float) -> None:
    """Problem numbers as white discs on a small grid filling the cell's free area."""
    if not members:
        return
    pad = em(SIZE_SMALL) * 0.3
    w, h = w - 2 * pad, h - pad
    k = len(members)
    cols = max(range(1, k + 1), key=lambda c: (min(w / c, h / math.ceil(k / c)), -c))
    rows = math.ceil(k / cols)
    step = min(w / cols, h / rows)
    radius = min(step * 0.44, em(SIZE_TEXT) * 1.25)
    size = min(fit_size([str(p.number) for p in members], radius * 1.55, SIZE_TEXT + 1, bold=True),
               radius * 1.1 / em(1.0))
    left = x0 + pad + (w - step * cols) / 2
    top = y0 + (h - step * rows) / 2
    for i, p in enumerate(members):
        r, c = divmod(i, cols)
        in_row = min(cols, k - r * cols)  # centre a short last row
        cx = left + step * (c + 0.5) + step * (cols - in_row) / 2
        cy = top + step * (r + 0.5)
        sheet.circle(cx, cy, radius, PAPER, edge=INK, linewidth=1.5)
        sheet.text(cx, cy + em(size) * CAP / 2, str(p.number), size, bold=True, ha="center")


@serialized
def render_matrix(
    points: Iterable[MatrixPoint | tuple], labels: Mapping[str, str] | None = None
) -> bytes:
    """PNG bytes of `matrix_chart`."""
    return matrix_chart(points, labels).png()
