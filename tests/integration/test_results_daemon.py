"""The daemon's collector runs beside publishing: a network whose reads hang never delays a due post,
and the counts and a watch-list alert arrive while the daemon runs (`campaign run` as a process)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.server import Reply, Request
from tests.integration.daemon_helpers import campaign, daemon, ledger, soon, states, wait_for, write

FAST = {"MASTODON_TOKEN": TOKEN, "CAMPAIGN_RESULT_AGES": "1 second", "CAMPAIGN_COLLECT_EVERY": "1 second"}


class Stuck(FakeMastodon):
    """Every read of a status hangs until `release` is set; publishing answers at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.reading = threading.Event()

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/api/v1/statuses/"):
            self.reading.set()
            self.release.wait(60)
        return super().handle(request)


class Answered(FakeMastodon):
    """Someone replies the moment a post is out: whenever the collector first reads, the reply is there."""

    def _post_status(self, request: Request) -> Reply:
        answer = super()._post_status(request)
        posted = answer.body.get("id") if answer.status == 200 and isinstance(answer.body, dict) else None
        if posted is not None and not self._answers.get(posted):  # once, also for a repeat of the post
            self.add_reply(posted, "iemand", "Help, wie kan ik bellen?")
        return answer


def channels(server: FakeMastodon) -> str:
    return f"channels:\n  masto: {{type: mastodon, instance: '{server.url}', token: '${{MASTODON_TOKEN}}'}}\n"


def test_a_collector_stuck_on_a_network_never_delays_a_due_post(tmp_path: Path) -> None:
    with Stuck() as masto:
        posts = {f"p{i}": (soon(2 + 3 * i), f"Bericht {i}.") for i in range(3)}
        write(tmp_path, posts, channels=channels(masto), default_channels="[masto]")
        proc = daemon(tmp_path, **FAST)
        try:
            assert wait_for(masto.reading.is_set, timeout=30), "the collector never read the first post"
            hung_at = next(i for i, r in enumerate(masto.requests) if r.method == "GET" and "/statuses/" in r.path)
            # While that read hangs, the next two posts go out at their time.
            assert wait_for(lambda: list(states(tmp_path).values()).count("published") == 3, timeout=30)
            assert not masto.release.is_set()
            posted = [i for i, r in enumerate(masto.requests) if r.method == "POST" and r.path == "/api/v1/statuses"]
            assert len(posted) == 3 and posted[1] > hung_at and posted[2] > hung_at
        finally:
            masto.release.set()
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err


def test_the_running_daemon_takes_counts_and_alerts_a_watched_reply(tmp_path: Path) -> None:
    # The reply comes with the post (Answered): the collector's first read of the replies may come
    # before any moment the test could add it, and the next one is minutes later.
    with Answered() as masto:
        write(tmp_path, {"p": (soon(2), "Doorbreek de stilte.")}, channels=channels(masto), default_channels="[masto]")
        (tmp_path / "watchlist.yml").write_text("phrases: [help]\n", encoding="utf-8")
        proc = daemon(tmp_path, **FAST)
        try:
            assert wait_for(lambda: bool(masto.statuses), timeout=30)
            book = ledger(tmp_path)
            try:
                assert wait_for(lambda: bool(book.results.snapshots()), timeout=30)
                assert wait_for(lambda: any(a.kind == "reply" for a in book.alerts.latest()), timeout=30)
            finally:
                book.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "wie kan ik bellen" not in err + out


def test_collect_once_takes_what_is_due_for_a_campaign_whose_daemon_has_stopped(tmp_path: Path) -> None:
    with FakeMastodon() as masto:
        write(tmp_path, {"p": (soon(-1), "Doorbreek de stilte.")}, channels=channels(masto), default_channels="[masto]")
        sent = campaign(tmp_path, "run", "--once", env=FAST)
        assert sent.returncode == 0, sent.stderr
        time.sleep(1.1)  # the 1-second age comes due
        first = campaign(tmp_path, "collect", "--once", env=FAST)
        assert first.returncode == 0, first.stderr
        assert "collected: 1 snapshot," in first.stdout
        reads = sum(1 for r in masto.requests if r.method == "GET" and r.path.count("/") == 4)
        again = campaign(tmp_path, "collect", "--once", env=FAST)
        assert "collected: 0 snapshots," in again.stdout
        assert sum(1 for r in masto.requests if r.method == "GET" and r.path.count("/") == 4) == reads
