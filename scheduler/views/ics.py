"""The plan as a calendar (RFC 5545): every send an event.

Each event is one post on one channel: its title and channel as the summary, the exact text that
goes out as the description, its time in the campaign's zone (TZID, with that zone's VTIMEZONE
for the years the campaign spans). The UID is stable per campaign, post and channel, so a calendar
app that imports the file again (or subscribes to it) updates the event rather than adding a second
one. `calendar()` is what a dashboard serves as a feed.

The icalendar library writes the calendar's own properties and the VTIMEZONE, and says once per
calendar how a time in the campaign's zone is written (its TZID parameter, or UTC's `Z`). The events
are written here, line by line, in the library's property order and folding: the library builds and
folds an object per property, which made 40,000 events take 17 s (over 15 times what this takes,
bench/README.md), and an event has only these few properties. tests/unit/test_ics_writer.py
compares the two writers byte for byte.

Every text from the files (the campaign's name, a title, a post's text, an image's alt text, a
channel's name and type) goes in as an iCalendar TEXT value (RFC 5545 §3.3.11): control characters
made visible (scheduler.terminal), then a backslash, `;` and `,` escaped and a line break written as
`\\n`, never a new line, so no text can add a property. That is checked for every value with an `if`,
not an `assert` that `python -O` leaves out. One difference from the library's writer: it reads a
`\\N` in a text as a line break; here it stays the two characters it is.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta, tzinfo

from icalendar import Calendar, Timezone, vDatetime, vText

from scheduler.content.plan import Entry, Plan
from scheduler.terminal import shown

EVENT_LENGTH = timedelta(minutes=15)  # a send is an instant; calendars show an event this long
_NAMESPACE = uuid.UUID("6f6a3a5e-2f39-4d55-9c2b-8d1b8f2a7c11")  # campaign-scheduler's own
_END = b"END:VCALENDAR\r\n"
_LIMIT = 74  # octets of content per line: the library's folding (75 with a continuation's space)
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def uid(campaign: str, post: str, channel: str) -> str:
    """The event's UID: the same for the same campaign, post and channel in every export."""
    name = "\x1f".join((campaign, post, channel))  # a separator no name contains
    return f"{uuid.uuid5(_NAMESPACE, name)}@campaign-scheduler"


def calendar(plan: Plan, entries: Iterable[Entry], *, stamp: datetime) -> str:
    """The ICS text of `entries` (drafts are left out: they are never sent). `stamp` (aware) is the
    DTSTAMP of every event: when this calendar was made."""
    settings = plan.campaign.settings
    zone = settings.timezone
    cal = Calendar()
    cal.add("prodid", "-//campaign-scheduler//campaign export//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")  # a published calendar, not an invitation to answer
    cal.add("x-wr-calname", _value(settings.name))  # an X- property: the library would write it unescaped
    cal.add("x-wr-timezone", _value(zone.key))
    sends = [e for e in entries if not e.draft.draft]
    # How the library writes a time in this zone: the same parameter (or UTC's Z) for every event.
    probe = vDatetime(datetime(2000, 1, 1, tzinfo=zone))
    params: bytes = probe.params.to_ical()
    times = _Times(zone, b";" + params if params else b"", b"Z" if probe.is_utc() else b"")
    if sends:
        first, last = min(e.due for e in sends), max(e.due for e in sends)
        tzid = probe.params.get("TZID")
        if tzid:  # what Calendar.add_missing_timezones adds, without walking 40,000 events to find it
            with suppress(ValueError):  # a zone the library cannot describe: times keep their TZID, as before
                begin, end = date(first.year - 1, 1, 1), date(last.year + 2, 1, 1)
                cal.add_component(Timezone.from_tzid(tzid, first_date=begin, last_date=end))
    head: bytes = cal.to_ical()
    if not head.endswith(_END):
        raise RuntimeError("the calendar library wrote a calendar that does not end in END:VCALENDAR")
    stamp_line = b"DTSTAMP:" + _time(stamp.astimezone(UTC)) + b"Z\r\n"
    chunks = [head[: -len(_END)]]
    chunks.extend(_event(settings.name, entry, stamp_line, times) for entry in sends)
    chunks.append(_END)
    return b"".join(chunks).decode("utf-8")


class _Times:
    """DTSTART and DTEND as the library writes them in one zone; the channels of a post share them."""

    def __init__(self, zone: tzinfo, params: bytes, suffix: bytes) -> None:
        self.zone, self.suffix = zone, suffix
        self.start, self.end = b"DTSTART" + params + b":", b"DTEND" + params + b":"
        self.made: dict[tuple[datetime, timedelta | None], bytes] = {}

    def lines(self, due: datetime) -> bytes:
        # With the offset: two times of one zone's repeated hour are equal as datetimes (fold is ignored).
        key = (due, due.utcoffset())
        made = self.made.get(key)
        if made is None:
            start = due.astimezone(self.zone)
            if _repeated(start) or _repeated(start + EVENT_LENGTH):
                # In the hour the clocks go back, a local time names two moments and calendar apps take
                # the first: only UTC says which one is meant.
                made = self.made[key] = b"".join(
                    (
                        b"DTSTART:" + _time(due.astimezone(UTC)) + b"Z\r\n",
                        b"DTEND:" + _time((due + EVENT_LENGTH).astimezone(UTC)) + b"Z\r\n",
                    )
                )
                return made
            made = self.made[key] = b"".join(
                (
                    _fold(self.start + _time(start) + self.suffix),
                    b"\r\n",
                    _fold(self.end + _time(start + EVENT_LENGTH) + self.suffix),
                    b"\r\n",
                )
            )
        return made


def _repeated(local: datetime) -> bool:
    """Whether the wall-clock time `local` happens twice in its zone (the hour the clocks go back)."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def _time(moment: datetime) -> bytes:
    """A DATE-TIME's digits (RFC 5545 §3.3.5), seconds whole, as the library writes them."""
    return (
        f"{moment.year:04}{moment.month:02}{moment.day:02}T{moment.hour:02}{moment.minute:02}{moment.second:02}"
    ).encode("ascii")


def _event(campaign: str, entry: Entry, stamp_line: bytes, times: _Times) -> bytes:
    draft, channel = entry.draft, entry.channel
    held = [str(p) for p in entry.problems if p.is_error]
    name = draft.title or draft.id
    summary = _text(f"{'held: ' if held else ''}{name} · {channel.name}")
    # The library's order: SUMMARY, DTSTART, DTEND, DTSTAMP, UID, then the others by name.
    return b"".join(
        (
            b"BEGIN:VEVENT\r\n",
            _fold(b"SUMMARY:" + summary.encode("utf-8")),
            b"\r\n",
            times.lines(entry.due),
            stamp_line,
            _fold(b"UID:" + _text(uid(campaign, draft.id, channel.name)).encode("utf-8")),
            b"\r\n",
            _fold(b"CATEGORIES:" + _text(channel.name).encode("utf-8")),
            b"\r\n",
            _fold(b"DESCRIPTION:" + _text(_description(entry, held)).encode("utf-8")),
            b"\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",  # a send does not make anyone busy
        )
    )


def _value(text: str) -> vText:
    """A TEXT value for the library to write: line breaks escaped by it, other control characters made visible."""
    return vText(shown(text, lines=True))


def _text(text: str) -> str:
    """`text` as an escaped TEXT value (RFC 5545 §3.3.11): nothing in it can end the line or start another."""
    escaped = shown(text, lines=True).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    if _CONTROL.search(escaped):  # shown() leaves none; a real check all the same, kept under python -O
        raise ValueError(f"a control character reached a calendar text (a bug, please report it): {escaped!r}")
    return escaped


def _fold(line: bytes) -> bytes:
    """`line` folded (RFC 5545 §3.1) as the library folds it: at most 74 octets of content per line,
    never inside a UTF-8 sequence, nor right after a `\\` or `^` (an escape stays on one line)."""
    if len(line) <= _LIMIT:
        return line
    parts = []
    start, size = 0, len(line)
    while size - start > _LIMIT:
        cut = start + _LIMIT
        while line[cut] & 0xC0 == 0x80:  # a continuation byte: the character starts before the cut
            cut -= 1
        if line[cut - 1] in b"\\^" and cut - 1 > start:
            cut -= 1
        parts.append(line[start:cut])
        start = cut
    parts.append(line[start:])
    return b"\r\n ".join(parts)


def _description(entry: Entry, held: list[str]) -> str:
    if entry.post is None:
        text = "(this post could not be rendered)"
    elif entry.post.parts:
        text = "\n\n".join(entry.post.parts)  # each part ends in its number (" 1/3")
    else:
        text = entry.post.text
    media = [f"image: {ref.path} ({ref.alt})" for ref in entry.draft.media]
    where = f"{entry.draft.path} · {entry.channel.name} ({entry.channel.type})"
    blocks = [text, *(["\n".join(media)] if media else []), where]
    if held:
        blocks.insert(0, "Held, it goes out only when this is fixed:\n" + "\n".join(held))
    return "\n\n".join(blocks)
