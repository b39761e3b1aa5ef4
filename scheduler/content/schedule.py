"""When posts go out: `publish_at` values and series, in the campaign's time zone.

Times are wall-clock times in the campaign's zone: a daily 09:00 series is at 09:00 on both
sides of a DST change. Every instant leaves this module as an aware UTC datetime.

A `publish_at` that does not exist locally (in the spring-forward gap) or exists twice (in the
autumn fold) is an error unless it carries an offset. A series occurrence in a gap moves forward
by the length of the gap (02:30 → 03:30) and one in a fold takes the first of the two instants;
both are reported as warnings.

Series (`schedule:` in a folder's _defaults.yml), one of:
    {start: "2027-11-15 09:00", every: "1 day", until: "2027-11-21"}    # until/count optional
    {start: "2027-11-22 10:00", rrule: "FREQ=WEEKLY;BYDAY=MO,TH"}      # RFC 5545, COUNT/UNTIL optional
    {spread: {from: 2027-11-22, to: 2028-11-13, at: "10:00"}}          # N posts evenly over the days
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import islice
from typing import Any

from dateutil.rrule import rrule, rrulestr

from scheduler.settings import parse_duration
from scheduler.times import no_such_day
from scheduler.words import N_, Said

_SERIES_KEYS = {"start", "every", "until", "count", "rrule", "spread"}


class ScheduleError(ValueError):
    """A time or schedule that cannot be used; the message says why, and `said` keeps it for translation."""

    def __init__(self, message: Said) -> None:
        super().__init__(str(message))
        self.said = message


class TooFewOccurrences(ScheduleError):
    """The series ends before every post has a slot; `occurrences` are the slots it has."""

    def __init__(self, occurrences: list[Occurrence], needed: int) -> None:
        super().__init__(
            Said.ngettext(
                "the schedule has {n} occurrence for {needed} posts",
                "the schedule has {n} occurrences for {needed} posts",
                n=len(occurrences),
                needed=needed,
            )
        )
        self.occurrences = occurrences


@dataclass(frozen=True)
class Occurrence:
    when: datetime  # aware, UTC
    warning: Said | None = None


def parse_local(text: str) -> datetime:
    """'2027-11-15 09:00' or '2027-10-31T02:30+01:00' → datetime (naive if no offset)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        written = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})(?:[ T]|$)", text)
        reason = written and no_such_day(*(int(part) for part in written.groups()))
        if reason:
            raise ScheduleError(
                Said.of(N_("{text} is not on the calendar: {reason}"), text=repr(text), reason=reason)
            ) from None
        raise ScheduleError(
            Said.of(
                N_("{text} is not a date and time; write 2027-11-15 09:00 or 2027-10-31T02:30+01:00"), text=repr(text)
            )
        ) from None
    if len(text.strip()) <= 10:
        raise ScheduleError(
            Said.of(N_("{text} has no time of day; write it as {day} 09:00"), text=repr(text), day=text.strip())
        )
    return value


def to_utc(local: datetime, zone: tzinfo) -> datetime:
    """A naive wall-clock time in `zone` → UTC; ScheduleError if it falls in a gap or a fold."""
    try:
        utc = _to_utc(local, zone)
        if not 1 < utc.year < 9999:
            utc.astimezone(zone)  # it is shown in the campaign's zone too
    except OverflowError:
        raise ScheduleError(
            Said.of(N_("{time} is too close to the year 1 or 9999"), time=local.isoformat(" ", "minutes"))
        ) from None
    return utc


def _to_utc(local: datetime, zone: tzinfo) -> datetime:
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        earlier, later = sorted((first.astimezone(UTC), second.astimezone(UTC)))
        if _exists(first):
            raise ScheduleError(
                Said.of(
                    N_("{time} happens twice in {zone} (clocks go back); give an offset: {earlier} or {later}"),
                    time=f"{local:%Y-%m-%d %H:%M}",
                    zone=str(zone),
                    earlier=earlier.astimezone(zone).isoformat(timespec="minutes"),
                    later=later.astimezone(zone).isoformat(timespec="minutes"),
                )
            )
        # fold=0 reads the time with the offset from before the change: the moment the writer
        # most likely meant, shown as the wall-clock time that exists then (02:30 → 03:30).
        meant = first.astimezone(UTC).astimezone(zone)
        raise ScheduleError(
            Said.of(
                N_(
                    "{time} does not exist in {zone} (clocks go forward); write {meant}, "
                    "or give the offset of the time before the change: {offset}"
                ),
                time=f"{local:%Y-%m-%d %H:%M}",
                zone=str(zone),
                meant=f"{meant:%Y-%m-%d %H:%M}",
                offset=first.isoformat(timespec="minutes"),
            )
        )
    return first.astimezone(UTC)


def _exists(aware: datetime) -> bool:
    """True if this wall-clock reading survives a round trip through UTC."""
    back = aware.astimezone(UTC).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None) == aware.replace(tzinfo=None)


def occurrence(local: datetime, zone: tzinfo) -> Occurrence:
    """A series occurrence: gaps move forward by the gap, folds take the first instant."""
    try:
        return Occurrence(to_utc(local, zone))
    except ScheduleError:
        pass
    first = local.replace(tzinfo=zone, fold=0)
    if _exists(first):  # a fold: the earlier instant (still summer time)
        return Occurrence(
            first.astimezone(UTC), Said.of(N_("{time} happens twice; using the first"), time=f"{local:%Y-%m-%d %H:%M}")
        )
    # A gap: fold=0 reads the time with the offset from before the change, which lands after the
    # gap by its length (02:30 CET is 03:30 CEST).
    moved = first.astimezone(UTC)
    shown = moved.astimezone(zone)
    return Occurrence(
        moved,
        Said.of(
            N_("{time} does not exist (clocks go forward); moved to {moved}"),
            time=f"{local:%Y-%m-%d %H:%M}",
            moved=f"{shown:%H:%M}",
        ),
    )


def publish_at(value: Any, zone: tzinfo) -> datetime:
    """A post's `publish_at` → UTC."""
    if not isinstance(value, str):
        raise ScheduleError(
            Said.of(N_("publish_at must be a date and time such as 2027-11-15 09:00 (quoted if need be)"))
        )
    return to_utc(parse_local(value), zone)


def series(spec: Any, zone: tzinfo, needed: int) -> list[Occurrence]:
    """The first `needed` occurrences of a series; ScheduleError if the spec is wrong or too short."""
    if not isinstance(spec, Mapping):
        raise ScheduleError(Said.of(N_("schedule must be a mapping with start + every, start + rrule, or spread")))
    unknown = set(spec) - _SERIES_KEYS
    if unknown:
        raise ScheduleError(
            Said.of(
                N_("unknown schedule key(s) {keys}; expected {expected}"),
                keys=", ".join(sorted(map(str, unknown))),
                expected=", ".join(sorted(_SERIES_KEYS)),
            )
        )
    try:
        if "spread" in spec:
            locals_ = _spread(spec["spread"], needed)
        elif "start" in spec and "every" in spec:
            locals_ = list(islice(_every(spec), needed))
        elif "start" in spec and "rrule" in spec:
            locals_ = list(islice(_rrule(spec), needed))
        else:
            raise ScheduleError(Said.of(N_("schedule needs start + every, start + rrule, or spread")))
        found = [occurrence(local, zone) for local in locals_]
        if len(found) < needed:
            raise TooFewOccurrences(found, needed)
        return found
    except OverflowError:  # an interval of a billion days, a series running into the year 10000
        raise ScheduleError(Said.of(N_("the series runs past the year 9999"))) from None


def _start(spec: Mapping[str, Any]) -> datetime:
    start = parse_local(str(spec["start"]))
    if start.tzinfo is not None:
        raise ScheduleError(Said.of(N_("a series start is a wall-clock time; leave the offset out")))
    return start


def _bound(spec: Mapping[str, Any]) -> tuple[datetime | None, int | None]:
    until = spec.get("until")
    count = spec.get("count")
    end = None
    if until is not None:
        text = str(until).strip()
        try:
            end = datetime.combine(date.fromisoformat(text), time.max) if len(text) <= 10 else parse_local(text)
        except ValueError:
            raise ScheduleError(
                Said.of(N_("until: {until} is not a date such as 2027-11-21"), until=repr(until))
            ) from None
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ScheduleError(Said.of(N_("count must be a whole number ≥ 1")))
    return end, count


def _every(spec: Mapping[str, Any]) -> Iterator[datetime]:
    try:
        step = parse_duration(str(spec["every"]))
    except ValueError:  # also one too long to hold
        step = timedelta(0)
    if step < timedelta(minutes=1):
        raise ScheduleError(
            Said.of(
                N_("every: {every} is not an interval such as '1 day', '12 days' or '2 weeks'"),
                every=repr(spec["every"]),
            )
        )
    start, (end, count) = _start(spec), _bound(spec)
    index = 0
    while count is None or index < count:
        current = start + step * index  # naive: wall-clock arithmetic
        if end is not None and current > end:
            return
        yield current
        index += 1


def _rrule(spec: Mapping[str, Any]) -> Iterator[datetime]:
    start, (end, count) = _start(spec), _bound(spec)
    text = str(spec["rrule"]).strip()
    text = text[len("RRULE:") :] if text.upper().startswith("RRULE:") else text
    try:
        rule = rrulestr(text, dtstart=start)
        # A rule that can never match (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) makes dateutil search up
        # to the year 9999; a campaign series ends within a century.
        horizon = start.replace(year=min(start.year + 100, 9999))
        if isinstance(rule, rrule) and not {"COUNT", "UNTIL"} & set(re.findall(r"([A-Z]+)=", text.upper())):
            rule = rule.replace(until=horizon)
    except (ValueError, TypeError) as exc:
        raise ScheduleError(
            Said.of(N_("rrule {rule} is not a valid RFC 5545 rule: {why}"), rule=repr(text), why=str(exc))
        ) from None
    for index, current in enumerate(rule):
        if (count is not None and index >= count) or (end is not None and current > end):
            return
        yield current


def _spread(spec: Any, needed: int) -> list[datetime]:
    if not isinstance(spec, Mapping) or not {"from", "to", "at"} <= set(spec):
        raise ScheduleError(
            Said.of(N_("spread needs from, to and at: {from: 2027-11-22, to: 2028-11-13, at: '10:00'}"))
        )
    try:
        first, last = date.fromisoformat(str(spec["from"])), date.fromisoformat(str(spec["to"]))
        at = time.fromisoformat(str(spec["at"]))
    except ValueError as exc:
        raise ScheduleError(Said.of(N_("spread: {why}"), why=str(exc))) from None
    days = (last - first).days
    if days < 0:
        raise ScheduleError(Said.of(N_("spread: 'to' is before 'from'")))
    if needed > days + 1:
        raise ScheduleError(
            Said.of(N_("spread: {needed} posts do not fit in {days} days"), needed=needed, days=days + 1)
        )
    if needed <= 1:
        return [datetime.combine(first, at)] * needed
    return [datetime.combine(first + timedelta(days=round(i * days / (needed - 1))), at) for i in range(needed)]
