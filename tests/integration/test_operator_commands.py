"""The operator commands as a person runs them: pause, resume, retry, resolve, history, status.

Real processes on a real SQLite ledger in tmp_path; the daemon, where one is needed, as a process too.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from scheduler.publish.ledger import Action, Delivery, Pause, deliveries
from tests.integration.daemon_helpers import campaign, daemon, env_for, ledger, now, outbox, states, wait_for, write

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOST = socket.gethostname()
USER = {"CAMPAIGN_USER": "anna"}


def zone_now() -> str:
    """The abbreviation Amsterdam's clocks show now (CET or CEST)."""
    return datetime.now(AMSTERDAM).strftime("%Z")


def snapshot(root: Path) -> tuple[list[Delivery], list[Pause], list[Action]]:
    book = ledger(root)
    try:
        rows = book.views.rows()
        return rows, list(book.operators.pauses()), list(book.operators.actions())
    finally:
        book.close()


def daemon_seen(root: Path) -> bool:
    book = ledger(root)
    try:
        return bool(book.workers.live(now(), timedelta(minutes=1)))
    finally:
        book.close()


@pytest.fixture
def two_channels(tmp_path: Path) -> Path:
    write(tmp_path, {"later": (now() + timedelta(days=1), "Morgen.")}, default_channels="[mastodon, bluesky]")
    assert campaign(tmp_path, "run", "--once").returncode == 0  # the ledger exists and has the sends
    return tmp_path


def test_pausing_an_unknown_channel_fails_naming_the_known_ones_and_changes_nothing(two_channels: Path) -> None:
    before = snapshot(two_channels)
    result = campaign(two_channels, "pause", "--channel", "mastodn", "--reason", "stilte")
    assert result.returncode != 0
    assert "no channel 'mastodn'; did you mean 'mastodon'? (the channels are: bluesky, mastodon)" in result.stderr
    assert snapshot(two_channels) == before
    unlike = campaign(two_channels, "pause", "--channel", "xyz", "--reason", "stilte")
    assert unlike.returncode != 0 and "no channel 'xyz' (the channels are: bluesky, mastodon)" in unlike.stderr
    assert snapshot(two_channels) == before


def test_a_plain_resume_lifts_every_pause_and_says_which(two_channels: Path) -> None:
    assert campaign(two_channels, "pause", "--channel", "mastodon", "--reason", "storing").returncode == 0
    resumed = campaign(two_channels, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert re.search(r"^resumed mastodon \(paused since [\d-]+ [\d:]+ CES?T: storing\)$", resumed.stdout, re.M)
    assert snapshot(two_channels)[1] == []

    assert campaign(two_channels, "pause", "--channel", "bluesky", "--reason", "storing").returncode == 0
    assert campaign(two_channels, "pause", "--reason", "nieuws").returncode == 0
    both = campaign(two_channels, "resume")
    assert both.returncode == 0
    assert "resumed everything (paused since" in both.stdout and "resumed bluesky (paused since" in both.stdout
    assert snapshot(two_channels)[1] == []
    assert campaign(two_channels, "resume").stdout.strip() == "nothing was paused"


def test_resume_of_one_channel_lifts_only_that_pause_and_names_what_stays(two_channels: Path) -> None:
    assert campaign(two_channels, "pause", "--channel", "mastodon", "--reason", "storing").returncode == 0
    assert campaign(two_channels, "pause", "--reason", "nieuws").returncode == 0
    other = campaign(two_channels, "resume", "--channel", "bluesky")
    assert other.returncode == 1
    assert "bluesky was not paused; paused now: everything since" in other.stderr
    one = campaign(two_channels, "resume", "--channel", "mastodon")
    assert one.returncode == 0
    assert "resumed mastodon" in one.stdout and "still paused: everything since" in one.stdout
    assert [p.scope for p in snapshot(two_channels)[1]] == ["*"]


def test_history_shows_each_action_by_hand_with_who_when_and_why(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"oud": (now() - timedelta(hours=3), "Te laat."), "twijfel": (now() + timedelta(days=1), "Misschien.")},
    )
    assert campaign(tmp_path, "run", "--once").returncode == 0
    book = ledger(tmp_path)
    with book.engine.begin() as conn:  # as a crash during the send would leave it
        conn.execute(update(deliveries).where(deliveries.c.post == "twijfel").values(state="in_doubt"))
    book.close()
    steps = [
        ("pause", "--reason", "nieuws vraagt om stilte"),
        ("resume", "--reason", "het is weer rustig"),
        ("retry", "oud", "--reason", "de server was plat"),
        ("resolve", "twijfel", "--channel", "mastodon", "--published", "https://m.example/1", "--reason", "gezien"),
    ]
    for step in steps:
        result = campaign(tmp_path, *step, env=USER)
        assert result.returncode == 0, result.stderr
    everything = campaign(tmp_path, "history").stdout.splitlines()
    by = f"by anna@{HOST}"
    expected = [
        f"paused {by}: nieuws vraagt om stilte",
        f"resumed everything {by}: het is weer rustig",
        f"retry of oud {by} (1 send due now: mastodon): de server was plat",
        f"resolved twijfel on mastodon as published (https://m.example/1) {by}: gezien",
    ]
    by_hand = [line for line in everything if "  by hand  " in line]
    assert [line.split("by hand", 1)[1].strip() for line in by_hand] == expected
    for line in by_hand:
        stamp = datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=AMSTERDAM)
        assert abs(stamp - now()) < timedelta(minutes=5) and line[20:].startswith(zone_now() + " ")
    assert any("missed" in line and "oud" in line for line in everything)  # the attempts are there too
    stamps = [line[:19] for line in everything]
    assert stamps == sorted(stamps)  # one timeline
    of_post = campaign(tmp_path, "history", "oud").stdout
    assert f"retry of oud {by}" in of_post and "paused" not in of_post and "twijfel" not in of_post
    assert (
        f"resolved twijfel on mastodon as published (https://m.example/1) {by}"
        in campaign(tmp_path, "history", "twijfel").stdout
    )


def test_retry_without_a_daemon_says_so_and_offers_run_once(tmp_path: Path) -> None:
    write(tmp_path, {"oud": (now() - timedelta(hours=3), "Te laat.")})
    assert campaign(tmp_path, "run", "--once").returncode == 0
    result = campaign(tmp_path, "retry", "oud")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"1 send of oud \(mastodon\) due now, [\d-]+ [\d:]+ {zone_now()}", lines[0])
    assert "no daemon is running: `campaign run --once` sends it now" in lines[1]
    assert "will go out now" not in result.stdout
    assert re.fullmatch(r"if not sent by [\d-]+ [\d:]+ CES?T, it counts as missed again", lines[2])
    assert states(tmp_path)[("oud", "mastodon")] == "pending" and outbox(tmp_path) == []
    sent = campaign(tmp_path, "run", "--once")
    assert "1 send handled" in sent.stderr and [r["post"] for r in outbox(tmp_path)] == ["oud"]
    again = campaign(tmp_path, "retry", "oud")
    assert again.returncode == 1 and "no failed, missed or link-held send of oud: published on mastodon" in again.stderr


def test_retry_while_paused_says_the_pause_holds_it(tmp_path: Path) -> None:
    write(tmp_path, {"oud": (now() - timedelta(hours=3), "Te laat.")})
    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert campaign(tmp_path, "pause", "--channel", "mastodon", "--reason", "storing").returncode == 0
    result = campaign(tmp_path, "retry", "oud")
    assert result.returncode == 0
    assert (
        "but the pause of mastodon (since" in result.stdout and "storing) holds it: `campaign resume`" in result.stdout
    )


@pytest.mark.slow
def test_retry_with_a_running_daemon_says_when_it_goes_out_and_the_daemon_logs_every_action(tmp_path: Path) -> None:
    write(tmp_path, {"oud": (now() - timedelta(hours=3), "Te laat.")}, default_channels="[mastodon, bluesky]")
    assert campaign(tmp_path, "run", "--once").returncode == 0
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: daemon_seen(tmp_path), timeout=30)
        assert campaign(tmp_path, "pause", "--channel", "bluesky", "--reason", "storing", env=USER).returncode == 0
        result = campaign(tmp_path, "retry", "oud", "--channel", "mastodon", env=USER)
        assert result.returncode == 0, result.stderr
        asked = now()
        assert f"a running daemon (on {HOST}) sends it within 5 seconds" in result.stdout
        assert wait_for(lambda: len(outbox(tmp_path)) == 1, timeout=30)
        assert now() - asked < timedelta(seconds=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    assert states(tmp_path)[("oud", "mastodon")] == "published"
    assert f"paused bluesky by anna@{HOST}: storing" in err
    assert f"retry of oud on mastodon by anna@{HOST} (1 send due now: mastodon)" in err
    logged = [line for line in err.splitlines() if line[:4].isdigit()]
    assert logged and all(re.match(r"[\d-]{10} [\d:]{8},\d{3} CES?T ", line) for line in logged)


def test_status_says_exactly_how_many_more_rows_it_leaves_out(tmp_path: Path) -> None:
    write(tmp_path, {f"p{i:02d}": (now() + timedelta(days=1, minutes=i), f"Post {i}.") for i in range(14)})
    assert campaign(tmp_path, "run", "--once").returncode == 0
    result = campaign(tmp_path, "status", "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert "next (14):" in result.stdout
    assert "  … and 11 more (--limit 14 shows them all)" in result.stdout
    shown = result.stdout.split("next (14):", 1)[1].splitlines()[1:4]
    assert [line.split()[4] for line in shown] == ["p00", "p01", "p02"]
    assert "and 0 more" not in campaign(tmp_path, "status", "--limit", "14").stdout


def test_status_and_pause_show_times_in_the_campaigns_zone_with_its_name(tmp_path: Path) -> None:
    winter = datetime(2027, 11, 15, 9, 0, tzinfo=AMSTERDAM)
    summer = datetime(2027, 7, 1, 9, 0, tzinfo=AMSTERDAM)
    write(tmp_path, {"winter": (winter, "Koud."), "zomer": (summer, "Warm.")})
    assert campaign(tmp_path, "run", "--once", TZ="America/New_York").returncode == 0
    paused = campaign(tmp_path, "pause", "--reason", "stilte", TZ="America/New_York")
    assert re.fullmatch(rf"paused everything since [\d-]+ [\d:]+ {zone_now()} by \S+: stilte\n", paused.stdout)
    shown = campaign(tmp_path, "status", TZ="America/New_York").stdout
    assert "2027-07-01 09:00 CEST  mastodon     zomer" in shown
    assert "2027-11-15 09:00 CET  mastodon     winter" in shown
    assert re.search(rf"^paused: everything since [\d-]+ [\d:]+ {zone_now()} by \S+: stilte$", shown, re.M)


@pytest.mark.parametrize(
    "when",
    ["2027-11-15 09:00", "2027-11-15T09:00", "2027-11-15 09:00:00", "2027-11-15T09:00:00+01:00", "2027-11-15T08:00Z"],
)
def test_from_and_to_take_every_time_publish_at_takes(tmp_path: Path, when: str) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "channels.yml").write_text("channels:\n  mastodon: {type: dryrun, like: mastodon}\n")
    (tmp_path / "posts" / "_defaults.yml").write_text("timezone: Europe/Amsterdam\nchannels: [mastodon]\n")
    (tmp_path / "posts" / "a.md").write_text(f"---\npublish_at: '{when}'\n---\nOm negen uur.\n")
    (tmp_path / "posts" / "b.md").write_text("---\npublish_at: '2027-11-15 08:59'\n---\nNet ervoor.\n")
    assert campaign(tmp_path, "validate").returncode == 0  # publish_at takes it
    shown = campaign(tmp_path, "preview", "--format", "json", "--from", when)
    assert shown.returncode == 0, shown.stderr
    assert [r["post"] for r in json.loads(shown.stdout)["sends"]] == ["a"]
    before = campaign(tmp_path, "preview", "--format", "json", "--to", when)
    assert [r["post"] for r in json.loads(before.stdout)["sends"]] == ["b"]
    assert campaign(tmp_path, "rehearse", "--from", when).returncode == 0


@pytest.mark.parametrize("command", [("preview",), ("rehearse",)])
def test_from_and_to_reject_junk_with_a_message_that_lists_the_formats(tmp_path: Path, command: tuple[str]) -> None:
    write(tmp_path, {"later": (now() + timedelta(days=1), "Morgen.")})
    for option in ("--from", "--to"):
        result = campaign(tmp_path, *command, option, "volgende week")
        assert result.returncode != 0
        assert "'volgende week' is not a date or a time; write a date (2027-11-15) or a date and time" in result.stderr
        assert option in result.stderr and "2027-10-31T02:30+01:00" in result.stderr
    helped = campaign(tmp_path, *command, "--help")
    assert "2027-11-15 09:00" in helped.stdout and "2027-10-31T02:30+01:00" in helped.stdout


def test_root_is_taken_after_the_command_too(tmp_path: Path) -> None:
    root = write(tmp_path / "c", {"later": (now() + timedelta(days=1), "Morgen.")})
    env = {k: v for k, v in env_for(root).items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            cwd=tmp_path,  # not the campaign: only --root finds it
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    for args in (
        ("validate", "--root", str(root)),
        ("--root", str(root), "validate"),
        ("--root", str(tmp_path / "nowhere"), "validate", "--root", str(root)),
        ("db", "upgrade", "--root", str(root)),
        ("status", "--root", str(root)),
    ):
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr)
    assert "planned send" in run("validate", "--root", str(root)).stderr
    assert (root / "campaign.db").exists() and not (tmp_path / "campaign.db").exists()
    assert "--root DIR" in run("pause", "--help").stdout
