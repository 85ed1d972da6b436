"""Sticker (dot) voting result: one horizontal bar a problem, most stickers on top."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.charts.common import (
    CAP, HAIRLINE, MARGIN_PX, MUTED, OKABE_ITO, RULE, SIZE_SMALL, SIZE_TEXT, Chart, Sheet,
    block_height, em, fit_lines, ink_on, merge_labels, serialized, width_of,
)
from bot.charts.data import StickerRow, coerce

LABELS = {
    "title": "Sticker voting",
    "subtitle": "",  # e.g. "42 members placed 126 stickers"
    "online": "online",
    "paper": "in person",
    "empty": "No stickers yet",
}

ONLINE = OKABE_ITO["blue"]
PAPER = OKABE_ITO["orange"]


@serialized
def stickers_chart(
    rows: Iterable[StickerRow | tuple], labels: Mapping[str, str] | None = None
) -> Chart:
    """One bar of sticker totals a problem, most on top (ties keep the given order).

    When any row has in-person (paper) stickers, each bar is split into its online and
    in-person parts, with a legend and the part counts inside the bar where they fit.
    """
    rows = sorted((coerce(StickerRow, r) for r in rows), key=lambda r: -r.total)
    labels = merge_labels(LABELS, labels)
    hybrid = any(r.paper for r in rows)

    sheet = Sheet()
    width = sheet.width
    y = sheet.header(labels["title"], labels["subtitle"])
    if hybrid:
        y = sheet.legend(MARGIN_PX, y, [(ONLINE, labels["online"]), (PAPER, labels["paper"])])
        y += em(SIZE_TEXT) * 0.8
    if not rows:
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], width - 2 * MARGIN_PX, SIZE_TEXT),
                        SIZE_TEXT, color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    size = SIZE_TEXT if len(rows) <= 10 else SIZE_SMALL
    inner = width - 2 * MARGIN_PX
    number_w = max(width_of(f"{r.number}.", size, bold=True) for r in rows)
    text_x = MARGIN_PX + number_w + em(size) * 0.3
    bar_x = MARGIN_PX + round(inner * 0.55)
    text_w = bar_x - em(size) * 0.8 - text_x
    value_w = max(width_of(str(r.total), size, bold=True) for r in rows)
    bar_max = width - MARGIN_PX - value_w - em(size) * 0.4 - bar_x
    top_total = max(r.total for r in rows) or 1

    texts = [fit_lines(r.text, text_w, size, 2) for r in rows]
    line_count = max(len(t) for t in texts)
    row_h = block_height(line_count, size) + em(size) * 0.6
    bar_h = min(em(size) * 1.3, row_h - em(size) * 0.4)
    cap = em(size) * CAP

    sheet.line(bar_x, y, bar_x, y + row_h * len(rows), RULE, 1.5)
    for i, (row, lines) in enumerate(zip(rows, texts)):
        middle = y + row_h * (i + 0.5)
        if i:
            sheet.line(MARGIN_PX, y + row_h * i, width - MARGIN_PX, y + row_h * i, HAIRLINE, 1.0)
        first_baseline = sheet.lines_centered(text_x, middle, lines, size)
        sheet.text(text_x - em(size) * 0.3, first_baseline, f"{row.number}.", size,
                   bold=True, ha="right")

        x = bar_x
        parts = [(row.online, ONLINE), (row.paper, PAPER)] if hybrid else [(row.total, ONLINE)]
        for count, color in parts:
            if not count:
                continue
            w = bar_max * count / top_total
            sheet.rect(x, middle - bar_h / 2, w, bar_h, color)
            label = str(count)
            if hybrid and width_of(label, SIZE_SMALL) + em(SIZE_SMALL) * 0.6 <= w:
                sheet.text(x + w / 2, middle + em(SIZE_SMALL) * CAP / 2, label, SIZE_SMALL,
                           color=ink_on(color), ha="center")
            x += w
        sheet.text(x + em(size) * 0.4, middle + cap / 2, str(row.total), size, bold=True)
    return sheet.chart(y + row_h * len(rows) + MARGIN_PX)


@serialized
def render_stickers(
    rows: Iterable[StickerRow | tuple], labels: Mapping[str, str] | None = None
) -> bytes:
    """PNG bytes of `stickers_chart`."""
    return stickers_chart(rows, labels).png()
