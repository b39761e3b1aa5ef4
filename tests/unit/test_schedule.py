from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.content.schedule import ScheduleError, publish_at, series

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Tokyo"])
def host_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test under several host time zones: nothing may depend on it."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_local_time_is_read_in_the_campaign_zone_whatever_the_host_zone(host_zone: str) -> None:
    assert publish_at("2027-11-15 09:00", AMS) == datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
    assert publish_at("2027-07-01 09:00", AMS) == datetime(2027, 7, 1, 7, 0, tzinfo=UTC)


def test_time_in_the_spring_gap_is_an_error() -> None:
    with pytest.raises(ScheduleError, match="does not exist"):
        publish_at("2027-03-28 02:30", AMS)


def test_time_in_the_autumn_fold_is_an_error_that_offers_both_offsets() -> None:
    with pytest.raises(ScheduleError, match=r"happens twice.*\+02:00.*\+01:00"):
        publish_at("2027-10-31 02:30", AMS)


def test_an_explicit_offset_settles_a_fold() -> None:
    assert publish_at("2027-10-31T02:30+01:00", AMS) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert publish_at("2027-10-31T02:30+02:00", AMS) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2027-11-15", "morgen", 20271115, "2027-13-01 09:00"])
def test_unusable_publish_at_is_an_error(value: object) -> None:
    with pytest.raises(ScheduleError):
        publish_at(value, AMS)


def test_daily_series_keeps_its_wall_clock_time_across_both_dst_changes(host_zone: str) -> None:
    for start in ("2027-03-25 09:00", "2027-10-29 09:00"):
        local = [o.when.astimezone(AMS) for o in series({"start": start, "every": "1 day"}, AMS, 6)]
        assert [t.strftime("%H:%M") for t in local] == ["09:00"] * 6
        assert len({t.utcoffset() for t in local}) == 2  # it did cross a change


def test_series_slot_in_the_gap_moves_forward_by_the_gap_with_a_warning() -> None:
    slots = series({"start": "2027-03-27 02:30", "every": "1 day"}, AMS, 3)
    assert slots[1].when.astimezone(AMS).strftime("%Y-%m-%d %H:%M") == "2027-03-28 03:30"
    assert slots[1].warning is not None and "moved to 03:30" in str(slots[1].warning)
    assert slots[0].warning is None and slots[2].warning is None


def test_series_slot_in_the_fold_takes_the_first_instant_with_a_warning() -> None:
    slot = series({"start": "2027-10-31 02:30", "every": "1 day"}, AMS, 1)[0]
    assert slot.when == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert slot.warning is not None and "twice" in str(slot.warning)


def test_rrule_series_follows_the_rule() -> None:
    slots = series({"start": "2027-11-22 10:00", "rrule": "FREQ=WEEKLY;BYDAY=MO,TH"}, AMS, 4)
    days = [o.when.astimezone(AMS).strftime("%a %d") for o in slots]
    assert days == ["Mon 22", "Thu 25", "Mon 29", "Thu 02"]


def test_spread_places_thirty_posts_evenly_over_a_year_from_first_to_last_day() -> None:
    slots = series({"spread": {"from": "2027-11-22", "to": "2028-11-13", "at": "10:00"}}, AMS, 30)
    local = [o.when.astimezone(AMS) for o in slots]
    assert local[0].strftime("%Y-%m-%d %H:%M") == "2027-11-22 10:00"
    assert local[-1].strftime("%Y-%m-%d %H:%M") == "2028-11-13 10:00"
    gaps = {(b.date() - a.date()).days for a, b in itertools.pairwise(local)}
    assert gaps <= {12, 13}
    assert {t.strftime("%H:%M") for t in local} == {"10:00"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"start": "2027-11-15 09:00", "every": "1 day", "count": 3}, "3 occurrences for 4 posts"),
        ({"start": "2027-11-15 09:00", "rrule": "FREQ=DAILY;COUNT=2"}, "2 occurrences for 4 posts"),
        ({"spread": {"from": "2027-11-15", "to": "2027-11-16", "at": "09:00"}}, "do not fit"),
        ({"start": "2027-11-15 09:00", "every": "soms"}, "not an interval"),
        ({"start": "2027-11-15 09:00", "rrule": "FREQ=NOOIT"}, "not a valid RFC 5545"),
        ({"start": "2027-11-15 09:00"}, "needs start"),
        ({"start": "2027-11-15 09:00", "every": "1 day", "bogus": 1}, "unknown schedule key"),
        ("daily", "must be a mapping"),
    ],
)
def test_bad_or_short_series_is_an_error(spec: object, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        series(spec, AMS, 4)


def test_a_rule_that_never_matches_is_an_error_not_a_search_to_the_year_9999() -> None:
    with pytest.raises(ScheduleError, match="0 occurrences for 4 posts"):
        series({"start": "2027-11-22 10:00", "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, AMS, 4)
