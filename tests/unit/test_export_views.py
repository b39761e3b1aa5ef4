"""The plan as a calendar and as a sheet: the ICS parsed back with icalendar (UIDs, zone, times across
both DST changes), and the CSV's columns for what a round trip must keep."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from scheduler.content.plan import build
from scheduler.views import ics, table
from tests.builders import post, write_campaign

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Both DST changes of 2027 in Europe/Amsterdam: the last Sunday of March (28th) and of October (31st).
TIMES = {
    "voor-maart.md": "2027-03-27 12:00",
    "na-maart.md": "2027-03-28 12:00",
    "voor-oktober.md": "2027-10-30 12:00",
    "na-oktober.md": "2027-10-31 12:00",
}
EXPECTED_UTC = {
    "voor-maart": datetime(2027, 3, 27, 11, tzinfo=UTC),
    "na-maart": datetime(2027, 3, 28, 10, tzinfo=UTC),
    "voor-oktober": datetime(2027, 10, 30, 10, tzinfo=UTC),
    "na-oktober": datetime(2027, 10, 31, 11, tzinfo=UTC),
}


def campaign(root: Path) -> Path:
    posts = {
        name: post(f"Bericht {name}.", title=f"Titel {name}", publish_at=f'"{when}"', channels="[mastodon, bluesky]")
        for name, when in TIMES.items()
    }
    posts["concept.md"] = post("Nog niet.", publish_at='"2027-11-01 09:00"', draft="true")
    return write_campaign(root, posts)


def events(text: str) -> dict[str, Any]:
    return {str(e["uid"]): e for e in Calendar.from_ical(text).events}


def test_every_send_is_an_event_with_a_stable_uid_per_post_and_channel(tmp_path: Path) -> None:
    plan = build(campaign(tmp_path))
    first = ics.calendar(plan, plan.entries, stamp=datetime(2026, 12, 1, tzinfo=UTC))
    again = ics.calendar(build(tmp_path), build(tmp_path).entries, stamp=datetime(2026, 12, 2, tzinfo=UTC))
    assert first != again  # DTSTAMP says when each was made
    assert set(events(first)) == set(events(again))
    assert len(events(first)) == 8  # 4 posts × 2 channels; the draft is never sent, so no event
    summaries = sorted(str(e["summary"]) for e in events(first).values())
    assert summaries[0] == "Titel na-maart.md · bluesky"
    assert ics.uid("Test", "na-maart", "bluesky") != ics.uid("Test", "na-maart", "mastodon")
    assert ics.uid("Test", "na-maart", "bluesky") != ics.uid("Andere", "na-maart", "bluesky")


def test_times_are_in_the_campaign_zone_with_its_vtimezone_across_both_dst_changes(tmp_path: Path) -> None:
    plan = build(campaign(tmp_path))
    parsed = Calendar.from_ical(ics.calendar(plan, plan.entries, stamp=datetime(2026, 12, 1, tzinfo=UTC)))
    zones = parsed.timezones
    assert [z.tz_name for z in zones] == ["Europe/Amsterdam"]
    own_zone = zones[0].to_tz(lookup_tzid=False)  # the VTIMEZONE's own rules, not the host's
    for event in parsed.events:
        start: Any = event["dtstart"]
        assert start.params["TZID"] == "Europe/Amsterdam"
        name = str(event["description"]).split("Bericht ")[1].split(".md")[0]
        assert isinstance(event.start, datetime)
        assert event.start.astimezone(UTC) == EXPECTED_UTC[name]
        assert event.start.replace(tzinfo=own_zone).astimezone(UTC) == EXPECTED_UTC[name]
        assert (event.end - event.start).total_seconds() == 15 * 60


def test_the_description_is_the_text_that_goes_out(tmp_path: Path) -> None:
    plan = build(campaign(tmp_path))
    text = ics.calendar(plan, plan.entries, stamp=datetime(2026, 12, 1, tzinfo=UTC))
    descriptions = [str(e["description"]) for e in events(text).values()]
    assert any(d.startswith("Bericht na-oktober.md.\n\nposts/na-oktober.md · mastodon (dryrun)") for d in descriptions)


def rows(export: table.Export) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export.text)))


def test_the_sheet_has_the_import_columns_in_the_campaign_language(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path,
        {
            "a.md": post(
                "Tekst met {{ campaign.name }}.", title='"Dag 1: start"', publish_at='"2027-11-15 09:00"', hashtags="[]"
            ),
            "b.md": post("Concept.", publish_at='"2027-11-16 09:00"', draft="true", channels="[mastodon, bluesky]"),
            "c.md": post("In de terugval.", publish_at='"2027-10-31T02:30+01:00"'),
            "d.md": post("Zonder tijd.", draft="true"),
            "e.md": post("Eigen Bluesky.", publish_at='"2027-11-17 09:00"', overrides="{bluesky: {body: Kort.}}"),
            "f.md": post("Kapot.", publish_at='"morgen"'),
        },
    )
    export = table.as_csv(build(root))
    found = rows(export)
    assert list(found[0]) == [
        "datum",
        "tijd",
        "kanalen",
        "tekst",
        "titel",
        "hashtags",
        "afbeelding",
        "alt",
        "id",
        "concept",
        "versie",
    ]
    assert [(r["datum"], r["tijd"], r["id"]) for r in found] == [
        ("2027-10-31", "02:30+01:00", "c"),  # it happens twice: the offset says which
        ("2027-11-15", "09:00", "a"),
        ("2027-11-16", "09:00", "b"),
        ("2027-11-17", "09:00", "e"),
    ]
    a, b = found[1], found[2]
    assert a["tekst"] == "Tekst met {{ campaign.name }}." and a["titel"] == "Dag 1: start" and a["hashtags"] == "-"
    assert b["concept"] == "ja" and b["kanalen"] == "mastodon, bluesky" and b["hashtags"] == ""
    assert export.posts == 4
    assert "posts/e.md: not in the sheet: overrides" in export.notes
    assert "left out, no time: posts/d.md" in export.notes
    assert any(n.startswith("left out, they have errors") and "posts/f.md" in n for n in export.notes)


def test_a_held_send_is_marked_and_a_thread_shows_every_part(tmp_path: Path) -> None:
    long = " ".join(f"Zin {n} van een lang verhaal." for n in range(40))
    root = write_campaign(
        tmp_path,
        {
            "te-lang.md": post("x" * 600, title="Te lang", publish_at='"2027-11-15 09:00"'),
            "draad.md": post(long, title="Draad", publish_at='"2027-11-16 09:00"', thread="true"),
        },
    )
    plan = build(root)
    parsed = events(ics.calendar(plan, plan.entries, stamp=datetime(2026, 12, 1, tzinfo=UTC)))
    by_summary = {str(e["summary"]): str(e["description"]) for e in parsed.values()}
    held = by_summary["held: Te lang · mastodon"]
    assert held.startswith("Held, it goes out only when this is fixed:\nposts/te-lang.md:")
    thread = by_summary["Draad · mastodon"]
    assert thread.startswith("Zin 0 van een lang verhaal.") and " 1/3\n\nZin " in thread and " 3/3\n\nposts/" in thread


def test_an_english_campaign_gets_english_headers(tmp_path: Path) -> None:
    defaults = "campaign: Test\ntimezone: Europe/London\nlanguage: en\nchannels: [mastodon]\n"
    root = write_campaign(
        tmp_path, {"a.md": post("Hi.", publish_at='"2027-11-15 09:00"', draft="true")}, defaults=defaults
    )
    export = table.as_csv(build(root), delimiter=";")
    assert export.text.splitlines()[0] == "date;time;channels;text;title;hashtags;image;alt;id;draft;version"
    assert export.text.splitlines()[1].startswith("2027-11-15;09:00;mastodon;Hi.;;;;;a;yes;")
