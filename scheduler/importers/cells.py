"""One cell as people write it → a value, or CellError saying in words what to write instead.

Dates are read day first, as in the Netherlands and most of Europe: `15-11-2027`, `15/11/2027`,
`15.11.2027`, `15 november 2027` (Dutch or English month names), or `2027-11-15`; and Excel date
cells. A first number that could be a month (`11/15/2027`) is never guessed at: the date is refused
and the row reported. Times: `9:00`, `09.00`, `9u`, `21:30`, `9:00 pm`, Excel time cells and
fractions of a day, and an offset when a time happens twice in autumn (`02:30+02:00`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

from scheduler.times import no_such_day

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("januari", "january", "jan"),
            ("februari", "february", "feb"),
            ("maart", "march", "mrt", "mar"),
            ("april", "apr"),
            ("mei", "may"),
            ("juni", "june", "jun"),
            ("juli", "july", "jul"),
            ("augustus", "august", "aug"),
            ("september", "sept", "sep"),
            ("oktober", "october", "okt", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        1,
    )
    for name in names
}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2,4})$")
_NAMED = re.compile(r"^(?:[^\W\d_]+,?\s+)?(\d{1,2})\.?\s+([^\W\d_]+)\.?\s+(\d{4})$")
_TIME = re.compile(
    r"^(\d{1,2})(?:[:.](\d{2}))?(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|u|uur|h)?\s*(z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 1 is 1900-01-01 in Excel's (1900 leap-year) count
_WRITE_DATE = "write it as 15-11-2027 or 2027-11-15"
_WRITE_TIME = "write it as 09:00 or 21:30"


class CellError(ValueError):
    """A cell that cannot be read; the message says what to write instead."""


class Unreadable(CellError):
    """Text that is no date or time at all (as opposed to a day that does not exist, say)."""


def read_date(value: object) -> tuple[date, time | None]:
    """A date cell → the day, and a time when the cell holds one too (`15-11-2027 09:00`)."""
    if isinstance(value, datetime):
        value = _whole_seconds(value)
        moment = value.time()
        return value.date(), (moment if moment != time() else None)
    if isinstance(value, date):
        return value, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20_000 <= value < 80_000:  # an Excel date serial (1954..2119), from a cell shown as a number
            stamp = _EXCEL_EPOCH + timedelta(days=float(value))
            return read_date(stamp.replace(microsecond=0))
        raise CellError(f"{value!r} is a number, not a date; {_WRITE_DATE}")
    text = str(value).strip()
    if not text:
        raise CellError(f"the date is empty; {_WRITE_DATE}")
    day_part, _, time_part = text.replace("T", " ").partition(" ")
    if time_part and not _NAMED.match(text):
        return _day(day_part, text), read_time(time_part)
    return _day(text, text), None


def _day(text: str, written: str) -> date:
    text = text.strip()
    if found := _ISO.match(text):
        year, month, day = (int(g) for g in found.groups())
    elif found := _DAY_FIRST.match(text):
        day, month, year = (int(g) for g in found.groups())
        if len(found.group(3)) != 4:
            raise CellError(f"{written!r}: write the year in full ({day:02d}-{month:02d}-20{found.group(3)[-2:]})")
        if month > 12 and day <= 12:
            raise CellError(
                f"{written!r} has no month {month}: dates are read day first; write {month:02d}-{day:02d}-{year} "
                f"or {year}-{day:02d}-{month:02d}"
            )
    elif found := _NAMED.match(text.casefold()):
        day, year = int(found.group(1)), int(found.group(3))
        month = _MONTHS.get(found.group(2), 0)
        if not month:
            raise CellError(f"{written!r}: {found.group(2)!r} is not a month; {_WRITE_DATE}")
    else:
        raise Unreadable(f"{written!r} is not a date; {_WRITE_DATE}")
    try:
        return date(year, month, day)
    except ValueError:
        reason = no_such_day(year, month, day) or "it is not a day of the calendar"
        raise CellError(f"{written!r} is not on the calendar: {reason}") from None


def read_time(value: object) -> time:
    """A time cell → a time of day (with a fixed offset when the cell gives one)."""
    if isinstance(value, datetime):
        return _whole_seconds(value).time()
    if isinstance(value, time):
        return _whole_seconds(datetime.combine(date(2000, 1, 1), value)).timetz()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 0 <= value < 1:  # Excel keeps a time as a fraction of a day
            seconds = round(float(value) * 86_400)
            return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
        raise CellError(f"{value!r} is a number, not a time; {_WRITE_TIME}")
    text = str(value).strip()
    found = _TIME.match(text)
    if not found:
        raise Unreadable(f"{text!r} is not a time; {_WRITE_TIME}")
    hour, minute, second = (int(g) if g else 0 for g in found.groups()[:3])
    suffix = (found.group(4) or "").casefold().replace(".", "")
    if suffix in ("am", "pm"):
        if not 1 <= hour <= 12:
            raise CellError(f"{text!r}: with am or pm the hour is 1 to 12; {_WRITE_TIME}")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise CellError(f"{text!r} is not a time of day; {_WRITE_TIME}")
    return time(hour, minute, second, tzinfo=_offset(found.group(5)))


def _whole_seconds(moment: datetime) -> datetime:
    """To the nearest second: Excel keeps times as fractions of a day, so 09:00 may come back as
    08:59:59.999999."""
    if moment.microsecond < 500_000 or moment.replace(tzinfo=None) >= datetime.max - timedelta(seconds=1):
        return moment.replace(microsecond=0)
    return (moment + timedelta(microseconds=500_000)).replace(microsecond=0)


def _offset(text: str | None) -> timezone | None:
    if not text:
        return None
    if text.casefold() == "z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def publish_at(day: date, moment: time) -> str:
    """The `publish_at` text of a post: local `2027-11-15 09:00`, or with the offset given."""
    local = datetime.combine(day, moment.replace(tzinfo=None))
    shown = local.isoformat(" ", "minutes" if local.second == 0 else "seconds")
    if moment.tzinfo is None:
        return shown
    return datetime.combine(day, moment).isoformat("T", "minutes" if local.second == 0 else "seconds")


def words(value: object, separators: str = ",;|\n") -> list[str]:
    """A list cell (`mastodon, bluesky`, one per line, ...) → its items, without empty ones."""
    if value is None:
        return []
    text = str(value)
    return [item.strip() for item in re.split(f"[{re.escape(separators)}]", text) if item.strip()]


def flag(value: object) -> bool:
    """A yes/no cell: ja, yes, true, x, 1 (and concept, draft) or nee, no, false, 0, empty."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().casefold()
    if text in ("", "nee", "no", "false", "onwaar", "0", "n"):
        return False
    if text in ("ja", "yes", "true", "waar", "x", "1", "y", "j", "concept", "draft"):
        return True
    raise CellError(f"{value!r} is not yes or no; write ja or nee (yes or no), or leave it empty")
