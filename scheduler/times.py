"""Times as people read them: in the campaign's zone, with the zone's name (2027-11-15 09:00 CET).
The one format of every human-facing time: the CLI, the daemon's log lines, the dashboard."""

from __future__ import annotations

import calendar
from datetime import datetime, tzinfo


def local_time(when: datetime | None, zone: tzinfo, seconds: bool = False) -> str | None:
    """`when` in `zone`, with the zone's name; None for None."""
    if when is None:
        return None
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def no_such_day(year: int, month: int, day: int) -> str | None:
    """Why year-month-day is not on the calendar, in words ('2027 has no 29 February'); None if it is."""
    if not 1 <= month <= 12:
        return f"there is no month {month} (months go from 01 to 12)"
    try:
        last = calendar.monthrange(year, month)[1]
    except (ValueError, OverflowError):  # a year before 1 or after 9999
        return f"the year {year} is out of reach"
    if day < 1 or day > last:
        if month == 2 and day == 29:
            return f"{year} has no 29 February (it is not a leap year; February {year} ends on the 28th)"
        return f"{_MONTH_NAMES[month - 1]} has {last} days{' in ' + str(year) if month == 2 else ''}, not {day}"
    return None
