"""Messages that lead to the fix, seen through the real CLI (issue #18, item 5): a channel's missing
secrets all at once, and an offline `channels check` in words rather than a library's exception name."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.web.users import MIN_PASSWORD
from tests.builders import post, run_campaign, write_campaign
from tests.integration.daemon_helpers import campaign, now, write


def test_every_missing_secret_of_a_channel_is_named_at_once(tmp_path: Path) -> None:
    channels = (
        "channels:\n"
        "  x:\n    type: x\n"
        "    consumer_key: ${X_KEY}\n    consumer_secret: ${X_SECRET}\n"
        "    access_token: ${X_TOKEN}\n    access_token_secret: ${X_TOKEN_SECRET}\n"
    )
    write(tmp_path, {"p": (now() + timedelta(days=1), "Een bericht.")}, channels=channels, default_channels="[x]")
    check = campaign(tmp_path, "channels", "check", CAMPAIGN_SECRETS_DIR=str(tmp_path / "secrets"))
    assert check.returncode == 1
    failed = [line for line in check.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    for name in ("X_KEY", "X_SECRET", "X_TOKEN", "X_TOKEN_SECRET"):
        assert name in failed[0]
    assert "4 secrets are not set" in failed[0]


@pytest.mark.parametrize(
    "config",
    [
        "{type: mastodon, instance: 'https://mastodon.invalid', token: '${TOKEN}'}",
        "{type: bluesky, pds: 'https://mastodon.invalid', handle: c.test, app_password: '${TOKEN}'}",
        "{type: telegram, api: 'https://mastodon.invalid', token: '${TOKEN}', chat_id: '@c'}",
    ],
)
def test_channels_check_offline_says_the_server_name_could_not_be_looked_up(tmp_path: Path, config: str) -> None:
    channels = f"channels:\n  net: {config}\n"  # .invalid never resolves (RFC 2606), online or not
    write(tmp_path, {"p": (now() + timedelta(days=1), "Een bericht.")}, channels=channels, default_channels="[net]")
    check = campaign(tmp_path, "channels", "check", env={"TOKEN": "a-token-for-the-test"})
    assert check.returncode == 1
    assert check.stdout.startswith("FAILED  net: ")
    assert "the server name mastodon.invalid could not be looked up; check that this computer is online" in check.stdout
    assert "gaierror" not in check.stdout + check.stderr


def test_preview_from_and_to_read_the_dates_import_reads(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Vroeg.", publish_at="2027-03-14 09:00"),
            "b.md": post("Op de dag.", publish_at="2027-03-15 09:00"),
            "c.md": post("Laat.", publish_at="2027-03-16 09:00"),
        },
    )
    for start, end in (
        ("15-03-2027", "15-03-2027"),
        ("15 maart 2027", "15/03/2027 12:00"),
        ("2027-03-15", "2027-03-15"),
    ):
        shown = run_campaign(tmp_path, "preview", "--format", "json", "--from", start, "--to", end)
        assert shown.returncode == 0, shown.stderr
        assert [send["post"] for send in json.loads(shown.stdout)["sends"]] == ["b"], (start, end)
    refused = run_campaign(tmp_path, "preview", "--from", "29-02-2027")
    assert refused.returncode == 2
    assert "'29-02-2027' is not on the calendar: 2027 has no 29 February" in refused.stderr


def test_history_has_format_json_and_limit_like_status(tmp_path: Path) -> None:
    write(tmp_path, {"oud": (now() - timedelta(hours=3), "Te laat.")})
    assert campaign(tmp_path, "run", "--once").returncode == 0
    for step in (("pause", "--reason", "stilte"), ("resume", "--reason", "rustig")):
        assert campaign(tmp_path, *step, env={"CAMPAIGN_USER": "anna"}).returncode == 0
    text = campaign(tmp_path, "history").stdout.splitlines()
    assert len(text) == 3 and "oud" in text[0] and "missed" in text[0]
    assert campaign(tmp_path, "history", "--limit", "2").stdout.splitlines() == text[-2:]
    shown = campaign(tmp_path, "history", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    records = json.loads(shown.stdout)
    assert [r["kind"] for r in records] == ["attempt", "pause", "resume"]
    assert records[0]["post"] == "oud" and records[0]["outcome"] == "missed" and records[0]["channel"] == "mastodon"
    assert records[1]["reason"] == "stilte" and records[1]["by"].startswith("anna@")
    assert json.loads(campaign(tmp_path, "history", "--format", "json", "--limit", "1").stdout) == records[-1:]
    for option in ("--format", "--limit"):
        assert option in campaign(tmp_path, "history", "--help").stdout


def test_the_top_level_help_shows_each_command_s_summary_whole() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "scheduler", "-h"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    commands = listed.split("Commands:", 1)[1]
    assert "..." not in commands
    flat = " ".join(commands.split())
    assert (
        "status What is next, what went out, and what needs a person: failed, in doubt, missed, held, paused." in flat
    )
    assert "rehearse Run the real publisher over a simulated clock, with every channel replaced by dry-run." in flat


def test_users_add_help_says_the_password_rule(tmp_path: Path) -> None:
    helped = campaign(tmp_path, "users", "add", "--help")
    assert f"at least {MIN_PASSWORD} characters" in " ".join(helped.stdout.split())


def test_report_writes_the_format_its_file_name_asks_for_and_markdown_by_default(tmp_path: Path) -> None:
    write(tmp_path, {"p": (now() + timedelta(days=1), "Een bericht.")})
    assert campaign(tmp_path, "db", "upgrade").returncode == 0
    for name, start in (("terugblik.html", "<!doctype html>"), ("r.json", "{"), ("r.csv", "post,channel,")):
        done = campaign(tmp_path, "report", "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).read_text(encoding="utf-8").casefold().startswith(start), name
    assert campaign(tmp_path, "report").stdout.startswith("## Test")  # Markdown, as the README says
    forced = campaign(tmp_path, "report", "--format", "markdown", "-o", str(tmp_path / "r.html"))
    assert forced.returncode == 0 and (tmp_path / "r.html").read_text(encoding="utf-8").startswith("## Test")
