"""When reminders fall, in a community's own time: clock times typed to the minute, weekdays,
quiet hours, mute durations. Pure functions of instants and zones (no I/O)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

WEEKDAYS = {  # what a facilitator may type for a weekday, Monday = 0
    0: ("mon", "monday", "дс", "дүйсенбі", "пн", "понедельник"),
    1: ("tue", "tuesday", "сс", "сейсенбі", "вт", "вторник"),
    2: ("wed", "wednesday", "ср", "сәрсенбі", "среда"),
    3: ("thu", "thursday", "бс", "бейсенбі", "чт", "четверг"),
    4: ("fri", "friday", "жм", "жұма", "пт", "пятница"),
    5: ("sat", "saturday", "сб", "сенбі", "суббота"),
    6: ("sun", "sunday", "жс", "жексенбі", "вс", "воскресенье"),
}
MUTE_MAX_DAYS = 90


def parse_clock(text: str) -> time | None:
    """"10:00", "9:30" → a time; None for "25:00", "xyz"."""
    match = re.fullmatch(r"([01]?\d|2[0-3])[:.]([0-5]\d)", text.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_weekday(text: str) -> int | None:
    word = text.strip().lower()
    return next((day for day, names in WEEKDAYS.items() if word in names), None)


def parse_days(text: str, most: int) -> int | None:
    """"7d", "7", "7д", "7к" → 7 days; None beyond ``most`` or when unreadable."""
    match = re.fullmatch(r"(\d{1,4})\s*(d|д|к|days?|дн\w*|күн)?", text.strip().lower())
    if not match:
        return None
    days = int(match.group(1))
    return days if 1 <= days <= most else None


def iso(instant: datetime) -> str:
    """An instant as stored: UTC, to the second (compared as text in SQL, so always this one way)."""
    return instant.astimezone(timezone.utc).isoformat(timespec="seconds")


def hhmm(value: time) -> str:
    return f"{value:%H:%M}"


def at_local(day: date, clock: time, tz: str) -> datetime:
    """The UTC instant of ``clock`` on ``day`` in the zone ``tz``."""
    return datetime.combine(day, clock, ZoneInfo(tz)).astimezone(timezone.utc)


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def in_quiet(instant: datetime, tz: str, start: time, end: time) -> bool:
    """Is ``instant`` within the quiet hours [start, end) of the zone (they may span midnight)?"""
    now = instant.astimezone(ZoneInfo(tz)).time().replace(second=0, microsecond=0, tzinfo=None)
    if start < end:
        return start <= now < end
    return now >= start or now < end


def next_weekly(after: datetime, weekday: int, clock: time, tz: str) -> datetime:
    """The first instant strictly after ``after`` that is ``weekday`` at ``clock`` in ``tz``."""
    day = local_date(after, tz)
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if candidate_day.weekday() != weekday:
            continue
        candidate = at_local(candidate_day, clock, tz)
        if candidate > after:
            return candidate
    return at_local(day + timedelta(days=7 + (weekday - day.weekday()) % 7), clock, tz)


def quiet_end(instant: datetime, tz: str, end: time) -> datetime:
    """The first instant after ``instant`` when it is ``end`` o'clock in ``tz`` (quiet hours over)."""
    day = local_date(instant, tz)
    for offset in range(3):
        candidate = at_local(day + timedelta(days=offset), end, tz)
        if candidate > instant:
            return candidate
    return at_local(day + timedelta(days=1), end, tz)
