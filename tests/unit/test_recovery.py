"""Settling interrupted sends and sending alerts, in-process: a temporary SQLite ledger, dry-run channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.content.campaign import load
from scheduler.errors import LedgerUnavailable
from scheduler.publish.alerts import Alerter
from scheduler.publish.holds import Fate
from scheduler.publish.ledger import Ledger, Wanted
from scheduler.publish.publisher import Channels, Policy, Publisher
from scheduler.publish.states import State
from tests.fakes.webhook_server import FakeWebhook

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = Policy(
    max_late=timedelta(hours=1), max_attempts=8, retry_base=timedelta(seconds=1), stale_after=timedelta(seconds=60)
)


@pytest.fixture
def book(tmp_path: Path) -> Ledger:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    wanted = Wanted(
        post="p",
        channel="mastodon",
        path="posts/p.md",
        due=NOW - timedelta(minutes=1),
        max_late=timedelta(hours=1),
        version="v1",
        key="cs-key",
        text_hash="h",
        allow_repeat=False,
        payload='{"text": "Hallo."}',
    )
    ledger.wanted.sync([wanted], lambda *_: Fate(State.CANCELLED, None), NOW)
    return ledger


def publisher(ledger: Ledger, root: Path, worker: str, webhook: str | None = None) -> Publisher:
    (root / "channels.yml").write_text("channels:\n  mastodon: {type: dryrun, like: mastodon}\n", encoding="utf-8")
    (root / "posts").mkdir(exist_ok=True)
    (root / "posts" / "_defaults.yml").write_text("campaign: T\ntimezone: UTC\nchannels: [mastodon]\n")
    campaign, _ = load(root)
    return Publisher(ledger, Channels(campaign, dry_run_dir=root), Alerter(ledger, webhook), POLICY, worker)


def abandon(ledger: Ledger) -> None:
    """A daemon on another host claimed the post, let the request leave, and died."""
    claim = ledger.sends.claim("gone-host:1:dead", NOW)
    assert claim is not None
    assert ledger.sends.about_to_send(claim) is None


def test_two_daemons_recovering_the_same_abandoned_send_settle_it_once(book: Ledger, tmp_path: Path) -> None:
    abandon(book)
    first, second = publisher(book, tmp_path, "a:1:x"), publisher(book, tmp_path, "b:2:y")
    later = NOW + 2 * POLICY.stale_after  # the dead worker's claim is old enough to be taken over
    seen_by_second = book.sends.stale_claims(
        later, second.worker, POLICY.stale_after
    )  # both looked before either settled
    settled = first.recover(later)
    book.sends.stale_claims = lambda *_: seen_by_second  # type: ignore[method-assign]
    assert second.recover(later) == []  # the loser reports nothing it did not settle
    assert [(o.post, o.state) for o in settled] == [("p", "retry")]
    assert [r.outcome for r in book.views.history("p")] == ["retry"]  # the winner's word stands


def test_a_fresh_claim_of_a_worker_that_never_heartbeated_is_not_taken_over(book: Ledger, tmp_path: Path) -> None:
    # A `run --once` on another host claims and sends at once, before any heartbeat: until its claim
    # is older than stale_after, nobody may settle it from under it (a second send of a webhook).
    claim = book.sends.claim("other-host:7:once", NOW)
    assert claim is not None and book.sends.about_to_send(claim) is None
    daemon = publisher(book, tmp_path, "here:8:d")
    assert daemon.recover(NOW + timedelta(seconds=30)) == []
    assert [(o.post, o.state) for o in daemon.recover(NOW + timedelta(minutes=2))] == [("p", "retry")]


def test_an_alert_recorded_but_never_sent_goes_out_once_at_the_next_start(book: Ledger, tmp_path: Path) -> None:
    with FakeWebhook(flavor="slack") as hook:
        # A daemon recorded an in-doubt alert with its outcome, and was killed before sending it.
        book.alerts.record_alert("in_doubt", "p", "mastodon", "may be out", NOW - timedelta(minutes=5), unsent=True)
        restarted = publisher(book, tmp_path, "c:3:z", hook.url)
        assert restarted.alerter.send_unsent(NOW) == 1
        assert restarted.alerter.send_unsent(NOW, force=True) == 0
        restarted.alerter.alert("failed", "p", "mastodon", "rejected", NOW)
        assert restarted.alerter.send_unsent(NOW + timedelta(hours=1), force=True) == 0
        assert [r.json()["kind"] for r in hook.posted] == ["in_doubt", "failed"]


def test_an_in_doubt_outcome_and_its_alert_are_recorded_together(book: Ledger, tmp_path: Path) -> None:
    with FakeWebhook(flavor="slack") as hook:
        sender = publisher(book, tmp_path, "d:4:w", hook.url)
        claim = book.sends.claim(sender.worker, NOW)
        assert claim is not None
        sender.settler.doubt(claim, NOW, "the answer was lost")
        assert [(a.kind, a.unsent) for a in book.alerts.latest()] == [("in_doubt", False)]
        assert len(hook.posted) == 1
    assert book.views.rows()[0].state == "in_doubt"


def test_an_unreachable_sqlite_file_is_reported_as_the_ledger_being_unavailable(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}")
    with pytest.raises(LedgerUnavailable, match="the database cannot be reached"):
        ledger.views.rows()
