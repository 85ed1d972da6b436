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
    ("31.12.9999", None), ("01.01.2020", None),  # beyond the years a plan may span
])

def test_a_date(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("today, text, expected", [
    (date(2027, 1, 3), "28.12", date(2026, 12, 28)),  # a week ago, not next December
    (date(2026, 11, 27), "15.01", date(2027, 1, 15)),
    (date(2027, 1, 3), "29.02", date(2028, 2, 29)),  # the next 29 February that exists
    (date(2026, 3, 2), "01.12", date(2026, 12, 1)),  # ahead, not three months back
])
def test_the_first_such_day_from_a_month_ago(today, text, expected):
    assert parse_date(text, today) == expected


def test_a_span_around_the_new_year_read_on_its_third_day():
    assert parse_span("28.12 – 05.01", date(2027, 1, 3)) == (date(2026, 12, 28), date(2027, 1, 5))


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


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2031, 12, 31)),
       st.dates(min_value=date(2025, 1, 1), max_value=date(2031, 12, 31)))
def test_a_span_written_with_years_reads_back_or_is_refused(a, b):
    found = parse_span(f"{a:%d.%m.%Y} – {b:%d.%m.%Y}", TODAY)
    assert found == ((a, b) if a <= b else None)
