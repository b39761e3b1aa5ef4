"""Mistakes at the edges of a campaign, as a user meets them on the command line (issue #8):
dates in the past, a channel type nothing can publish, broken posts in every preview."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from datetime import timedelta
from pathlib import Path

from tests.builders import post, run_campaign, write_campaign
from tests.integration.daemon_helpers import campaign as with_ledger
from tests.integration.daemon_helpers import now, outbox, states
from tests.integration.daemon_helpers import write as write_due

#: The built-in types, as pyproject.toml's `campaign_scheduler.channels` entry points declare them.
INSTALLED = ", ".join(
    sorted(
        tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))["project"][
            "entry-points"
        ]["campaign_scheduler.channels"]
    )
)


# ---------------------------------------------------------------------------------- item 7


def test_a_channel_type_no_adapter_can_publish_is_an_error_on_its_line_naming_the_types(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00", channels="[mastodon, twitter]")},
        channels="channels:\n  mastodon: {type: dryrun, like: mastodon}\n  twitter:\n    type: tiktok\n",
    )
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "channels.yml:4: error: channel 'twitter' has type 'tiktok', which no installed adapter can publish; "
        f"types that can publish: {INSTALLED}"
    ]
    assert "1 error" in result.stderr


def test_the_daemon_holds_the_sends_of_a_channel_no_adapter_can_publish(tmp_path: Path) -> None:
    write_due(
        tmp_path,
        {"a": (now() - timedelta(minutes=1), "Nu.")},
        channels="channels:\n  mastodon: {type: dryrun, like: mastodon}\n  twitter: {type: tiktok}\n",
        default_channels="[mastodon, twitter]",
    )
    for _ in range(2):  # a second pass neither retries it nor gives up on it
        result = with_ledger(tmp_path, "run", "--once")
        assert result.returncode == 1, result.stderr  # channels.yml has an error: a person must fix it
        assert "1 send held: fix the file(s) above; nothing was cancelled" in result.stderr
    assert states(tmp_path) == {("a", "mastodon"): "published", ("a", "twitter"): "held"}
    assert [r["channel"] for r in outbox(tmp_path)] == ["mastodon"]
    held = with_ledger(tmp_path, "status").stdout
    assert "no installed adapter can publish" in held


# ---------------------------------------------------------------------------------- item 8

BROKEN = {
    "goed.md": post("Goed.", publish_at="2027-11-15 09:00", title="Goed"),
    "typo.md": "---\ntitel: Tikfout\npublish_at: 2027-11-15 10:00\n---\nTypo.\n",
    "tab.md": "---\npublish_at: 2027-11-15 11:00\nchannels:\n\t- mastodon\n---\nTab.\n",
    "onbekend.md": post("Onbekend.", publish_at="2027-11-15 12:00", channels="[mastodon, mastodn]"),
    "kaal.md": "Alleen tekst, geen front matter.\n",
    "lang.md": post("x" * 501, publish_at="2027-11-16 09:00"),  # placed, with an error of its own
}
BROKEN_POSTS = ["kaal", "onbekend", "tab", "typo"]  # not on the calendar, by path


def validate_lines(root: Path) -> list[str]:
    result = run_campaign(root, "validate")
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout.splitlines()


def counts_in(summary: str) -> tuple[int, int]:
    """(errors, warnings) from "3 errors, 1 warning", or the HTML's "3 fouten, 1 waarschuwing"."""
    found = re.search(r"(\d+) (?:errors?|fouten?), (\d+) (?:warnings?|waarschuwingen?)", summary)
    assert found, summary
    return int(found.group(1)), int(found.group(2))


def test_every_preview_lists_every_problem_validate_lists_and_every_broken_post(tmp_path: Path) -> None:
    write_campaign(tmp_path, BROKEN)
    lines = validate_lines(tmp_path)
    errors = sum(": error: " in line for line in lines)
    expected = (errors, len(lines) - errors)
    assert expected[0] >= 5  # each broken file, and the text over Mastodon's limit
    assert counts_in(run_campaign(tmp_path, "validate").stderr) == expected

    text = run_campaign(tmp_path, "preview")
    assert text.returncode == 0, text.stderr
    assert counts_in(text.stdout) == expected
    assert all(f"  {line}" in text.stdout.splitlines() for line in lines)
    unplaced = text.stdout.split("cannot be placed on the calendar", 1)[1].split("maandag", 1)[0]
    assert [line.split()[0] for line in unplaced.splitlines() if line.startswith("  ") and "!" not in line] == (
        BROKEN_POSTS
    )

    markdown = run_campaign(tmp_path, "preview", "--format", "markdown").stdout
    assert counts_in(markdown) == expected
    listed = [line for line in markdown.split("### Problemen", 1)[1].splitlines() if line.startswith("- `")]
    assert len(listed) == len(lines)
    assert all(f"| `{name}` | `posts/{name}.md` |" in markdown for name in BROKEN_POSTS)

    as_json = json.loads(run_campaign(tmp_path, "preview", "--format", "json").stdout)
    assert (as_json["errors"], as_json["warnings"]) == expected
    assert [f"{p['path']}:{p['line']}: {p['severity']}: {p['message']}" for p in as_json["problems"]] == lines
    assert [u["post"] for u in as_json["unplaced"]] == BROKEN_POSTS
    assert all(u["problems"] for u in as_json["unplaced"])
    sends = as_json["sends"]
    assert [(s["post"], s["channel"]) for s in sends] == [("goed", "mastodon"), ("lang", "mastodon")]
    keys = [(s["due"], s["channel"], s["post"]) for s in sends]
    assert keys == sorted(keys)

    page = run_campaign(tmp_path, "preview", "--format", "html", "-o", "-").stdout
    summary = re.search(r'href="#problems" class="count[^"]*">([^<]+)</a>', page)
    assert summary and counts_in(summary.group(1)) == expected
    problems_section = page.split('id="problems"', 1)[1].split("</section>", 1)[0]
    assert problems_section.count("<li class=") == len(lines)
    unplaced_section = page.split('id="unplaced"', 1)[1].split("</section>", 1)[0]
    assert all(f"<code>posts/{name}.md</code>" in unplaced_section for name in BROKEN_POSTS)


def test_a_filtered_preview_still_lists_the_posts_that_cannot_be_placed(tmp_path: Path) -> None:
    write_campaign(tmp_path, BROKEN)
    as_json = json.loads(run_campaign(tmp_path, "preview", "--format", "json", "--from", "2027-11-16").stdout)
    assert [s["post"] for s in as_json["sends"]] == ["lang"]
    assert [u["post"] for u in as_json["unplaced"]] == BROKEN_POSTS
    assert {p["path"] for p in as_json["problems"]} == {f"posts/{n}.md" for n in [*BROKEN_POSTS, "lang"]}


# ---------------------------------------------------------------------------------- item 6

NOW = "2026-12-02T10:00:00+01:00"  # a Wednesday; the week below ran Monday 23 to Sunday 29 November
PAST_WEEK = {
    "week/_defaults.yml": "schedule: {start: '2026-11-23 09:00', every: 1 day, count: 7}\n",
    **{f"week/{n}-tip.md": post(f"Tip {n}.") for n in range(1, 8)},
    "aftrap.md": post("Aftrap.", publish_at="2026-12-01 21:30", channels="[mastodon, bluesky]"),
    "straks.md": post("Straks.", publish_at="2026-12-02 10:30"),
}


def warnings_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": warning: " in line]


def test_a_week_in_the_past_warns_for_each_send_on_the_line_of_its_time(tmp_path: Path) -> None:
    write_campaign(tmp_path, PAST_WEEK)
    result = run_campaign(tmp_path, "validate", CAMPAIGN_NOW=NOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert warnings_of(result) == [
        "posts/aftrap.md:2: warning: aftrap on bluesky was due 12 hours ago (2026-12-01 21:30 CET)",
        "posts/aftrap.md:2: warning: aftrap on mastodon was due 12 hours ago (2026-12-01 21:30 CET)",
        *(
            f"posts/week/_defaults.yml:1: warning: week/{n}-tip on mastodon was due {10 - n} days ago "
            f"(2026-11-{22 + n} 09:00 CET)"
            for n in range(1, 8)
        ),
    ]
    assert counts_in(result.stderr) == (0, 9)
    assert not (tmp_path / "campaign.db").exists()  # validate needs no database, and makes none

    tomorrow = run_campaign(tmp_path, "validate", CAMPAIGN_NOW="2026-11-22T12:00:00+01:00")
    assert warnings_of(tomorrow) == []


def test_preview_shows_each_late_send_under_it_with_the_same_count(tmp_path: Path) -> None:
    write_campaign(tmp_path, PAST_WEEK)
    text = run_campaign(tmp_path, "preview", CAMPAIGN_NOW=NOW).stdout
    assert counts_in(text) == (0, 9)
    assert "         ! warning: week/3-tip on mastodon was due 7 days ago (2026-11-25 09:00 CET)" in text
    as_json = json.loads(run_campaign(tmp_path, "preview", "--format", "json", CAMPAIGN_NOW=NOW).stdout)
    assert as_json["warnings"] == 9
    late = [s["post"] for s in as_json["sends"] if any("was due" in p for p in s["problems"])]
    assert late == ["week/1-tip", "week/2-tip", "week/3-tip", "week/4-tip", "week/5-tip", "week/6-tip", "week/7-tip",
                    "aftrap", "aftrap"]  # fmt: skip


def test_a_send_the_ledger_has_as_published_is_not_warned_about(tmp_path: Path) -> None:
    write_due(
        tmp_path, {"net": (now() - timedelta(minutes=5), "Net."), "oud": (now() - timedelta(days=3, hours=1), "Oud.")}
    )
    published = with_ledger(tmp_path, "run", "--once")  # net goes out; oud is past its max_late: missed
    assert published.returncode == 0, published.stderr
    before = states(tmp_path)
    assert before == {("net", "mastodon"): "published", ("oud", "mastodon"): "missed"}

    result = run_campaign(tmp_path, "validate")  # the ledger found as campaign.db in the root
    assert result.returncode == 0, result.stdout + result.stderr
    assert [w.split(": warning: ")[1].split(" (")[0] for w in warnings_of(result)] == [
        "oud on mastodon was due 3 days ago"
    ]
    assert states(tmp_path) == before

    unreadable = tmp_path / "kapot.db"
    unreadable.write_text("geen database\n" * 100, encoding="utf-8")
    result = run_campaign(tmp_path, "validate", DATABASE_URL=f"sqlite:///{unreadable}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(warnings_of(result)) == 2  # as if nothing were published
    assert "cannot read the ledger" in result.stderr and "reported as not published" in result.stderr


def test_rehearse_starts_now_and_says_what_it_skipped(tmp_path: Path) -> None:
    write_campaign(tmp_path, PAST_WEEK)
    result = run_campaign(tmp_path, "rehearse", CAMPAIGN_NOW=NOW)
    assert result.returncode == 0, result.stderr
    assert [line.split()[-2:] for line in result.stdout.splitlines()] == [["straks", "published"]]
    assert "skipped 9 sends due before the rehearsal starts" in result.stderr
    assert "week/1-tip on mastodon" in result.stderr and "and 4 more" in result.stderr
    earlier = run_campaign(tmp_path, "rehearse", "--from", "2026-11-23", CAMPAIGN_NOW=NOW)
    assert len(earlier.stdout.splitlines()) == 10 and "skipped" not in earlier.stderr


def test_a_post_with_one_unknown_channel_is_held_as_a_whole(tmp_path: Path) -> None:
    write_due(tmp_path, {"goed": (now() - timedelta(minutes=1), "Goed.")})
    (tmp_path / "posts" / "half.md").write_text(
        f"---\npublish_at: {(now() - timedelta(minutes=1)).isoformat()}\nchannels: [mastodon, mastodn]\n---\nHalf.\n",
        encoding="utf-8",
    )
    result = with_ledger(tmp_path, "run", "--once")
    assert result.returncode == 1, result.stderr  # it cannot be planned: a person must hear of it
    assert "posts/half.md:3: error: unknown channel 'mastodn'" in result.stderr
    assert [r["post"] for r in outbox(tmp_path)] == ["goed"]  # not on mastodon either
