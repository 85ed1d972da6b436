"""Initiative group (ҚМҰТ) election result: a bar a candidate, then the group's make-up.

Each candidate gets one horizontal bar of approvals, most on top, coloured by the
candidate's category (whose name is also written next to the candidate's, so the colour is
never the only cue). Elected candidates have a bold name and a tick on a dark disc (drawn
shapes, not a font glyph); candidates whose seat a tie decided carry an outlined "tie"
chip after their vote count. Below, a table of the categories in the caller's order: how many
of each were elected and stood, with the categories that stood but got no seat on a tinted
band marked `uncovered`, and those nobody stood for greyed out and marked `absent`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence

from matplotlib.lines import Line2D

from bot.charts.common import (
    ASCENT, CAP, DPI, HAIRLINE, INK, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE, SIZE_SMALL,
    SIZE_TEXT, Chart, Sheet, blend, block_height, em, fit_lines, merge_labels, serialized, width_of,
)
from bot.charts.data import CandidateRow, coerce

LABELS = {
    "title": "Initiative group election",
    "subtitle": "",  # e.g. "42 members voted · 7 seats"
    "elected": "elected",  # the key to the tick, and the table's column head
    "tied": "tie",  # the chip after the votes of a candidate seated by a tie
    "composition": "Categories",  # the table's heading
    "candidates": "candidates",  # the table's column head
    "absent": "no candidate",  # a category nobody stood for
    "uncovered": "no seat",  # a category that stood but got no seat
    "empty": "No candidates yet",
}

# The six categories of the handbook, each with its own colour from Okabe & Ito's palette
# (yellow and black left out: too faint on white, and the colour of the text).
CATEGORY_COLORS = {
    "activist": OKABE_ITO["blue"],
    "vulnerable": OKABE_ITO["orange"],
    "authority": OKABE_ITO["green"],
    "business": OKABE_ITO["sky_blue"],
    "ngo": OKABE_ITO["purple"],
    "media": OKABE_ITO["vermillion"],
}
_SPARE = [OKABE_ITO[k] for k in ("blue", "orange", "green", "sky_blue", "purple", "vermillion")]

MARK = INK  # the disc behind an elected candidate's tick
UNCOVERED_BAND = blend(OKABE_ITO["yellow"], PAPER, 0.6)


def category_color(key: str) -> str:
    """The fixed colour of category *key*; another key gets one of the same six by a hash of
    its name, so it is the same in every chart."""
    return CATEGORY_COLORS.get(key) or _SPARE[zlib.crc32(key.encode()) % len(_SPARE)]


def _ordered(rows: Iterable[CandidateRow | tuple]) -> list[CandidateRow]:
    """Most votes first; among equal votes the elected first, otherwise as given."""
    rows = [coerce(CandidateRow, r) for r in rows]
    return sorted(rows, key=lambda r: (-r.votes, not r.elected))


@serialized
def election_chart(
    rows: Iterable[CandidateRow | tuple],
    categories: Sequence[tuple[str, str]],
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Bars of approvals by candidate (most first) and the table of categories.

    *categories* are (key, translated name) pairs in display order; every row's category
    must be one of the keys.
    """
    rows = _ordered(rows)
    categories = [(str(key), str(name)) for key, name in categories]
    names = dict(categories)
    if len(names) != len(categories):
        raise ValueError("category keys must be distinct")
    for row in rows:
        if row.category not in names:
            raise ValueError(f"candidate {row.name!r} has unknown category {row.category!r}")
    labels = merge_labels(LABELS, labels)

    sheet = Sheet()
    inner = sheet.width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    if not rows:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT), color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    ticks: list[tuple[float, float, float]] = []  # (x, y, radius) of each disc to tick
    if any(r.elected for r in rows):
        y = _key(sheet, y, labels["elected"], ticks)
    y = _bars(sheet, y, rows, names, labels, ticks)
    y = _table(sheet, y + em(SIZE_TEXT) * 1.4, rows, categories, labels)
    height = y + MARGIN_PX
    chart = sheet.chart(height)
    _draw_ticks(chart, math.ceil(height), ticks)
    return chart


def _disc(sheet: Sheet, cx: float, cy: float, r: float, ticks: list) -> None:
    sheet.circle(cx, cy, r, MARK)
    ticks.append((cx, cy, r))


def _draw_ticks(chart: Chart, height: int, ticks: list[tuple[float, float, float]]) -> None:
    """A white tick on every disc, all in one line artist (NaN breaks between ticks)."""
    if not ticks:
        return
    xs: list[float] = []
    ys: list[float] = []
    for cx, cy, r in ticks:
        for dx, dy in ((-0.48, 0.02), (-0.13, 0.36), (0.47, -0.34)):
            xs.append((cx + dx * r) / DPI)
            ys.append((height - (cy + dy * r)) / DPI)
        xs.append(math.nan)
        ys.append(math.nan)
    r = ticks[0][2]
    fig = chart.figure
    fig.add_artist(Line2D(xs, ys, transform=fig.dpi_scale_trans, color=PAPER,
                          linewidth=r * 0.3 * 72 / DPI, solid_joinstyle="round",
                          solid_capstyle="round", zorder=2.5))


def _key(sheet: Sheet, top: float, elected: str, ticks: list) -> float:
    """"(tick) elected" under the header; returns where the bars start."""
    size = SIZE_SMALL
    r = em(size) * 0.45
    middle = top + em(size) * CAP / 2
    _disc(sheet, MARGIN_PX + r, middle, r, ticks)
    text = fit_lines(elected, sheet.width - 2 * MARGIN_PX - 3 * r, size, 1)[0]
    sheet.text(MARGIN_PX + 2 * r + em(size) * 0.35, middle + em(size) * CAP / 2, text, size)
    return top + block_height(1, size) + em(SIZE_TEXT) * 0.6


def _bars(sheet: Sheet, y: float, rows: list[CandidateRow], names: Mapping[str, str],
          labels: Mapping[str, str], ticks: list) -> float:
    """One row a candidate, as in a Telegram poll: the name (with the tick when elected) and
    its category on one line, the bar under it with the votes and, when a tie seated the
    candidate, the chip at its end; returns the bottom."""
    width = sheet.width
    inner = width - 2 * MARGIN_PX
    right = width - MARGIN_PX
    few = len(rows) <= 10
    size = SIZE_TEXT if few else SIZE_SMALL
    small = SIZE_SMALL
    r = em(size) * 0.42
    name_x = MARGIN_PX + 2 * r + em(size) * 0.4

    # The category, right-aligned on the name's line (muted, up to 40 % of the page).
    shown = {row.category for row in rows}
    category_text = {key: fit_lines(names[key], inner * 0.4, small, 1)[0] for key in shown}
    category_w = max(width_of(t, small) for t in category_text.values())
    name_w = right - category_w - em(size) * 0.8 - name_x
    lines = [fit_lines(row.name, name_w, size, 2 if few else 1, bold=row.elected)
             for row in rows]
    text_h = block_height(max(len(n) for n in lines), size)

    # The bar's line: votes, then the chip of a tied candidate.
    value_w = max(width_of(str(row.votes), size, bold=True) for row in rows)
    tie_text = fit_lines(labels["tied"], inner * 0.2, small, 1)[0]
    chip_pad = em(small) * 0.35
    chip_w = width_of(tie_text, small) + 2 * chip_pad
    chip_h = em(small) * 1.25
    any_tied = any(row.tied for row in rows)
    reserve = value_w + em(size) * 0.4 + (chip_w + em(size) * 0.5 if any_tied else 0.0)
    bar_max = right - reserve - name_x
    bar_h = em(size) * 0.7
    pad = em(size) * 0.3
    bar_gap = em(size) * 0.3  # room for the chip, which stands out of the bar's height
    row_h = pad + text_h + bar_gap + bar_h + pad
    top_votes = max(row.votes for row in rows) or 1
    cap, cap_small = em(size) * CAP, em(small) * CAP

    values: list[tuple[float, float, str, str]] = []  # drawn in one pass each: many short
    kinds: list[tuple[float, float, str, str]] = []  # labels cost less than a Text apiece
    for i, (row, name) in enumerate(zip(rows, lines)):
        top = y + row_h * i
        if i:
            sheet.line(MARGIN_PX, top, right, top, HAIRLINE, 1.0)
        first = top + pad + em(size) * ASCENT
        if row.elected:
            _disc(sheet, MARGIN_PX + r, first - cap / 2, r, ticks)
        sheet.lines(name_x, top + pad, name, size, bold=row.elected)
        kind = category_text[row.category]
        kinds.append((right - width_of(kind, small) / 2, first, kind, MUTED))
        bar_top = top + pad + text_h + bar_gap
        middle = bar_top + bar_h / 2
        w = bar_max * row.votes / top_votes
        sheet.rect(name_x, bar_top, max(w, 2.0), bar_h,
                   category_color(row.category) if w else RULE)
        x = name_x + max(w, 2.0) + em(size) * 0.4
        value = str(row.votes)
        values.append((x + width_of(value, size, bold=True) / 2, middle + cap / 2, value, INK))
        if row.tied:
            x += width_of(str(row.votes), size, bold=True) + em(size) * 0.5
            sheet.rect(x, middle - chip_h / 2, chip_w, chip_h, PAPER, edge=INK, linewidth=1.0,
                       radius=chip_h * 0.3)
            sheet.text(x + chip_pad, middle + cap_small / 2, tie_text, small)
    sheet.text_batch(kinds, small)
    sheet.text_batch(values, size, bold=True)
    return y + row_h * len(rows)


def _table(sheet: Sheet, top: float, rows: list[CandidateRow],
           categories: list[tuple[str, str]], labels: Mapping[str, str]) -> float:
    """The categories with their elected / candidate counts; returns the bottom."""
    if not categories:
        return top
    width = sheet.width
    inner = width - 2 * MARGIN_PX
    right = width - MARGIN_PX
    size, small = SIZE_TEXT, SIZE_SMALL
    gap = em(size) * 0.8
    stood = {key: 0 for key, _ in categories}
    seated = dict(stood)
    for row in rows:
        stood[row.category] += 1
        seated[row.category] += row.elected

    # Columns, right to left: status, candidates, elected; the name takes the rest.
    status = {"absent": fit_lines(labels["absent"], inner * 0.26, size, 1, bold=True)[0],
              "uncovered": fit_lines(labels["uncovered"], inner * 0.26, size, 1, bold=True)[0]}
    status_w = max(width_of(t, size, bold=True) for t in status.values())
    heads = [fit_lines(labels[k], inner * 0.2, small, 1)[0] for k in ("elected", "candidates")]
    digits = max(width_of(str(n), size, bold=True) for n in stood.values())
    col_w = [max(width_of(h, small), digits) for h in heads]
    status_x = right - em(size) * 0.3 - status_w
    cand_right = status_x - gap
    elect_right = cand_right - col_w[1] - gap
    swatch = em(size) * 0.8
    name_x = MARGIN_PX + em(size) * 0.3 + swatch + em(size) * 0.45
    name_w = elect_right - col_w[0] - gap - name_x

    heading = fit_lines(labels["composition"], name_w, size, 1, bold=True)[0]
    baseline = top + em(size) * 0.93
    sheet.text(MARGIN_PX, baseline, heading, size, bold=True)
    sheet.text(elect_right, baseline, heads[0], small, color=MUTED, ha="right")
    sheet.text(cand_right, baseline, heads[1], small, color=MUTED, ha="right")
    y = baseline + em(size) * 0.24 + em(size) * 0.35
    sheet.line(MARGIN_PX, y, right, y, RULE, 1.0)
    y += em(size) * 0.2

    texts = [fit_lines(name, name_w, size, 2) for _, name in categories]
    row_h = block_height(max(len(t) for t in texts), size) + em(size) * 0.7
    cap = em(size) * CAP
    for i, ((key, _), name) in enumerate(zip(categories, texts)):
        row_top = y + row_h * i
        middle = row_top + row_h / 2
        absent, uncovered = not stood[key], stood[key] and not seated[key]
        ink = MUTED if absent else INK
        if uncovered:
            sheet.rect(MARGIN_PX, row_top + 2, inner, row_h - 4, UNCOVERED_BAND, radius=6)
        elif i:
            sheet.line(MARGIN_PX, row_top, right, row_top, HAIRLINE, 1.0)
        sx = MARGIN_PX + em(size) * 0.3
        if absent:  # an empty, outlined swatch
            sheet.rect(sx, middle - swatch / 2, swatch, swatch, PAPER, edge=RULE, linewidth=1.5)
        else:
            sheet.rect(sx, middle - swatch / 2, swatch, swatch, category_color(key))
        sheet.lines_centered(name_x, middle, name, size, color=ink)
        sheet.text(elect_right, middle + cap / 2, str(seated[key]), size, bold=not absent,
                   color=ink, ha="right")
        sheet.text(cand_right, middle + cap / 2, str(stood[key]), size, color=ink, ha="right")
        if absent:
            sheet.text(status_x, middle + cap / 2, status["absent"], size, color=MUTED)
        elif uncovered:
            sheet.text(status_x, middle + cap / 2, status["uncovered"], size, bold=True)
    return y + row_h * len(categories)


@serialized
def render_election(
    rows: Iterable[CandidateRow | tuple],
    categories: Sequence[tuple[str, str]],
    labels: Mapping[str, str] | None = None,
) -> bytes:
    """PNG bytes of `election_chart`."""
    return election_chart(rows, categories, labels).png()
