"""Dates as members type them."""

from datetime import date

import pytest
from hypothesis import given, strategies as st

from bot.domain.dates import parse_date, parse_span

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize("text, expected", [
    ("01.12", date(2026, 12, 1)), ("1.12", date(2026, 12, 1)), ("15/01", date(2027, 1, 15)),
    ("20.11", date(2026, 11, 20)),  # a week ago: this year, not next
    ("01.12.2027", date(2027, 12, 1)), ("01.12.27", date(2027, 12, 1)),
    ("31.02", None), ("12", None), ("1.13", None), ("tomorrow", None), ("", None),
])
def test_a_date(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("text, expected", [
    ("01.12 – 20.12", (date(2026, 12, 1), date(2026, 12, 20))),
    ("01.12-20.12", (date(2026, 12, 1), date(2026, 12, 20))),
    ("1.12 20.12", (date(2026, 12, 1), date(2026, 12, 20))),
    ("20.12 – 15.01", (date(2026, 12, 20), date(2027, 1, 15))),  # across the new year
    ("20.12.2026 – 15.01.2026", None),  # explicit years, due before start
    ("10.12 – 01.12", None),  # read across the new year it would last a year: a slip
    ("01.12", None), ("01.12 – 32.12", None), ("soon", None),
])
def test_a_span(text, expected):
    assert parse_span(text, TODAY) == expected


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
       st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
def test_a_span_written_with_years_reads_back_or_is_refused(a, b):
    found = parse_span(f"{a:%d.%m.%Y} – {b:%d.%m.%Y}", TODAY)
    assert found == ((a, b) if a <= b else None)
