"""The data export: tables as an Excel workbook (openpyxl) and as CSV files in a zip.

``tables`` is a list of ``{"name": str, "headers": [...], "rows": [[...]]}`` (as
``bot.flows.report.export_tables`` words them): one sheet, or one CSV file, per table. The CSV
files are UTF-8 with a byte order mark, so Excel reads Cyrillic and Kazakh letters right.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

SHEET_NAME_MAX = 31  # Excel's limit
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
_FORMULA = ("=", "+", "-", "@")  # a CSV cell starting so is a formula to Excel: it gets a leading '



def _sheet_name(name: str, taken: set[str]) -> str:
    base = _NOT_IN_SHEET_NAMES.sub(" ", name).strip()[:SHEET_NAME_MAX] or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" {n}"
        candidate, n = base[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def render_xlsx(tables: list[dict[str, Any]]) -> bytes:
    """One sheet per table, headings in bold, columns as wide as their content (within reason)."""
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table["name"], taken))
        sheet.append(list(table["headers"]))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table["rows"]:
            sheet.append(list(row))
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text as typed, never a formula
        sheet.freeze_panes = "A2"
        for index, header in enumerate(table["headers"], start=1):
            longest = max([len(str(header))] + [len(str(r[index - 1])) for r in table["rows"] if r[index - 1] is not None])
            sheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 6), 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render_csv(table: dict[str, Any]) -> bytes:
    """A table as CSV, UTF-8 with a byte order mark."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table["headers"])
    for row in table["rows"]:
        writer.writerow(["" if v is None else _safe(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def csv_name(number: int, table: dict[str, Any]) -> str:
    return f"{number:02d}-{table['file']}.csv"


def render_csv_zip(tables: list[dict[str, Any]]) -> bytes:
    """Every table as ``NN-name.csv`` in one zip file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, table in enumerate(tables, start=1):
            archive.writestr(csv_name(number, table), render_csv(table))
    return out.getvalue()
