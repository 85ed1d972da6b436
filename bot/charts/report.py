"""The printed report: an A4 PDF (the charts drawn into it) of headings, paragraphs, tables and charts (fpdf2).

``render_report(report)`` takes a plain dict (as ``bot.flows.report.gather`` words it):

- ``title``, ``cover`` (rows of [label, value]) and ``footer`` (a page label with ``{page}``);
- ``sections``: each ``{"heading": str, "blocks": [[kind, value], ...]}`` where a block is
  ``["p", text]``, ``["note", text]`` (smaller, grey), ``["table", {"headers": [...], "rows":
  [[...]], "widths": [...]}]`` (widths as shares of the line) or ``["chart", {"renderer": name,
  "args": [...], "kwargs": {...}}]`` — a chart of ``bot.charts.registry``, drawn here.

Like the charts, it is plain data in, bytes out, synchronous: run it off the event loop (as a
message's document it is rendered after the commit, in the drawing process of ``bot.drawing``). Text is real text in DejaVu Sans (shipped with matplotlib), so Kazakh letters are selectable
and searchable; what the font cannot draw (bidirectional marks, emoji) is left out.
"""

from __future__ import annotations

import io
import os
import unicodedata
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

FONT = "DejaVu"
MARGIN = 15  # mm
CHART_DPI_MAX_WIDTH = 180  # mm a chart may take (the line is 180 mm on A4 with these margins)
CHART_MAX_HEIGHT = 250  # mm: a tall chart (a 40-node tree, a 30-task plan) is scaled to fit one page
CHART_MIN_SHRINK = 0.8  # a chart a little too tall for what is left of the page is scaled down to fit
GREY = (90, 90, 90)


def _font_path(name: str) -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)


def printable(text: object) -> str:
    """``text`` without what DejaVu Sans cannot draw and a reader need not see: control and
    format characters (right-to-left marks, zero-width joiners) and characters beyond the
    Basic Multilingual Plane (emoji)."""
    out = []
    for char in str(text):
        if char in "\n\t":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") or ord(char) > 0xFFFF:
            continue
        else:
            out.append(char)
    return "".join(out)


def _long_words(text: str, limit: int = 40) -> str:
    """Break runs of more than ``limit`` characters without a space (a pasted link, a name of
    300 letters) so a table cell can wrap them."""
    words = []
    for word in text.split(" "):
        while len(word) > limit:
            words.append(word[:limit])
            word = word[limit:]
        words.append(word)
    return " ".join(words)


class _Report(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.footer_text.replace("{page}", str(self.page_no())), align="C")
        self.set_text_color(0, 0, 0)


def render_report(report: dict[str, Any]) -> bytes:
    """The report as PDF bytes (see the module's docstring for its shape)."""
    pdf = _Report(format="A4", unit="mm")
    pdf.set_title(printable(report.get("title", "")))
    pdf.set_creator("Qatysu")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(FONT, "", _font_path("DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", _font_path("DejaVuSans-Bold.ttf"))
    pdf.footer_text = printable(report.get("footer", "{page}"))
    pdf.add_page()
    _cover(pdf, report)
    for section in report.get("sections", []):
        pdf.add_page()
        _heading(pdf, section["heading"])
        for kind, value in section.get("blocks", []):
            {"p": _paragraph, "note": _note, "table": _table, "chart": _chart}[kind](pdf, value)
    return bytes(pdf.output())


def _cover(pdf: FPDF, report: dict[str, Any]) -> None:
    pdf.set_font(FONT, "B", 22)
    pdf.multi_cell(0, 11, _long_words(printable(report.get("title", ""))), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    for label, value in report.get("cover", []):
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(0, 6, printable(label), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 11)
        pdf.multi_cell(0, 6, _long_words(printable(value)), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, _long_words(printable(text)), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "", 10.5)
    pdf.multi_cell(0, 5.5, _long_words(printable(text)), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _note(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(0, 4.5, _long_words(printable(text)), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)


def _table(pdf: FPDF, table: dict[str, Any]) -> None:
    headers, rows = table["headers"], table["rows"]
    if not rows:
        return
    widths = table.get("widths") or [1] * len(headers)
    pdf.set_font(FONT, "", 8.5)
    with pdf.table(col_widths=tuple(widths), line_height=4.6, text_align="LEFT", first_row_as_headings=True,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(232, 236, 240)),
                   padding=1) as grid:
        for cells in [headers, *rows]:
            row = grid.row()
            for cell in cells:
                row.cell(_long_words(printable("" if cell is None else cell), 30))
    pdf.ln(3)


def _chart(pdf: FPDF, chart: dict[str, Any]) -> None:
    from bot.charts import registry

    png = registry.renderer(chart["renderer"])(*chart.get("args", ()), **chart.get("kwargs", {}))
    info = _png_size(png)
    width = CHART_DPI_MAX_WIDTH
    height = width * info[1] / info[0]
    if height > CHART_MAX_HEIGHT:
        width, height = width * CHART_MAX_HEIGHT / height, CHART_MAX_HEIGHT
    left = pdf.page_break_trigger - pdf.get_y()
    if height > left >= height * CHART_MIN_SHRINK:  # rather than a heading alone on its page
        width, height = width * left / height, left
    elif height > left:
        pdf.add_page()
    x = pdf.l_margin + (CHART_DPI_MAX_WIDTH - width) / 2
    pdf.image(io.BytesIO(png), x=x, w=width, h=height)
    pdf.ln(3)


def _png_size(png: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels (its IHDR chunk)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
