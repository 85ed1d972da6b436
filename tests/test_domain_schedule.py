"""When reminders fall: typed clock times and days, quiet hours across midnight, the weekly digest,
in the community's zone."""

from __future__ import annotations

from datetime import datetime, time, timezone

import pytest

from bot.domain.schedule import in_quiet, next_weekly, parse_clock, parse_days, parse_weekday, quiet_end

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [("10:00", time(10)), ("9:05", time(9, 5)), ("23:59", time(23, 59)),
                                            ("25:00", None), ("xyz", None), ("10:60", None), ("", None)])
def test_clock_times_are_typed_to_the_minute(text, expected):
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text, expected", [("mon", 0), ("Дүйсенбі", 0), ("пт", 4), ("sun", 6), ("xyz", None)])
def test_weekdays_in_three_languages(text, expected):
    assert parse_weekday(text) == expected


@pytest.mark.parametrize("text, expected", [("7d", 7), ("7", 7), ("7 күн", 7), ("90д", 90), ("99999d", None),
                                            ("0d", None), ("-5d", None), ("week", None)])
def test_days(text, expected):
    assert parse_days(text, 90) == expected


@pytest.mark.parametrize("tz, utc_hour, quiet", [("Asia/Almaty", 16, False), ("Asia/Almaty", 17, True),
                                                 ("Asia/Almaty", 2, True), ("Asia/Almaty", 3, False),
                                                 ("Europe/Moscow", 18, False), ("Europe/Moscow", 19, True)])
def test_quiet_hours_span_midnight_in_the_communitys_zone(tz, utc_hour, quiet):
    instant = datetime(2026, 3, 2, utc_hour, 0, tzinfo=UTC)  # 22:00–08:00 local
    assert in_quiet(instant, tz, time(22), time(8)) is quiet


def test_a_reminder_in_quiet_hours_waits_for_their_end():
    late = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)  # 23:30 in Almaty
    assert quiet_end(late, "Asia/Almaty", time(8)) == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    early = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 06:00 in Almaty
    assert quiet_end(early, "Asia/Almaty", time(8)) == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("tz, expected_utc", [("Asia/Almaty", datetime(2026, 3, 9, 5, 0, tzinfo=UTC)),
                                              ("America/New_York", datetime(2026, 3, 9, 14, 0, tzinfo=UTC))])
def test_the_digest_falls_on_the_next_monday_at_ten_local(tz, expected_utc):
    # 2026-03-02 is a Monday; at 10:00 exactly it is the next week's (New York is on summer time by the 9th)
    after = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    assert next_weekly(after, 0, time(10), tz) == expected_utc
