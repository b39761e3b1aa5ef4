"""A post that cannot be planned from the start is told about as one that broke later is: one alert when the
daemon first meets it, a held row (and an alert) at the time its file seems to mean, in `status` and on the
Now page with file and line, and `run --once` and `rehearse` fail. Whether it is told about never depends
on whether it was once planned."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.errors import LedgerError
from scheduler.publish.ledger import Ledger
from scheduler.web.app import create_app
from scheduler.web.site import Site
from scheduler.web.users import Role, User, Users, hash_password
from scheduler.words import translator
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import (
    at,
    campaign,
    daemon,
    env_for,
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

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PASSWORD = "anna's long password"


@pytest.fixture
def alerts() -> Iterator[FakeWebhook]:
    with FakeWebhook() as hook:
        yield hook


def channels_with(hook: FakeWebhook, tab: bool = False) -> str:
    indent = "\t" if tab else "    "
    return (
        "channels:\n"
        "  mastodon:\n"
        "    type: dryrun\n"
        f"{indent}like: mastodon\n"
        "  bluesky: {type: dryrun, like: bluesky}\n"
        f"alerts: {{webhook: '{hook.url}'}}\n"
    )


def state(root: Path, post: str, channel: str) -> str | None:
    """A send's state, None before the daemon made the ledger."""
    try:
        return states(root).get((post, channel)) if (root / "campaign.db").exists() else None
    except LedgerError:  # the file is there, its tables not yet
        return None


def local(moment: datetime) -> str:
    """publish_at as people write it: the campaign's local time, no offset."""
    return moment.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M:%S")


def held_due(root: Path, post: str, channel: str) -> datetime:
    book = ledger(root)
    try:
        [row] = book.views.rows(post=post)
        assert (row.channel, row.state) == (channel, "held")
        return row.due
    finally:
        book.close()


# Each: the file (given its publish_at text), the line of its first error, and when its held row is due.
TOMORROW = (now() + timedelta(days=1)).astimezone(AMSTERDAM).replace(second=0, microsecond=0)
BREAKAGES: dict[str, tuple[Callable[[str], str], int, datetime]] = {
    "typo-key": (lambda when: f"---\npublish_at: {when}\nchanels: [mastodon]\n---\nKapot.\n", 3, TOMORROW),
    "unquoted-colon": (lambda when: f"---\ntitle: Tip: bel\npublish_at: {when}\n---\nKapot.\n", 2, TOMORROW),
    "unknown-hashtag-set": (lambda when: f"---\npublish_at: {when}\nhashtags: [onbekend]\n---\nKapot.\n", 3, TOMORROW),
    "feb-29": (
        lambda _when: "---\npublish_at: 2027-02-29 09:00\n---\nKapot.\n",
        2,
        datetime(2027, 2, 28, 9, 0, tzinfo=AMSTERDAM),  # a day that does not exist: its month's last day
    ),
    "dst-gap": (
        lambda _when: "---\npublish_at: 2027-03-28 02:30\n---\nKapot.\n",
        2,
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),  # 02:30 does not exist; its earlier reading (+02:00)
    ),
    "duplicate-id": (lambda when: f"---\nid: dubbel\npublish_at: {when}\n---\nKapot.\n", 2, TOMORROW),
}


@pytest.mark.parametrize("kind", list(BREAKAGES))
def test_a_post_broken_from_the_start_is_held_at_its_time_listed_and_fails_run_once_and_rehearse(
    tmp_path: Path, kind: str
) -> None:
    text, line, due = BREAKAGES[kind]
    write(tmp_path, {"goed": (now() + timedelta(days=2), "Goed.")})
    (tmp_path / "posts" / "kapot.md").write_text(text(local(TOMORROW)), encoding="utf-8")
    if kind == "duplicate-id":
        (tmp_path / "posts" / "kapot2.md").write_text(text(local(TOMORROW)), encoding="utf-8")
    result = campaign(tmp_path, "run", "--once")
    assert result.returncode == 1, result.stderr
    assert f"posts/kapot.md:{line}: error:" in result.stderr
    assert held_due(tmp_path, "kapot", "mastodon") == due  # keyed by its path, at the time its file means
    assert states(tmp_path)[("goed", "mastodon")] == "pending"
    status = campaign(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("cannot be planned (")
    assert f"    posts/kapot.md:{line}: error:" in status.stdout
    listed = json.loads(campaign(tmp_path, "status", "--format", "json").stdout)["cannot_be_planned"]
    told = next(u for u in listed if u["path"] == "posts/kapot.md")
    assert any(p.startswith(f"posts/kapot.md:{line}: error:") for p in told["problems"])
    assert told["channels"] == ["mastodon"]
    assert datetime.fromisoformat(told["held_at"]) == due
    rehearsal = campaign(tmp_path, "rehearse")
    assert rehearsal.returncode == 1
    assert f"posts/kapot.md:{line}: error:" in rehearsal.stderr


def now_page(root: Path, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The dashboard's Now page and now.json, as an operator sees them (Flask's test client)."""
    users = tmp_path / "users"
    Users(users).save({"anna": User("anna", Role.OPERATOR, hash_password(PASSWORD))})
    book = Ledger(f"sqlite:///{root / 'campaign.db'}")
    try:
        client = create_app(Site(root, book, Users(users)), "s" * 40).test_client()
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
        assert found
        client.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": found.group(1)})
        # Now never waits for a plan: the first answer may come before the dashboard's first plan is
        # built; the page's poll of now.json then sees the list (and its mark change redraws the page).
        assert wait_for(lambda: bool(client.get("/now.json").get_json()["cannot_be_planned"]))
        return client.get("/").get_data(as_text=True), client.get("/now.json").get_json()
    finally:
        book.close()


@pytest.mark.parametrize("kind", ["typo-key", "unquoted-colon"])
def test_the_daemon_alerts_a_post_broken_from_the_start_once_and_again_at_its_time(
    tmp_path: Path, alerts: FakeWebhook, kind: str
) -> None:
    text, line, _ = BREAKAGES[kind]
    due = soon(10).replace(microsecond=0)
    write(tmp_path, {"goed": (due, "Goed.")}, channels=channels_with(alerts))
    (tmp_path / "posts" / "kapot.md").write_text(text(at(due)), encoding="utf-8")
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: len(kinds(alerts, "unplanned")) == 1)  # when the daemon first meets it
        assert "posts/kapot.md:" in kinds(alerts, "unplanned")[0]
        status = campaign(tmp_path, "status").stdout
        assert f"    posts/kapot.md:{line}: error:" in status
        page, live = now_page(tmp_path, tmp_path / "web")
        assert f"posts/kapot.md:{line}: " in page
        assert "cannot be planned" in page or "niet in te plannen" in page
        assert [u["path"] for u in live["cannot_be_planned"]] == ["posts/kapot.md"]
        assert wait_for(lambda: len(kinds(alerts, "held")) == 1)  # at its time, as a post that broke later
        assert wait_for(lambda: len(outbox(tmp_path)) == 1)
    finally:
        err = stop(process)
    [held] = kinds(alerts, "held")
    # the campaign is Dutch (the default language), and so are its alerts
    assert (
        translator("nl").gettext("{place}: error: {message}").format(place=f"posts/kapot.md:{line}", message="") in held
    )
    assert len(kinds(alerts, "unplanned")) == 1  # once, not once per pass
    assert [r["post"] for r in outbox(tmp_path)] == ["goed"]
    assert states(tmp_path)[("kapot", "mastodon")] == "held"
    assert "Traceback" not in err


def test_a_post_fixed_before_its_time_goes_out_once_at_its_time(tmp_path: Path, alerts: FakeWebhook) -> None:
    due = soon(12).replace(microsecond=0)
    write(tmp_path, {}, channels=channels_with(alerts))
    post = tmp_path / "posts" / "kapot.md"
    post.write_text(f"---\npublish_at: {at(due)}\nchanels: [mastodon]\n---\nKapot.\n", encoding="utf-8")
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: len(kinds(alerts, "unplanned")) == 1)
        post.write_text(f"---\npublish_at: {at(due)}\nchannels: [mastodon]\n---\nHersteld.\n", encoding="utf-8")
        assert wait_for(lambda: state(tmp_path, "kapot", "mastodon") == "published")
    finally:
        stop(process)
    [sent] = outbox(tmp_path)
    assert (sent["post"], sent["text"]) == ("kapot", "Hersteld.")
    assert datetime.fromisoformat(sent["published_at"]) >= due  # at its time, not when it was fixed
    assert kinds(alerts, "held") == []
    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert len(outbox(tmp_path)) == 1


def test_a_tab_in_channels_yml_while_the_daemon_runs_is_one_cause_and_changes_nothing_that_went_out(
    tmp_path: Path, alerts: FakeWebhook
) -> None:
    write(
        tmp_path,
        {"nu": (soon(4), "Nu."), **{f"later-{i}": (now() + timedelta(days=1), f"Later {i}.") for i in range(5)}},
        channels=channels_with(alerts),
        default_channels="[mastodon, bluesky]",
        extra_defaults="language: en\n",  # the words the command line reads, as the ledger keeps them
    )
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: state(tmp_path, "nu", "mastodon") == "published")
        assert wait_for(lambda: state(tmp_path, "nu", "bluesky") == "published")
        (tmp_path / "channels.yml").write_text(channels_with(alerts, tab=True))
        assert wait_for(lambda: len(kinds(alerts, "broken_file")) == 1)
        assert wait_for(lambda: list(states(tmp_path).values()).count("held") == 10)
        status = campaign(tmp_path, "status")
        listed = json.loads(campaign(tmp_path, "status", "--format", "json").stdout)
    finally:
        err = stop(process)
    [broken] = kinds(alerts, "broken_file")
    assert broken.startswith("channels.yml:4: error:")  # the tab's line, not line 0
    errors = [line for line in err.splitlines() if " ERROR " in line and "ALERT" not in line]
    assert len(errors) == 1 and "channels.yml:4: error:" in errors[0], errors
    assert listed["broken_files"] == [broken.split("; the sends")[0]]
    assert listed["cannot_be_planned"] == []
    lines = status.stdout.splitlines()
    assert lines[1].startswith("  channels.yml:4: error:")
    [group] = [line for line in lines if line.startswith("  held until fixed: channels.yml:4: error:")]
    assert group.endswith(": 10 sends")  # one cause, said once
    assert not [r for r in listed["deliveries"] if r["changed_after_publishing"]]
    assert states(tmp_path)[("nu", "mastodon")] == "published"


def test_a_folder_without_channels_yml_is_not_a_campaign_and_gets_no_ledger(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    for args in (["status"], ["run", "--once"], ["db", "upgrade"]):
        result = subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            env={**env_for(tmp_path), "DATABASE_URL": ""},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, args
        assert "not a campaign" in result.stderr, args
    assert not (tmp_path / "campaign.db").exists()


def test_a_post_below_a_broken_channels_yml_is_neither_fixed_meanwhile_nor_told_of_twice(
    tmp_path: Path, alerts: FakeWebhook
) -> None:
    later = at(now() + timedelta(days=1))
    write(tmp_path, {"goed": (now() + timedelta(days=1), "Goed.")}, channels=channels_with(alerts))
    (tmp_path / "posts" / "kapot.md").write_text(f"---\npublish_at: {later}\nchanels: [mastodon]\n---\nKapot.\n")
    assert campaign(tmp_path, "run", "--once").returncode == 1  # told of once: `unplanned`
    (tmp_path / "channels.yml").write_text(channels_with(alerts, tab=True))
    meanwhile = campaign(tmp_path, "run", "--once")  # posts are not checked against an unread channels.yml
    (tmp_path / "channels.yml").write_text(channels_with(alerts))
    after = campaign(tmp_path, "run", "--once")
    assert "kapot.md is fixed" not in meanwhile.stderr + after.stderr  # it never was
    book = Ledger(f"sqlite:///{tmp_path / 'campaign.db'}")
    try:
        told = [a.kind for a in book.alerts.latest()]
    finally:
        book.close()
    assert told.count("unplanned") == 1 and told.count("broken_file") == 1, told


def test_a_planned_post_its_own_error_will_hold_is_told_of_when_met_not_only_at_its_time(
    tmp_path: Path, alerts: FakeWebhook
) -> None:
    """An error found in a planned post (here a text too long for Bluesky) holds it at its time; the team
    is told when the daemon first meets it, once across runs, so it can be fixed before then."""
    due = now() + timedelta(days=2)
    write(tmp_path, {"goed": (due, "Goed.")}, channels=channels_with(alerts))
    long = "Een lange tekst over wat je kunt doen. " * 10
    post = tmp_path / "posts" / "lang.md"
    post.write_text(f"---\npublish_at: {at(due)}\nchannels: [bluesky, mastodon]\n---\n{long}\n", encoding="utf-8")
    first = campaign(tmp_path, "run", "--once")
    assert first.returncode == 0, first.stderr
    [told] = kinds(alerts, "held_ahead")
    assert told.startswith("posts/lang.md ") and "bluesky, mastodon" in told and "posts/lang.md:" in told
    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert len(kinds(alerts, "held_ahead")) == 1  # once, not once per run
    post.write_text(f"---\npublish_at: {at(due)}\nchannels: [bluesky, mastodon]\n---\nKort.\n", encoding="utf-8")
    fixed = campaign(tmp_path, "run", "--once")
    assert "posts/lang.md is fixed" in fixed.stderr
    assert len(kinds(alerts, "held_ahead")) == 1 and kinds(alerts, "held") == []
    assert states(tmp_path)[("lang", "bluesky")] == "pending"
