"""Dates as members type them: "01.12", "1.12.2026", a span "01.12 – 20.12"."""

from __future__ import annotations

import re
from datetime import date

_DATE = r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?"
ROLLOVER_DAYS = 183  # a span without years read across the new year is at most this long


def parse_date(text: str, today: date) -> date | None:
    """``DD.MM`` (this year, or next if that day has passed more than a month ago) or
    ``DD.MM.YYYY``; None when it is not a real date."""
    match = re.fullmatch(_DATE, text.strip())
    if not match:
        return None
    day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    if year is not None:
        full = int(year) + (2000 if len(year) == 2 else 0)
        candidates = [full]
    else:
        candidates = [today.year, today.year + 1]
    for y in candidates:
        try:
            found = date(y, month, day)
        except ValueError:
            return None
        if year is not None or (today - found).days <= 31:
            return found
    return None


def parse_span(text: str, today: date) -> tuple[date, date] | None:
    """"01.12 – 20.12" (any dash or space between): the start and the due date, in order; a due
    date without a year that falls before the start is read in the next year ("20.12 – 15.01")."""
    match = re.fullmatch(rf"\s*({_DATE})\s*(?:-|–|—|\s)\s*({_DATE})\s*", text)
    if not match:
        return None
    start, due = parse_date(match.group(1), today), parse_date(match.group(5), today)
    if start is None or due is None:
        return None
    if due < start and match.group(8) is None:
        try:
            due = due.replace(year=due.year + 1)
        except ValueError:  # 29.02 of a year without it
            return None
        if (due - start).days > ROLLOVER_DAYS:  # "10.12 – 01.12" is a slip, not a task of a year
            return None
    return (start, due) if due >= start else None
