"""Messages that lead to the fix, seen through the real CLI (issue #18, item 5): a channel's missing
secrets all at once, and an offline `channels check` in words rather than a library's exception name."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

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
