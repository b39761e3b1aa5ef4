"""`campaign validate` and `campaign preview` as a user runs them, on the sample and on broken campaigns."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.builders import post, run_campaign, write_campaign

REPO = Path(__file__).resolve().parents[2]


def campaign(*args: str, root: Path = REPO, tz: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_campaign(root, *args, tz=tz)


def test_sample_campaign_validates_cleanly() -> None:
    result = campaign("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "0 errors, 0 warnings" in result.stderr


def test_sample_preview_json_is_sorted_and_complete_whatever_the_host_zone() -> None:
    outputs = []
    for tz in ("UTC", "America/New_York"):
        result = campaign("preview", "--format", "json", tz=tz)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    records = json.loads(outputs[0])["sends"]
    keys = [(r["due"], r["channel"], r["post"]) for r in records]
    assert keys == sorted(keys)
    first = records[0]
    assert {"due", "channel", "post", "path", "text", "length", "limit", "problems"} <= set(first)
    assert first["due"] == "2027-11-15T09:00:00+01:00" and first["path"] == "posts/week/01-aftrap.md"
    tips = [r for r in records if r["post"].startswith("tips/") and r["channel"] == "mastodon"]
    assert [r["due"][:16] for r in tips] == [f"2027-11-{d}T12:00" for d in range(15, 22)]
    assert tips[0]["text"].startswith("Maandag: ")
    assert len({r["post"] for r in records if r["post"].startswith("verhalen/")}) == 30
    assert any("0800-2000" in r["text"] for r in records)


def test_preview_text_groups_by_local_day_with_dutch_weekdays_and_filters() -> None:
    result = campaign("preview", "--from", "2027-11-17", "--to", "2027-11-17", "--channel", "bluesky")
    assert result.returncode == 0, result.stderr
    assert "woensdag 17 november 2027" in result.stdout
    assert "19:30  bluesky" in result.stdout and "mastodon" not in result.stdout.split("\n", 2)[2]
    assert "dinsdag" not in result.stdout


def test_preview_markdown_has_a_table_per_day() -> None:
    result = campaign("preview", "--format", "markdown", "--to", "2027-11-15")
    assert result.returncode == 0
    assert "### maandag 15 november 2027" in result.stdout
    # In the campaign's language, sends counted as sends, posts by title, images with their alt text.
    assert result.stdout.startswith("## Week tegen Kindermishandeling 2027: 6 verzendingen · 2 berichten\n")
    assert "| Tijd | Kanaal | Bericht | Lengte | Tekst |" in result.stdout
    assert "| 09:00 | bluesky | Aftrap van de Week tegen Kindermishandeling (`week/01-aftrap`) |" in result.stdout
    assert "🖼 afbeelding `aftrap.png`, alt-tekst: Een effen oranje vlak" in result.stdout


def test_validate_reports_every_problem_sorted_and_exits_1(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "b.md": "---\npublish_at: 2027-03-28 02:30\n---\nGap.\n",
            "a.md": "---\ntitel: x\npublish_at: 2027-11-15 09:00\n---\nHallo\n",
            "c.md": post("Goed.", publish_at="2027-11-15 10:00"),
        },
    )
    result = campaign("validate", root=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "posts/a.md:2: error: unknown key 'titel'; did you mean 'title'?",
        "posts/b.md:2: error: publish_at: 2027-03-28 02:30 does not exist in Europe/Amsterdam (clocks go forward); "
        "write 2027-03-28 03:30, or give the offset of the time before the change: 2027-03-28T02:30+01:00",
    ]
    github = campaign("validate", "--format", "github", root=tmp_path).stdout.splitlines()
    assert (
        github[0]
        == "::error file=posts/a.md,line=2,title=campaign validate::unknown key 'titel'; did you mean 'title'?"
    )
    as_json = json.loads(campaign("validate", "--format", "json", root=tmp_path).stdout)
    assert as_json[1] == {
        "path": "posts/b.md",
        "line": 2,
        "severity": "error",
        "message": "publish_at: 2027-03-28 02:30 does not exist in Europe/Amsterdam (clocks go forward); "
        "write 2027-03-28 03:30, or give the offset of the time before the change: 2027-03-28T02:30+01:00",
    }


def test_validate_needs_no_secrets_and_no_network(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00", channels="[masto]")},
        channels=("channels:\n  masto:\n    type: dryrun\n    like: mastodon\n    token: ${UNSET_TOKEN_FOR_TEST}\n"),
    )
    result = campaign("validate", root=tmp_path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_preview_of_an_empty_range_is_not_an_error(fmt: str) -> None:
    result = campaign("preview", "--format", fmt, "--from", "2030-01-01", "--to", "2030-01-02")
    assert result.returncode == 0, result.stderr


def test_a_big_campaign_planned_in_forked_workers_gives_exactly_what_one_process_gives(tmp_path: Path) -> None:
    from scheduler.content.plan import build
    from scheduler.views.preview import as_json

    posts = {}
    for n in range(1_200):  # above scheduler.content.parallel.MIN_ITEMS: the command spreads the work
        folder = f"reeks-{n // 100}"
        body = (
            f"Bericht {n} op {{{{ date | date }}}} voor {{{{ channel.name }}}}. #tip{n % 7}" if n % 5 else f"Post {n}."
        )
        posts[f"{folder}/{n:04}.md"] = post(
            body, publish_at=f"2027-{n % 12 + 1:02}-{n % 28 + 1:02} {n % 24:02}:{n % 60:02}"
        )
        if n % 97 == 0:
            posts[f"{folder}/kapot-{n}.md"] = "---\ntitle: [\n---\nKapot.\n"  # a broken file among them
    write_campaign(tmp_path, posts, defaults="campaign: Groot\nchannels: [mastodon, bluesky]\n")
    in_one_process = build(tmp_path)
    assert len(in_one_process.entries) == 2_400 and in_one_process.problems

    forked = campaign("preview", "--format", "json", root=tmp_path)
    assert forked.returncode == 0, forked.stderr
    assert forked.stdout.rstrip("\n") == as_json(in_one_process, in_one_process.entries).rstrip("\n")
    checked = campaign("validate", root=tmp_path)
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [str(p) for p in in_one_process.problems]
