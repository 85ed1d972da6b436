"""Combined ranking: each method's rank side by side, problems in combined order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from bot.charts.common import (
    ASCENT, CAP, DESCENT, HAIRLINE, LINE_STEP, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE,
    SIZE_SMALL, SIZE_TEXT, Chart, Sheet, blend, block_height, em, fit_lines, fit_size, ink_on,
    merge_labels, serialized, width_of,
)
from bot.charts.data import CombinedRow, coerce

LABELS = {
    "title": "Combined ranking",
    "subtitle": "",  # e.g. "Problem 4 comes first by every method"
    "rank": "Rank",
    "problem": "Problem",
    "empty": "No rankings yet",
}

RANK = OKABE_ITO["blue"]
TOP = blend(OKABE_ITO["yellow"], PAPER, 0.72)
NOT_RANKED = "—"


def rank_label(rank: int, tied: bool) -> str:
    """"3", or "=3" when another problem shares the rank."""
    return f"={rank}" if tied else str(rank)


def rank_color(rank: int, worst: int) -> tuple[float, float, float]:
    """Deep blue for first place fading toward white for last."""
    share = 0.9 if worst <= 1 else 0.9 - 0.75 * (rank - 1) / (worst - 1)
    return blend(PAPER, RANK, share)


@serialized
def combined_chart(
    rows: Iterable[CombinedRow | tuple],
    methods: Sequence[str],
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """A table: combined rank ("=2" for ties), the problem, and its rank by each method
    (columns named by *methods*, already translated; "—" where a method did not rank it).
    The first-placed row(s) are highlighted."""
    rows = sorted((coerce(CombinedRow, r) for r in rows), key=lambda r: r.combined)
    methods = list(methods)
    for row in rows:
        if len(row.ranks) != len(methods):
            raise ValueError(
                f"problem {row.number} has {len(row.ranks)} ranks for {len(methods)} methods")
    labels = merge_labels(LABELS, labels)
    sheet = Sheet()
    width = sheet.width
    inner = width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if not rows:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT), color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    size = SIZE_TEXT if len(rows) <= 10 else SIZE_SMALL
    combined_ties = Counter(r.combined for r in rows)
    method_ties = [Counter(r.ranks[k] for r in rows if r.ranks[k] is not None)
                   for k in range(len(methods))]
    worst = [max((r.ranks[k] or 1 for r in rows), default=1) for k in range(len(methods))]
    cells = [[NOT_RANKED if rank is None else rank_label(rank, method_ties[k][rank] > 1)
              for k, rank in enumerate(r.ranks)] for r in rows]
    combined = [rank_label(r.combined, combined_ties[r.combined] > 1) for r in rows]

    # Column widths: rank | number + problem | one column per method.
    gap = em(size) * 0.5
    rank_w = max(max(width_of(c, size + 1, bold=True) for c in combined),
                 width_of(fit_lines(labels["rank"], em(size) * 4, SIZE_SMALL, 1)[0], SIZE_SMALL))
    cell_text_w = max([width_of(c, size, bold=True) for row in cells for c in row] + [0.0])
    method_w = []
    for name in methods:
        longest_word = max((width_of(w, SIZE_SMALL) for w in name.split()), default=0.0)
        method_w.append(min(max(longest_word, cell_text_w + em(size), em(size) * 2.6), inner * 0.2))
    squeeze = min(1.0, inner * 0.5 / (sum(method_w) + gap * (len(methods) - 1) or 1.0))
    method_w = [w * squeeze for w in method_w]  # the problem column keeps half the width
    number_w = max(width_of(f"{r.number}.", size, bold=True) for r in rows)
    problem_x = MARGIN_PX + rank_w + gap
    text_x = problem_x + number_w + em(size) * 0.3
    methods_x = width - MARGIN_PX - sum(method_w) - gap * (len(methods) - 1)
    text_w = methods_x - gap - text_x

    # Header row, bottom-aligned; squeezed method names get smaller type before their
    # words are cut.
    head_size = min([SIZE_SMALL] + [
        fit_size(name.split() or [""], w, SIZE_SMALL, min_size=9.0)
        for name, w in zip(methods, method_w)])
    head_lines = [fit_lines(name, w, head_size, 3) for name, w in zip(methods, method_w)]
    head_lines.append(fit_lines(labels["problem"], text_w + number_w, head_size, 1))
    head_lines.append(fit_lines(labels["rank"], rank_w, head_size, 1))
    tallest = max(len(lines) for lines in head_lines)
    step = em(head_size) * LINE_STEP
    last_baseline = y + em(head_size) * ASCENT + step * (tallest - 1)

    def head(x: float, lines: list[str], ha: str) -> None:
        for i, line in enumerate(lines):
            sheet.text(x, last_baseline - step * (len(lines) - 1 - i), line, head_size,
                       color=MUTED, ha=ha)

    head(MARGIN_PX + rank_w / 2, head_lines[-1], "center")
    head(problem_x, head_lines[-2], "left")
    x = methods_x
    for lines, w in zip(head_lines, method_w):
        head(x + w / 2, lines, "center")
        x += w + gap
    y = last_baseline + em(head_size) * DESCENT + em(size) * 0.35
    sheet.line(MARGIN_PX, y, width - MARGIN_PX, y, RULE, 1.0)
    y += em(size) * 0.15

    texts = [fit_lines(r.text, text_w, size, 2) for r in rows]
    row_h = block_height(max(len(t) for t in texts), size) + em(size) * 0.7
    box_h = min(row_h - em(size) * 0.3, em(size) * 1.6)
    cap = em(size) * CAP
    best = rows[0].combined
    for i, (row, lines) in enumerate(zip(rows, texts)):
        top = y + row_h * i
        middle = top + row_h / 2
        if row.combined == best:
            sheet.rect(MARGIN_PX - em(size) * 0.2, top + 2, width - 2 * MARGIN_PX + em(size) * 0.4,
                       row_h - 4, TOP, radius=6)
        elif i:
            sheet.line(MARGIN_PX, top, width - MARGIN_PX, top, HAIRLINE, 1.0)
        sheet.text(MARGIN_PX + rank_w / 2, middle + em(size + 1) * CAP / 2, combined[i], size + 1,
                   bold=True, ha="center")
        first = sheet.lines_centered(text_x, middle, lines, size)
        sheet.text(text_x - em(size) * 0.3, first, f"{row.number}.", size, bold=True, ha="right")
        x = methods_x
        for k, (rank, w) in enumerate(zip(row.ranks, method_w)):
            if rank is None:
                sheet.text(x + w / 2, middle + cap / 2, NOT_RANKED, size, color=MUTED, ha="center")
            else:
                color = rank_color(rank, worst[k])
                sheet.rect(x, middle - box_h / 2, w, box_h, color, radius=6)
                sheet.text(x + w / 2, middle + cap / 2, cells[i][k], size, bold=True,
                           color=ink_on(color), ha="center")
            x += w + gap
    return sheet.chart(y + row_h * len(rows) + MARGIN_PX)


@serialized
def render_combined(
    rows: Iterable[CombinedRow | tuple],
    methods: Sequence[str],
    labels: Mapping[str, str] | None = None,
) -> bytes:
    """PNG bytes of `combined_chart`."""
    return combined_chart(rows, methods, labels).png()
