from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.settings import SETTINGS, parse_duration

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_in_the_readme(setting: object) -> None:
    assert f"`{setting.name}`" in README  # type: ignore[attr-defined]


def test_durations_read_as_people_write_them() -> None:
    assert parse_duration("30 minutes").total_seconds() == 1800
    assert parse_duration("1 hour").total_seconds() == 3600
    assert parse_duration("0").total_seconds() == 0
    with pytest.raises(ValueError):
        parse_duration("soon")
