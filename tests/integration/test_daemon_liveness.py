"""The daemon stays alive and awake: a pause does not make it spin, a database outage does not stop
it, and a send settled after a crash is never reported as missed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.server import Reply as MastodonReply
from tests.fakes.server import Request
from tests.fakes.webhook_server import FakeWebhook, Received, Reply
from tests.integration.daemon_helpers import campaign, daemon, ledger, now, outbox, soon, states, wait_for, write
from tests.pgserver import Cluster, cluster, create_database, pg_bin


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return err


@pytest.mark.parametrize("scope", ["everything", "channel"])
def test_a_paused_daemon_with_a_due_post_sleeps_and_sends_it_within_seconds_of_resume(
    tmp_path: Path, scope: str
) -> None:
    write(
        tmp_path,
        {"stil": (now() - timedelta(seconds=30), "Wacht op resume."), "door": (soon(8), "Andere kanaal.")},
        default_channels="[mastodon]",
    )
    (tmp_path / "posts" / "door.md").write_text(
        (tmp_path / "posts" / "door.md").read_text().replace("---\n", "---\nchannels: [bluesky]\n", 1)
    )
    pause = ["pause", "--reason", "stilte"] + ([] if scope == "everything" else ["--channel", "mastodon"])
    assert campaign(tmp_path, *pause).returncode == 0
    process = daemon(tmp_path)
    try:
        time.sleep(4)  # start-up and the first pass
        assert process.poll() is None
        before, started = cpu_seconds(process.pid), time.monotonic()
        time.sleep(5)
        used = cpu_seconds(process.pid) - before
        assert used < 0.5, f"a paused daemon used {used:.2f} s of CPU in {time.monotonic() - started:.1f} s"
        assert [r["post"] for r in outbox(tmp_path)] == ([] if scope == "everything" else ["door"])
        assert (
            campaign(tmp_path, "resume", *([] if scope == "everything" else ["--channel", "mastodon"])).returncode == 0
        )
        resumed = time.monotonic()
        assert wait_for(lambda: "stil" in [r["post"] for r in outbox(tmp_path)], timeout=15)
        assert time.monotonic() - resumed < 8
    finally:
        err = stop(process)
    assert "Traceback" not in err
    assert Counter(r["post"] for r in outbox(tmp_path))["stil"] == 1


class HoldingMastodon(FakeMastodon):
    """Takes a status, then kills the daemon before answering: the post is out, no answer came."""

    victim: int | None = None

    def handle(self, request: Request) -> MastodonReply:
        reply = super().handle(request)
        if self.victim is not None and request.path == "/api/v1/statuses":
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return reply


def test_a_post_out_on_mastodon_whose_daemon_died_past_its_max_late_is_settled_not_missed(tmp_path: Path) -> None:
    with HoldingMastodon() as server:
        channels = (
            f"channels:\n  mastodon: {{type: mastodon, instance: '{server.url}', token: '${{MASTODON_TOKEN}}'}}\n"
        )
        due = now() - timedelta(seconds=55)
        write(
            tmp_path,
            {"krap": (due, "Net op tijd.")},
            channels=channels,
            extra_defaults="max_late: 1 minute\n",
        )
        process = daemon(tmp_path, "--once", MASTODON_TOKEN=TOKEN)
        server.victim = process.pid
        out, err = process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL, out + err
        time.sleep(max(0.0, (due + timedelta(seconds=61) - now()).total_seconds()))  # past its max_late now
        settled = campaign(tmp_path, "run", "--once", MASTODON_TOKEN=TOKEN)
        assert settled.returncode == 0, settled.stderr
        assert len(server.statuses) == 1  # the resend with the same key returned the first status
    assert states(tmp_path)[("krap", "mastodon")] == "published"
    book = ledger(tmp_path)
    try:
        assert [a.kind for a in book.alerts.latest()] == []
        assert [r.outcome for r in book.views.history("krap")] == ["resend", "published"]
    finally:
        book.close()


# ---------------------------------------------------------------------------- database outages


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Cluster]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with cluster() as server:
        yield server


def _database(server: Cluster, tmp_path: Path) -> str:
    db = create_database(server.url, "outage")
    result = campaign(tmp_path, "db", "upgrade", db=db)
    assert result.returncode == 0, result.stderr
    return db


class StoppingWebhook(FakeWebhook):
    """Stops the database when the first post arrives, before answering: the answer lands in the outage."""

    database: Cluster | None = None

    def handle(self, request: Received) -> Reply | None:
        reply = super().handle(request)
        if self.database is not None and request.method == "POST" and self.posted:
            self.database.stop()
            self.database = None
        return reply


@pytest.mark.postgres
def test_the_daemon_waits_out_a_database_outage_and_sends_each_post_once_when_it_is_back(
    tmp_path: Path, pg: Cluster
) -> None:
    db = _database(pg, tmp_path)
    hook = StoppingWebhook(flavor="json")
    with hook, FakeWebhook(flavor="slack") as alerts:
        channels = f"channels:\n  hook: {{type: webhook, format: json, url: '{hook.url}'}}\nalerts: {{webhook: '{alerts.url}'}}\n"
        start = soon(6)
        posts = {f"p{i}": (start + timedelta(seconds=2 * i), f"Bericht {i}.") for i in range(4)}
        write(tmp_path, posts, channels=channels, default_channels="[hook]")
        hook.database = pg
        process = daemon(tmp_path, db=db)
        try:
            assert wait_for(lambda: len(hook.posted) >= 1, timeout=40)
            assert wait_for(lambda: hook.database is None, timeout=20)  # stopped, then answered
            time.sleep(8)  # every other post falls due meanwhile
            assert process.poll() is None, "the daemon died with the database"
            assert len(hook.posted) == 1, "nothing is claimed while the ledger is away"
            assert any(a.json()["kind"] == "ledger_unreachable" for a in alerts.posted)
            pg.start()
            back = time.monotonic()
            assert wait_for(lambda: len(hook.posted) == 4, timeout=30)
            assert time.monotonic() - back < 15
            assert wait_for(lambda: set(states(tmp_path, db).values()) == {"published"}, timeout=15)
        finally:
            err = stop(process)
    assert Counter(r.json()["text"] for r in hook.posted) == {f"Bericht {i}.": 1 for i in range(4)}
    assert process.returncode == 0, err
    assert len([line for line in err.splitlines() if "daemon: the ledger is unreachable:" in line]) == 1, err
    assert "Traceback" not in err
    book = ledger(tmp_path, db)
    try:
        assert [r.outcome for r in book.views.history("p0")] == ["published"]  # its answer came in the outage
        assert "ledger_unreachable" in [a.kind for a in book.alerts.latest()]
    finally:
        book.close()


@pytest.mark.postgres
def test_the_daemon_exits_with_one_clear_line_when_the_database_stays_away_past_the_limit(
    tmp_path: Path, pg: Cluster
) -> None:
    db = _database(pg, tmp_path)
    write(tmp_path, {"morgen": (now() + timedelta(days=1), "Morgen.")})
    process = daemon(tmp_path, db=db, CAMPAIGN_DB_OUTAGE_LIMIT="3 seconds")
    try:
        assert wait_for(lambda: states(tmp_path, db).get(("morgen", "mastodon")) == "pending", timeout=30)
        pg.stop()
        stopped = time.monotonic()
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 75
    assert time.monotonic() - stopped < 20
    assert len([line for line in err.splitlines() if "CAMPAIGN_DB_OUTAGE_LIMIT" in line]) == 1
    assert "Traceback" not in err
