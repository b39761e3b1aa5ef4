"""A broken settings file while the daemon runs: it holds what it touches, alerts once, cancels nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.words import translator
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import (
    at,
    campaign,
    daemon,
    kinds,
    ledger,
    now,
    outbox,
    soon,
    states,
    stop,
    wait_for,
    write,
)

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def alerts() -> Iterator[FakeWebhook]:
    with FakeWebhook() as hook:
        yield hook


def channels_with(hook: FakeWebhook, like: str = "mastodon") -> str:
    return (
        "channels:\n"
        f"  mastodon: {{type: dryrun, like: {like}}}\n"
        "  bluesky: {type: dryrun, like: bluesky}\n"
        f"alerts: {{webhook: '{hook.url}'}}\n"
    )


def running(root: Path) -> bool:
    """Whether a daemon is alive by the ledger: it writes its heartbeat once it handles SIGTERM."""
    book = ledger(root)
    try:
        return bool(book.workers.live(now(), timedelta(seconds=60)))
    finally:
        book.close()


def dutch_error(place: str) -> str:
    """How an alert or a held send's reason in a Dutch campaign (the default language) begins an error's line."""
    return translator("nl").gettext("{place}: error: {message}").format(place=place, message="")


def sent_at(root: Path, post: str, channel: str) -> datetime:
    [record] = [r for r in outbox(root) if (r["post"], r["channel"]) == (post, channel)]
    return datetime.fromisoformat(record["published_at"])


def test_a_typo_in_one_channel_holds_only_that_channel_cancels_nothing_and_alerts_once(
    tmp_path: Path, alerts: FakeWebhook
) -> None:
    due = soon(20)  # time for the daemon to start and plan first, even on a loaded machine
    posts = {"nu": (due, "Nu."), **{f"later-{i}": (now() + timedelta(days=1), f"Later {i}.") for i in range(4)}}
    write(tmp_path, posts, channels=channels_with(alerts), default_channels="[mastodon, bluesky]")
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: len(states(tmp_path)) == 10 if (tmp_path / "campaign.db").exists() else False)
        (tmp_path / "channels.yml").write_text(channels_with(alerts, like="mastodn"))
        assert wait_for(lambda: states(tmp_path)[("nu", "mastodon")] == "held")
        status = campaign(tmp_path, "status")
        assert status.stdout.splitlines()[1].startswith("  channels.yml:2: error:")  # the broken file on top
        assert wait_for(lambda: ("nu", "bluesky") in {(r["post"], r["channel"]) for r in outbox(tmp_path)})
        assert wait_for(lambda: len(kinds(alerts, "held")) == 1)  # `nu` on mastodon, held at its time
        assert "cancelled" not in states(tmp_path).values()
        held = {key for key, state in states(tmp_path).items() if state == "held"}
        assert held == {("nu", "mastodon"), *((f"later-{i}", "mastodon") for i in range(4))}
        (tmp_path / "channels.yml").write_text(channels_with(alerts))  # fixed: the held sends go out as planned
        assert wait_for(lambda: states(tmp_path)[("nu", "mastodon")] == "published")
    finally:
        err = stop(process)
    assert abs((sent_at(tmp_path, "nu", "bluesky") - due).total_seconds()) < 3  # on time
    assert not re.search(r"cancelled \d", err)
    [broken] = kinds(alerts, "broken_file")
    assert broken.startswith(dutch_error("channels.yml:2"))
    assert dutch_error("channels.yml:2") in kinds(alerts, "held")[0]
    assert states(tmp_path)[("later-0", "mastodon")] == "pending"


def test_a_time_zone_typo_made_while_the_daemon_runs_sends_nothing_at_a_wrong_hour(
    tmp_path: Path, alerts: FakeWebhook
) -> None:
    due = soon(8).replace(microsecond=0)  # the file says whole seconds
    local = due.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S")  # New York's time, no offset
    write(tmp_path, {}, channels=channels_with(alerts))
    defaults = tmp_path / "posts" / "_defaults.yml"
    defaults.write_text("campaign: Test\ntimezone: America/New_York\nchannels: [mastodon]\n")
    (tmp_path / "posts" / "nu.md").write_text(f"---\npublish_at: '{local}'\n---\nNu in New York.\n")
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "campaign.db").exists() and bool(states(tmp_path)))
        defaults.write_text("campaign: Test\ntimezone: America/New_Yrok\nchannels: [mastodon]\n")
        assert wait_for(lambda: states(tmp_path)[("nu", "mastodon")] == "held")
        assert wait_for(lambda: len(kinds(alerts, "held")) == 1, timeout=20)  # its time came: held, alerted
        assert outbox(tmp_path) == []
        assert states(tmp_path)[("nu", "mastodon")] == "held"  # not missed "6 hours late"
        defaults.write_text("campaign: Test\ntimezone: America/New_York\nchannels: [mastodon]\n")
        assert wait_for(lambda: len(outbox(tmp_path)) == 1)
    finally:
        stop(process)
    assert sent_at(tmp_path, "nu", "mastodon") >= due  # never early
    assert kinds(alerts, "missed") == []
    [broken] = kinds(alerts, "broken_file")
    assert broken.startswith(dutch_error("posts/_defaults.yml:2"))


def test_a_held_send_at_its_time_alerts_exactly_once_also_after_a_restart(tmp_path: Path, alerts: FakeWebhook) -> None:
    # Time for the daemon to start and plan the good version first, even on a loaded machine.
    due = at(soon(20))
    write(tmp_path, {"goed": (soon(20), "Goed.")}, channels=channels_with(alerts))
    post = tmp_path / "posts" / "kapot.md"
    post.write_text(f"---\npublish_at: {due}\n---\nNog goed.\n")
    first = daemon(tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "campaign.db").exists() and len(states(tmp_path)) == 2)
        post.write_text(f"---\npublish_at: {due}\ntitel: Kapot\n---\nKapot.\n")  # broken before its time
        assert wait_for(lambda: states(tmp_path)[("kapot", "mastodon")] == "held")
        assert wait_for(lambda: len(kinds(alerts, "held")) == 1)
        assert wait_for(lambda: len(outbox(tmp_path)) == 1)
    finally:
        stop(first)
    second = daemon(tmp_path)
    try:
        assert wait_for(lambda: running(tmp_path))  # the second daemon is up (and takes SIGTERM)
        assert campaign(tmp_path, "run", "--once").returncode == 1  # passing by; it names the broken post
    finally:
        stop(second)
    [held] = kinds(alerts, "held")
    assert dutch_error("posts/kapot.md:3") in held
    assert [r["post"] for r in outbox(tmp_path)] == ["goed"]


@pytest.mark.parametrize(
    ("path", "broken"),
    [
        ("hashtags.yml", "sets:\n\tweek: [Week]\n"),
        ("posts/_defaults.yml", "campaign: Test\nchannels: [mastodon\n"),
        ("channels.yml", "channels:\n  mastodon: {type: dryrun\n"),
    ],
)
def test_a_broken_settings_file_cancels_nothing_and_run_once_says_so_and_fails(
    tmp_path: Path, path: str, broken: str
) -> None:
    write(tmp_path, {f"p{i}": (now() + timedelta(days=1), f"Post {i}.") for i in range(3)})
    (tmp_path / "hashtags.yml").write_text("sets:\n  week: [Week]\ndefault: [week]\n")
    assert campaign(tmp_path, "run", "--once").returncode == 0
    good = (tmp_path / path).read_text()
    (tmp_path / path).write_text(broken)
    said = campaign(tmp_path, "validate").stdout.splitlines()
    # The problems as validate names them, file and line (not its line of posts the file kept from being checked).
    where = [line for line in said if line.startswith(f"{path}:") and "not checked" not in line]
    assert where
    result = campaign(tmp_path, "run", "--once")
    assert result.returncode == 1
    assert all(line in result.stderr for line in where)
    assert "3 sends held" in result.stderr
    assert set(states(tmp_path).values()) == {"held"}
    status = campaign(tmp_path, "status").stdout
    assert all(f"  {line}" in status for line in where)
    assert "not checked" not in status  # the held sends are grouped under their one cause
    (tmp_path / path).write_text(good)
    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert set(states(tmp_path).values()) == {"pending"}


def test_a_broken_folder_defaults_holds_only_the_posts_below_it(tmp_path: Path) -> None:
    write(tmp_path, {"hier": (now() + timedelta(days=1), "Hier."), "week/een": (now() + timedelta(days=1), "Een.")})
    assert campaign(tmp_path, "run", "--once").returncode == 0
    (tmp_path / "posts" / "week" / "_defaults.yml").write_text("max_lat: 2 hours\n")  # the typo drops the setting
    assert campaign(tmp_path, "run", "--once").returncode == 1
    assert states(tmp_path) == {("hier", "mastodon"): "pending", ("week/een", "mastodon"): "held"}
