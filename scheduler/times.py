"""Times as people read them: in the campaign's zone, with the zone's name (2027-11-15 09:00 CET).
The one format of every human-facing time: the CLI, the daemon's log lines, the dashboard."""

from __future__ import annotations

import calendar
from datetime import datetime, tzinfo

from scheduler.words import N_, Said


def local_time(when: datetime | None, zone: tzinfo, seconds: bool = False) -> str | None:
    """`when` in `zone`, with the zone's name; None for None."""
    if when is None:
        return None
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


_MONTH_NAMES = [
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
]


def no_such_day(year: int, month: int, day: int) -> Said | None:
    """Why year-month-day is not on the calendar, in words ('2027 has no 29 February'); None if it is."""
    if not 1 <= month <= 12:
        return Said.of(N_("there is no month {month} (months go from 01 to 12)"), month=month)
    try:
        last = calendar.monthrange(year, month)[1]
    except (ValueError, OverflowError):  # a year before 1 or after 9999
        return Said.of(N_("the year {year} is out of reach"), year=year)
    if day < 1 or day > last:
        if month == 2 and day == 29:
            return Said.of(
                N_("{year} has no 29 February (it is not a leap year; February {year} ends on the 28th)"), year=year
            )
        if month == 2:
            return Said.of(N_("February has {last} days in {year}, not {day}"), last=last, year=year, day=day)
        name = Said.of(_MONTH_NAMES[month - 1])
        return Said.of(N_("{month} has {last} days, not {day}"), month=name, last=last, day=day)
    return None
