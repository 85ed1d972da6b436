"""Dates as members type them: "01.12", "1.12.2026", a span "01.12 – 20.12"."""

from __future__ import annotations

import re
from datetime import date, timedelta

_DATE = r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?"
YEARS_AHEAD = 5       # a plan's dates are at most this many years away (and at most one year back)
ROLLOVER_DAYS = 183   # a span without years read across the new year is at most this long
RECENT_DAYS = 31      # a day without a year this long ago is still read in the past


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str, today: date) -> date | None:
    """``DD.MM`` — the first such day from a month ago on (a plan looks ahead, and may start
    in the last weeks) — or ``DD.MM.YYYY``;
    None when it is not a real date or lies beyond the years a plan may span."""
    match = re.fullmatch(_DATE, text.strip())
    if not match:
        return None
    day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    if year is not None:
        found = _day(int(year) + (2000 if len(year) == 2 else 0), month, day)
    else:
        candidates = [d for y in (today.year - 1, today.year, today.year + 1) if (d := _day(y, month, day))]
        found = next((d for d in candidates if (today - d).days <= RECENT_DAYS), None)
    if found is None or not today.year - 1 <= found.year <= today.year + YEARS_AHEAD:
        return None
    return found


def parse_span(text: str, today: date) -> tuple[date, date] | None:
    """"01.12 – 20.12" (any dash or space between): the start and the due date, in order. A due
    date without a year is its first day on or after the start ("20.12 – 15.01" crosses the
    new year), if that is within half a year; one with a year must not come before the start."""
    match = re.fullmatch(rf"\s*({_DATE})\s*(?:-|–|—|\s)\s*({_DATE})\s*", text)
    if not match:
        return None
    start = parse_date(match.group(1), today)
    if start is None:
        return None
    if match.group(8) is not None:
        due = parse_date(match.group(5), today)
    else:
        day, month = int(match.group(6)), int(match.group(7))
        due = next((d for y in (start.year, start.year + 1, start.year + 4)
                    if (d := _day(y, month, day)) and d >= start), None)
        if due is not None and (due - start) > timedelta(days=ROLLOVER_DAYS):
            return None  # "10.12 – 01.12" is a slip, not a task of a year
    if due is None or due < start or due.year > today.year + YEARS_AHEAD:
        return None
    return start, due
