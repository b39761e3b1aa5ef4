"""Mistakes at the edges of a campaign, as a user meets them on the command line (issue #8):
dates in the past, a channel type nothing can publish, broken posts in every preview."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.builders import post, run_campaign, write_campaign
from tests.integration.daemon_helpers import campaign as with_ledger
from tests.integration.daemon_helpers import now, outbox, states
from tests.integration.daemon_helpers import write as write_due

INSTALLED = "bluesky, dryrun, mastodon, telegram, webhook"  # pyproject.toml's campaign_scheduler.channels


# ---------------------------------------------------------------------------------- item 7


def test_a_channel_type_no_adapter_can_publish_is_an_error_on_its_line_naming_the_types(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00", channels="[mastodon, twitter]")},
        channels="channels:\n  mastodon: {type: dryrun, like: mastodon}\n  twitter:\n    type: x\n",
    )
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "channels.yml:4: error: channel 'twitter' has type 'x', which no installed adapter can publish; "
        f"types that can publish: {INSTALLED}"
    ]
    assert "1 error" in result.stderr


def test_the_daemon_holds_the_sends_of_a_channel_no_adapter_can_publish(tmp_path: Path) -> None:
    write_due(
        tmp_path,
        {"a": (now() - timedelta(minutes=1), "Nu.")},
        channels="channels:\n  mastodon: {type: dryrun, like: mastodon}\n  twitter: {type: x}\n",
        default_channels="[mastodon, twitter]",
    )
    for _ in range(2):  # a second pass neither retries it nor gives up on it
        result = with_ledger(tmp_path, "run", "--once")
        assert result.returncode == 0, result.stderr
    assert states(tmp_path) == {("a", "mastodon"): "published", ("a", "twitter"): "held"}
    assert [r["channel"] for r in outbox(tmp_path)] == ["mastodon"]
    held = with_ledger(tmp_path, "status").stdout
    assert "no installed adapter can publish" in held
