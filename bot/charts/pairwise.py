"""Pairwise ranking result: the classic win matrix and the order it gives."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.charts.common import (
    EMPTY, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE, SIZE_SMALL, SIZE_TEXT, Chart, Sheet, blend,
    em, fit_lines, fit_size, fmt_number, ink_on, merge_labels, serialized, width_of,
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

WIN = OKABE_ITO["blue"]
HEAD_BAND = "#DADADA"
MAX_CELL_EM = 3.0  # cells stop growing at this many ems of the cell text


def win_color(won: int, lost: int) -> tuple[float, float, float]:
    """Cell colour: pale when the row lost the pair, deep blue when it won every time."""
    if won + lost == 0:
        return blend(EMPTY, EMPTY, 0)
    return blend(PAPER, WIN, 0.1 + 0.8 * won / (won + lost))


@serialized
def pairwise_chart(
    numbers_texts: Iterable[Problem | tuple],
    wins: Sequence[Sequence[int]],
    order: Iterable[RankedProblem | tuple],
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """PNG of the win matrix and the resulting order.

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

    sheet = Sheet()
    inner = sheet.width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if n >= 2:
        note = fit_lines(labels["note"], inner, SIZE_SMALL, 2)
        y = sheet.lines(MARGIN_PX, y - em(SIZE_TEXT) * 0.3, note, SIZE_SMALL, color=MUTED)
        y = _matrix(sheet, y + em(SIZE_TEXT) * 0.7, problems, wins) + em(SIZE_TEXT) * 1.2
    else:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT), color=MUTED)
        y += em(SIZE_TEXT) * 0.8
    if order:
        decimals = None if all(float(r.score).is_integer() for r in order) else 2
        rows = [(r.number, r.text, fmt_number(r.score, decimals, labels["decimal"])) for r in order]
        y = sheet.listing(y, rows, labels["order"], labels["score"],
                          SIZE_TEXT if len(rows) <= 10 else SIZE_SMALL,
                          2 if len(rows) <= 12 else 1)
    return sheet.chart(y + MARGIN_PX)


def _matrix(sheet: Sheet, top: float, problems: list[Problem], wins: Sequence[Sequence[int]]) -> float:
    n = len(problems)
    heads = [str(p.number) for p in problems]
    counts = [[str(int(wins[i][j])) for j in range(n)] for i in range(n)]
    cells = [counts[i][j] for i in range(n) for j in range(n) if i != j]

    # The row heads take one column; cells share the rest of the width up to a
    # comfortable size, and the type shrinks only as far as the cells make it.
    size = SIZE_TEXT + 1
    head_w = max(width_of(h, size, bold=True) for h in heads) + em(size) * 0.6
    cell = min((sheet.width - 2 * MARGIN_PX - head_w) / n, em(size) * MAX_CELL_EM)
    size = min(fit_size(cells, cell * 0.8, size), fit_size(heads, cell * 0.7, size, bold=True),
               cell * 0.55 / em(0.73))
    head_w = max(width_of(h, size, bold=True) for h in heads) + em(size) * 0.6
    grid_w = cell * n
    left = MARGIN_PX + (sheet.width - 2 * MARGIN_PX - head_w - grid_w) / 2 + head_w
    grid_y = top + em(size) * 1.6
    cap = em(size) * 0.73

    boxes, colors, cell_text, head_text = [], [], [], []
    for i in range(n):
        cy = grid_y + cell * (i + 0.5)
        head_text.append((left - head_w / 2, cy + cap / 2, heads[i], OKABE_ITO["black"]))
        head_text.append((left + cell * (i + 0.5), grid_y - em(size) * 0.35, heads[i],
                          OKABE_ITO["black"]))
        for j in range(n):
            boxes.append((left + cell * j, grid_y + cell * i, cell, cell))
            if i == j:
                colors.append(RULE)
                continue
            color = win_color(int(wins[i][j]), int(wins[j][i]))
            colors.append(color)
            text = counts[i][j] if wins[i][j] or wins[j][i] else "–"
            cell_text.append((left + cell * (j + 0.5), cy + cap / 2, text, ink_on(color)))
    # Column heads on alternate light bands keep "10 11 12" apart in a narrow matrix.
    for j in range(1, n, 2):
        boxes.append((left + cell * j, grid_y - em(size) * 1.35, cell, em(size) * 1.35))
        colors.append(HEAD_BAND)
    sheet.rects(boxes, colors, edge=PAPER, linewidth=1.5 if cell > 40 else 0.8)
    sheet.text_batch(head_text, size, bold=True)
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
