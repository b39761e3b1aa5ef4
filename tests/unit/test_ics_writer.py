"""The calendar's own event writer (scheduler.views.ics) against the icalendar library's writer it replaced
for speed: the same bytes for the sample campaign and for hostile texts (line breaks of every kind,
control characters, commas, semicolons, backslashes, long multi-byte lines with emoji at every fold
position), every event's properties parsed back by icalendar the same, every line at most 75 octets of
UTF-8 that decodes on its own. The one intended difference: a `\\N` in a text stays two characters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, vText

from scheduler.content.plan import Entry, Plan, build
from scheduler.terminal import shown
from scheduler.views import ics
from tests.builders import post, write_campaign

SAMPLE = Path(__file__).resolve().parents[2]  # the repository is the sample campaign
STAMP = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CHANNELS = """\
channels:
  mastodon: {type: dryrun, like: mastodon}
  lang: {type: dryrun, like: telegram}
"""
# A content line as RFC 5545 has it: NAME[;PARAM=...]:value, or a folded line going on (a space first).
CONTENT_LINE = re.compile(r"^(?:[A-Z][A-Z0-9-]*(?:;[^\r\n]*)?:[^\r\n]*| [^\r\n]*)$")
MULTI_BYTE = ["é", "€", "😀", "👩‍👧", "e\u0301", "中"]  # 2, 3, 4 octets, a ZWJ sequence, a combining accent


def reference(plan: Plan, entries: Iterable[Entry], *, stamp: datetime) -> str:
    """The calendar as the library wrote it before (every event an icalendar Event)."""
    settings_ = plan.campaign.settings
    zone = settings_.timezone
    cal = Calendar()
    cal.add("prodid", "-//campaign-scheduler//campaign export//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", vText(shown(settings_.name, lines=True)))
    cal.add("x-wr-timezone", vText(shown(zone.key, lines=True)))
    sends = [e for e in entries if not e.draft.draft]
    for entry in sends:
        draft, channel = entry.draft, entry.channel
        start = entry.due.astimezone(zone)
        held = [str(p) for p in entry.problems if p.is_error]
        event = Event()
        event.add("uid", ics.uid(settings_.name, draft.id, channel.name))
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + ics.EVENT_LENGTH)
        summary = f"{'held: ' if held else ''}{draft.title or draft.id} · {channel.name}"
        event.add("summary", vText(shown(summary, lines=True)))
        event.add("description", vText(shown(ics._description(entry, held), lines=True)))
        event.add("categories", [channel.name])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    if sends:
        first, last = min(e.due for e in sends), max(e.due for e in sends)
        cal.add_missing_timezones(date(first.year - 1, 1, 1), date(last.year + 2, 1, 1))
    data: bytes = cal.to_ical()
    return data.decode("utf-8")


def hostile(root: Path, *, zone: str = "Europe/Amsterdam") -> Path:
    """A campaign whose texts try everything a calendar line must survive."""
    posts = {
        "breaks.md": post(
            "Een\r\ntwee\rdrie\nvier\u2028vijf\u2029zes\x1b]0;titel\x07 tab\tDEL\x7f C1\x85 bidi\u202eomgekeerd\u202c.",
            title='"Titel\\r\\nX-INJECTED:1; met, komma\'s en \\\\ backslash ^ en \\"quotes\\""',
            publish_at='"2027-03-28 03:30"',  # the day the clocks go forward
            channels="[mastodon, lang]",
        ),
        "escapes.md": post(
            "; , \\ ^ : \" ' " * 40 + "\\\\;;,,^^",
            title='"X-INJECTED:1"',
            publish_at='"2027-10-31 09:00"',  # (the hour that happens twice: see the test of its own below)
            channels="[lang]",
        ),
        "image.md": (
            "---\npublish_at: 2027-11-15 09:00\nchannels: [lang]\n"
            'media:\n  - {path: media/nergens.png, alt: "Alt, met; tekens\\\\ en € en \\r\\nX-INJECTED:1"}\n---\n'
            "Met een beeld.\n"
        ),
        "te-lang.md": post("Veel te lang voor Mastodon. " * 30, title="Te lang; held", publish_at='"2027-11-16 09:00"'),
        "draad.md": post(
            " ".join(f"Zin {n}, met; tekens€😀." for n in range(60)),
            title="Draad",
            publish_at='"2027-11-17 09:00"',
            thread="true",
        ),
    }
    for number, char in enumerate(MULTI_BYTE):
        for shift in range(8):  # every octet position of the character against the 74-octet fold
            posts[f"lang/{number}-{shift}.md"] = post(
                "x" * shift + char * 120 + "\\" * shift + ";" * 80,
                title=f'"{"y" * (shift + 60)}{char * 10}"',
                publish_at=f'"2027-12-{shift + 1:02d} {number + 8:02d}:{shift:02d}"',
                channels="[lang]",
            )
    defaults = f"campaign: 'Week; van, het \\ kind 😀'\ntimezone: {zone}\nlanguage: nl\nchannels: [mastodon]\n"
    return write_campaign(root, posts, channels=CHANNELS, defaults=defaults)


def check_lines(text: str) -> None:
    """Every line ends in CRLF, holds at most 75 octets, is valid UTF-8 on its own and is a content line."""
    data = text.encode("utf-8")
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        decoded = line.decode("utf-8")  # strict: a fold never splits a UTF-8 sequence
        assert CONTENT_LINE.match(decoded), decoded
        assert not re.search("[\x00-\x1f\x7f]", decoded), decoded
    assert not [line for line in lines if line.startswith(b"X-INJECTED")]


def properties(text: str) -> dict[str, dict[str, Any]]:
    """Every event's properties as icalendar reads them back, by UID."""
    found: dict[str, dict[str, Any]] = {}
    for event in Calendar.from_ical(text).events:
        values = {name.lower(): event.decoded(name) for name in event}
        values["params"] = {name.lower(): dict(event[name].params) for name in event if hasattr(event[name], "params")}
        found[str(event["uid"])] = values
    return found


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "UTC", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
def test_hostile_texts_are_written_as_the_library_wrote_them(tmp_path: Path, zone: str) -> None:
    plan = build(hostile(tmp_path, zone=zone))
    entries = plan.select()
    fast, slow = ics.calendar(plan, entries, stamp=STAMP), reference(plan, entries, stamp=STAMP)
    check_lines(fast)
    assert properties(fast) == properties(slow)
    assert fast == slow
    events = properties(fast)
    assert len(events) == 2 + 1 + 1 + 1 + 1 + len(MULTI_BYTE) * 8  # breaks.md on two channels
    assert (Calendar.from_ical(fast).timezones != []) == (zone != "UTC")  # UTC times end in Z instead
    descriptions = [str(values["description"]) for values in events.values()]
    assert any(
        d.startswith("Een\ntwee\ndrie\nvier\nvijf\nzes␛]0;titel␇ tab DEL␡ C1� bidiomgekeerd.") for d in descriptions
    )
    assert any("image: media/nergens.png (Alt, met; tekens\\ en € en \nX-INJECTED:1)" in d for d in descriptions)


def test_the_sample_campaign_is_written_as_the_library_wrote_it() -> None:
    plan = build(SAMPLE)
    entries = plan.select()
    fast, slow = ics.calendar(plan, entries, stamp=STAMP), reference(plan, entries, stamp=STAMP)
    check_lines(fast)
    assert len(properties(fast)) > 10
    assert properties(fast) == properties(slow)
    assert fast == slow


def test_a_backslash_n_in_a_text_stays_what_it_is(tmp_path: Path) -> None:
    text = "Opslaan in C:\\Nieuw\\map en \\n is geen regel."
    root = write_campaign(tmp_path, {"pad.md": post(text, title='"C:\\\\Nieuw"', publish_at='"2027-11-15 09:00"')})
    plan = build(root)
    fast = ics.calendar(plan, plan.select(), stamp=STAMP)
    check_lines(fast)
    ((_, values),) = properties(fast).items()
    assert str(values["summary"]) == "C:\\Nieuw · mastodon"
    assert str(values["description"]).startswith(text + "\n\n")
    # The library's writer read `\N` as a line break; apart from that the events are the same.
    slow = properties(reference(plan, plan.select(), stamp=STAMP))
    ((_, before),) = slow.items()
    for name in ("summary", "description"):
        values[name] = str(values[name]).replace("\\N", "\n")
        before[name] = str(before[name])
    assert values == before


def test_no_events_is_the_calendar_alone(tmp_path: Path) -> None:
    root = write_campaign(tmp_path, {"concept.md": post("Nog niet.", publish_at='"2027-11-01 09:00"', draft="true")})
    plan = build(root)
    fast = ics.calendar(plan, plan.select(), stamp=STAMP)
    assert fast == reference(plan, plan.select(), stamp=STAMP)
    assert Calendar.from_ical(fast).events == []


PIECES = [
    "a",
    "N",
    "n",
    " ",
    "\\",
    ";",
    ",",
    "^",
    ":",
    '"',
    "\n",
    "\r",
    "\t",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
]
TEXTS = st.lists(st.sampled_from([*PIECES, *MULTI_BYTE]), max_size=300).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, name=st.sampled_from(["SUMMARY", "DESCRIPTION", "CATEGORIES"]))
def test_any_text_makes_the_line_the_library_made(text: str, name: str) -> None:
    event = Event()
    event.add(name, vText(shown(text, lines=True)))
    expected: bytes = event.to_ical()
    line = ics._fold(f"{name}:{ics._text(text)}".encode())
    if "\\N" in shown(text, lines=True):  # the library reads it as a line break; here it stays two characters
        assert b"\\\\N" in line.replace(b"\r\n ", b"")
    else:
        assert b"BEGIN:VEVENT\r\n" + line + b"\r\nEND:VEVENT\r\n" == expected


def test_a_send_in_the_hour_the_clocks_go_back_is_the_moment_it_goes_out(tmp_path: Path) -> None:
    # 02:30 happens twice in Amsterdam on 31 October 2027: at 00:30 and at 01:30 UTC.
    first, second = datetime(2027, 10, 31, 0, 30, tzinfo=UTC), datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    root = write_campaign(
        tmp_path,
        {
            "eerste.md": post("Eerste.", publish_at='"2027-10-31T02:30+02:00"'),
            "tweede.md": post("Tweede.", publish_at='"2027-10-31T02:30+01:00"'),
            "gewoon.md": post("Gewoon.", publish_at='"2027-10-31 09:00"'),
        },
    )
    plan = build(root)
    text = ics.calendar(plan, plan.select(), stamp=STAMP)
    check_lines(text)
    starts = {str(e["summary"]): e.decoded("dtstart") for e in Calendar.from_ical(text).walk("VEVENT")}
    by_text = {summary.split(" ")[0]: moment for summary, moment in starts.items()}
    assert [by_text[name].astimezone(UTC) for name in ("eerste", "tweede")] == [first, second], starts
    assert "DTSTART;TZID=Europe/Amsterdam:20271031T090000" in text  # an ordinary time keeps its zone
