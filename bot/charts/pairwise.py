"""Pairwise ranking result: the classic win matrix and the order it gives."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.colors import to_rgb

from bot.charts.common import (
    CAP, EMPTY, INK, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE, SIZE_SMALL, SIZE_TEXT, Chart,
    Sheet, em, fit_lines, fit_size, fmt_number, ink_on, merge_labels, serialized, width_of,
)
from bot.charts.data import Problem, RankedProblem, coerce

LABELS = {
    "title": "Pairwise ranking",
    "subtitle": "",  # e.g. "12 members compared 28 pairs"
    "note": "Each cell: how many times the row's problem was chosen over the column's",
    "order": "Order",
    "score": "Score",
    "empty": "No comparisons yet",
    "decimal": ".",
}

WIN = OKABE_ITO["blue"]  # cells shade from white (row lost every time) to this (row always won)
HEAD_BAND = "#DADADA"
MAX_CELL_EM = 3.0  # cells stop growing at this many ems of the cell text


@serialized
def pairwise_chart(
    numbers_texts: Iterable[Problem | tuple],
    wins: Sequence[Sequence[int]],
    order: Iterable[RankedProblem | tuple],
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """The win matrix with the resulting order listed under it.

    *numbers_texts* gives the matrix's rows and columns (same order for both);
    ``wins[i][j]`` is how many times problem i was preferred to problem j (the diagonal is
    ignored). *order* is the ranking to list under the matrix, best first, with each
    problem's score (win count, or model strength for sampled pairs).
    """
    problems = [coerce(Problem, p) for p in numbers_texts]
    order = [coerce(RankedProblem, r) for r in order]
    labels = merge_labels(LABELS, labels)
    n = len(problems)
    if len(wins) != n or any(len(row) != n for row in wins):
        raise ValueError(f"wins must be {n}×{n} to match numbers_texts")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for row in wins for w in row):
        raise ValueError("wins must be non-negative ints")

    sheet = Sheet()
    inner = sheet.width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if n >= 2:
        note = fit_lines(labels["note"], inner, SIZE_SMALL, 3)
        y = sheet.lines(MARGIN_PX, y - em(SIZE_TEXT) * 0.3, note, SIZE_SMALL, color=MUTED)
        y = _matrix(sheet, y + em(SIZE_TEXT) * 0.7, problems, wins) + em(SIZE_TEXT) * 1.2
    else:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT), color=MUTED)
        y += em(SIZE_TEXT) * 0.8
    if order:
        decimals = None if all(float(r.score).is_integer() for r in order) else 2
        rows = [(r.number, r.text, f"{r.wins} / {r.compared}" if r.wins is not None and r.compared is not None
                 else fmt_number(r.score, decimals, labels["decimal"])) for r in order]
        y = sheet.listing(y, rows, labels["order"], labels["score"],
                          SIZE_TEXT if len(rows) <= 10 else SIZE_SMALL,
                          2 if len(rows) <= 12 else 1)
    return sheet.chart(y + MARGIN_PX)


def _matrix(sheet: Sheet, top: float, problems: list[Problem],
            wins: Sequence[Sequence[int]]) -> float:
    n = len(problems)
    heads = [str(p.number) for p in problems]
    counts = [[str(int(wins[i][j])) for j in range(n)] for i in range(n)]
    count_texts = [counts[i][j] for i in range(n) for j in range(n) if i != j]

    # The row heads take one column; cells share the rest of the width up to a
    # comfortable size, and the type shrinks only as far as the cells make it.
    bold = n <= 12  # bold heads would run together ("101112") in a narrow matrix
    size = SIZE_TEXT + 1
    head_w = max(width_of(h, size, bold) for h in heads) + em(size) * 0.6
    cell = min((sheet.width - 2 * MARGIN_PX - head_w) / n, em(size) * MAX_CELL_EM)
    height_fit = cell * 0.55 / em(CAP)
    size = min(fit_size(count_texts, cell * 0.8, size), height_fit)
    head_size = min(fit_size(heads, cell * 0.75, SIZE_TEXT + 1, bold), height_fit)
    head_w = max(width_of(h, head_size, bold) for h in heads) + em(head_size) * 0.6
    grid_w = cell * n
    left = MARGIN_PX + (sheet.width - 2 * MARGIN_PX - head_w - grid_w) / 2 + head_w
    band = em(head_size) * 1.35
    grid_y = top + band + em(head_size) * 0.25
    cap = em(size) * CAP
    head_cap = em(head_size) * CAP

    won = np.array([[int(wins[i][j]) for j in range(n)] for i in range(n)], dtype=float)
    played = won + won.T
    share = np.divide(won, played, out=np.zeros_like(won), where=played > 0)
    paper, win = np.array(to_rgb(PAPER)), np.array(to_rgb(WIN))
    fill = paper + (win - paper) * (0.1 + 0.8 * share)[..., None]
    fill[played == 0] = to_rgb(EMPTY)
    fill[np.diag_indices(n)] = to_rgb(RULE)
    ink = {}  # text colour for each distinct fill

    boxes, colors, cell_text, head_text = [], [], [], []
    for i in range(n):
        cy = grid_y + cell * (i + 0.5)
        head_text.append((left - head_w / 2, cy + head_cap / 2, heads[i], INK))
        head_text.append((left + cell * (i + 0.5), grid_y - band / 2 + head_cap / 2, heads[i],
                          INK))
        for j in range(n):
            boxes.append((left + cell * j, grid_y + cell * i, cell, cell))
            color = tuple(fill[i, j])
            colors.append(color)
            if i != j:
                text = counts[i][j] if played[i, j] else "–"
                if color not in ink:
                    ink[color] = ink_on(color)
                cell_text.append((left + cell * (j + 0.5), cy + cap / 2, text, ink[color]))
    if not bold:  # column heads on alternate bands keep "10 11 12" apart
        for j in range(1, n, 2):
            boxes.append((left + cell * j, grid_y - band, cell, band))
            colors.append(HEAD_BAND)
    sheet.rects(boxes, colors, edge=PAPER, linewidth=1.5 if cell > 40 else 0.8)
    sheet.text_batch(head_text, head_size, bold=bold)
    sheet.text_batch(cell_text, size)
    return grid_y + cell * n


@serialized
def render_pairwise(
    numbers_texts: Iterable[Problem | tuple],
    wins: Sequence[Sequence[int]],
    order: Iterable[RankedProblem | tuple],
    labels: Mapping[str, str] | None = None,
) -> bytes:
    """PNG bytes of `pairwise_chart`."""
    return pairwise_chart(numbers_texts, wins, order, labels).png()
