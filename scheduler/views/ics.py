"""The plan as a calendar (RFC 5545, written by the icalendar library): every send an event.

Each event is one post on one channel: its title and channel as the summary, the exact text that
goes out as the description, its time in the campaign's zone (TZID, with that zone's VTIMEZONE
for the years the campaign spans). The UID is stable per campaign, post and channel, so a calendar
app that imports the file again (or subscribes to it) updates the event rather than adding a second
one. `calendar()` is what a dashboard serves as a feed.

Every text from the files (the campaign's name, a title, a post's text, an image's alt text) goes in as
an iCalendar TEXT value that the library escapes (a line break as `\\n`, never a new line, so no text
can add a property); control characters that TEXT may not hold are shown as symbols (scheduler.terminal).
Not by the library's own check: it is an `assert`, which `python -O` leaves out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo

from icalendar import Calendar, Event, vText

from scheduler.content.plan import Entry, Plan
from scheduler.terminal import shown

EVENT_LENGTH = timedelta(minutes=15)  # a send is an instant; calendars show an event this long
_NAMESPACE = uuid.UUID("6f6a3a5e-2f39-4d55-9c2b-8d1b8f2a7c11")  # campaign-scheduler's own


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
    cal.add("x-wr-calname", _text(settings.name))  # an X- property: the library would write it unescaped
    cal.add("x-wr-timezone", _text(zone.key))
    sends = [e for e in entries if not e.draft.draft]
    for entry in sends:
        cal.add_component(_event(settings.name, entry, zone, stamp))
    if sends:
        first, last = min(e.due for e in sends), max(e.due for e in sends)
        cal.add_missing_timezones(date(first.year - 1, 1, 1), date(last.year + 2, 1, 1))
    data: bytes = cal.to_ical()
    return data.decode("utf-8")


def _event(campaign: str, entry: Entry, zone: tzinfo, stamp: datetime) -> Event:
    draft, channel = entry.draft, entry.channel
    start = entry.due.astimezone(zone)
    held = [str(p) for p in entry.problems if p.is_error]
    name = draft.title or draft.id
    event = Event()
    event.add("uid", uid(campaign, draft.id, channel.name))
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", start + EVENT_LENGTH)
    event.add("summary", _text(f"{'held: ' if held else ''}{name} · {channel.name}"))
    event.add("description", _text(_description(entry, held)))
    event.add("categories", [channel.name])
    event.add("transp", "TRANSPARENT")  # a send does not make anyone busy
    return event


def _text(value: str) -> vText:
    """A TEXT value: line breaks escaped by the library, other control characters made visible."""
    return vText(shown(value, lines=True))


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
