from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.content.plan import build
from scheduler.settings import SETTINGS, DurationTooLong, parse_duration
from tests.builders import post, write_campaign

README = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_in_the_operations_page(setting: object) -> None:
    assert f"`{setting.name}`" in README  # type: ignore[attr-defined]


def test_durations_read_as_people_write_them() -> None:
    assert parse_duration("30 minutes").total_seconds() == 1800
    assert parse_duration("1 hour").total_seconds() == 3600
    assert parse_duration("0").total_seconds() == 0
    with pytest.raises(ValueError):
        parse_duration("soon")


@pytest.mark.parametrize("text", ["90 seconds", "30minutes", "2 Hours", "1 week"])
def test_a_duration_means_the_same_in_a_setting_a_post_and_a_series(tmp_path: Path, text: str) -> None:
    expected = parse_duration(text)
    series = f"schedule: {{start: 2027-11-15 09:00, every: {text}, count: 2}}\n"
    posts = {"a.md": post(publish_at="2027-11-14 09:00", max_late=text), "s/_defaults.yml": series}
    plan = build(write_campaign(tmp_path, {**posts, "s/1.md": post("Een."), "s/2.md": post("Twee.")}))
    assert [str(p) for p in plan.problems] == []
    assert next(e for e in plan.entries if e.draft.id == "a").draft.max_late == expected
    first, second = sorted(e.due for e in plan.entries if e.draft.id.startswith("s/"))
    assert second - first == expected


def test_a_duration_too_long_to_hold_says_so() -> None:
    with pytest.raises(DurationTooLong, match="99999999999 weeks is too long"):
        parse_duration("99999999999 weeks")
