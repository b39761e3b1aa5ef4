"""Results against the local Mastodon and Bluesky servers, in-process on a simulated clock: counts at
the right ages, each taken once (also across a restart), rate limits honoured, replies kept, a
watch-list match alerted exactly once (never with the reply's text), purge."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.channels.base import Counts, Receipt
from scheduler.channels.facebook import FacebookChannel
from scheduler.channels.x import XChannel
from scheduler.content.campaign import load
from scheduler.content.plan import build
from scheduler.posts import RenderedPost
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger, database_url
from scheduler.publish.publisher import Channels, Policy, Publisher
from scheduler.results.collector import Collector, Config
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.facebook_server import PAGE_ID, FakeGraph
from tests.fakes.facebook_server import TOKEN as FB_TOKEN
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.webhook_server import FakeWebhook
from tests.fakes.x_server import FakeX
from tests.integration.daemon_helpers import write
from tests.integration.test_x import settings_for as x_settings

PASSWORD = "app-pass-1234"
START = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
AGES = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30))
CONFIG = Config(AGES, timedelta(days=14))
POLICY = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
DISCLOSURE = "Ik word thuis geslagen en ik durf het niet te zeggen"
WATCH = "phrases:\n  - ik word*\n  - durf het niet te zeggen\nhelplines: Veilig Thuis 0800-2000\n"


@dataclass
class World:
    root: Path
    ledger: Ledger
    clock: SimulatedClock
    masto: FakeMastodon
    sky: FakePDS
    hook: FakeWebhook

    def collector(self) -> Collector:
        campaign, _ = load(self.root)
        alerter = Alerter(self.ledger, self.hook.url)
        return Collector(self.ledger, Channels(campaign), alerter, self.clock, self.root, CONFIG)

    def published(self) -> dict[str, str]:
        return {r.channel: r.remote_id or "" for r in self.ledger.views.rows()}

    def count_reads(self) -> int:
        """Mastodon's reads of a status's counts (not of its replies)."""
        return sum(
            1
            for r in self.masto.requests
            if r.method == "GET" and r.path.startswith("/api/v1/statuses/") and not r.path.endswith("/context")
        )

    def mastodon_reads(self) -> int:
        return sum(1 for r in self.masto.requests if r.method == "GET" and r.path.startswith("/api/v1/statuses/"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    monkeypatch.setenv("SKY_PASSWORD", PASSWORD)
    with FakeMastodon() as masto, FakePDS(password=PASSWORD) as sky, FakeWebhook() as hook:
        channels = (
            "channels:\n"
            f"  masto: {{type: mastodon, instance: '{masto.url}', token: '${{MASTODON_TOKEN}}'}}\n"
            f"  sky: {{type: bluesky, pds: '{sky.url}', handle: campagne.test, app_password: '${{SKY_PASSWORD}}'}}\n"
        )
        root = write(
            tmp_path,
            {"week/aftrap": (START, "Doorbreek de stilte. #WeekTegenKindermishandeling")},
            channels=channels,
            default_channels="[masto, sky]",
        )
        (root / "watchlist.yml").write_text(WATCH, encoding="utf-8")
        given = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
        ledger = Ledger(database_url(given, tmp_path))
        ledger.upgrade()
        clock = SimulatedClock(START)
        campaign, _ = load(root)
        publisher = Publisher(ledger, Channels(campaign), Alerter(ledger), POLICY, "test", clock=clock)
        publisher.sync(build(root), START)
        sent = publisher.make_pass(1).sent
        assert sorted(o.channel for o in sent) == ["masto", "sky"]
        publisher.channels.close()
        yield World(root, ledger, clock, masto, sky, hook)
        ledger.close()


def counts_by_age(world: World, channel: str) -> dict[timedelta, tuple[int | None, int | None, str | None]]:
    ids = {r.id: r.channel for r in world.ledger.views.rows()}
    return {
        s.age: (s.counts.likes if s.counts else None, s.counts.reposts if s.counts else None, s.note)
        for s in world.ledger.results.snapshots()
        if ids[s.delivery_id] == channel
    }


def test_counts_are_taken_at_each_age_on_a_simulated_clock_and_change_with_the_network(world: World) -> None:
    collector = world.collector()
    ids = world.published()
    assert collector.collect(START + timedelta(minutes=59)).snapshots == 0
    world.masto.set_counts(ids["masto"], favourites=3, reblogs=1)
    world.sky.set_counts(ids["sky"], likes=5, reposts=2)
    assert collector.collect(START + timedelta(hours=1)).snapshots == 2
    world.masto.set_counts(ids["masto"], favourites=30, reblogs=9)
    world.sky.set_counts(ids["sky"], likes=50, reposts=20)
    assert collector.collect(START + timedelta(hours=23)).snapshots == 0
    assert collector.collect(START + timedelta(days=1, minutes=1)).snapshots == 2

    assert counts_by_age(world, "masto") == {AGES[0]: (3, 1, None), AGES[1]: (30, 9, None)}
    assert counts_by_age(world, "sky") == {AGES[0]: (5, 2, None), AGES[1]: (50, 20, None)}


def test_nothing_is_fetched_twice_across_a_restart(world: World) -> None:
    assert world.collector().collect(START + timedelta(hours=2)).snapshots == 2
    reads, posts_calls = world.count_reads(), world.sky.count("app.bsky.feed.getPosts")
    restarted = world.collector()  # a new daemon on the same ledger
    done = restarted.collect(START + timedelta(hours=3))
    assert done.snapshots == 0
    assert world.sky.count("app.bsky.feed.getPosts") == posts_calls
    assert world.count_reads() == reads  # only replies were read again (their time had come)
    assert [s.age for s in world.ledger.results.snapshots()] == [AGES[0], AGES[0]]


def test_a_campaign_whose_collector_was_down_for_days_is_measured_once_at_its_oldest_due_age(world: World) -> None:
    before = world.count_reads()
    done = world.collector().collect(START + timedelta(days=8))
    assert done.snapshots == 6  # 2 sends × (7 days measured, 1 hour and 1 day skipped)
    measured = counts_by_age(world, "masto")
    assert measured[AGES[2]][2] is None
    assert measured[AGES[0]] == (None, None, "skipped: measured at 7 days")
    assert measured[AGES[1]] == (None, None, "skipped: measured at 7 days")
    assert world.count_reads() - before == 1  # one read for three ages


def test_a_rate_limited_network_waits_for_its_reset_while_the_other_goes_on(world: World) -> None:
    collector = world.collector()
    world.masto.rate_limit("/api/v1/statuses/", reset_in=120)
    done = collector.collect(START + timedelta(hours=1))
    assert done.snapshots == 1 and "masto" in done.resting
    reads = world.mastodon_reads()
    assert collector.collect(START + timedelta(hours=1, seconds=30)).snapshots == 0
    assert world.mastodon_reads() == reads  # it kept to the reset it was given
    assert collector.collect(START + timedelta(hours=1, minutes=3)).snapshots == 1
    assert len(world.ledger.results.snapshots()) == 2


def test_reading_stops_while_the_rate_limit_is_down_to_what_posting_needs(world: World) -> None:
    collector = world.collector()
    world.masto.rate_remaining = 40  # of 300: less than a fifth left
    world.masto.rate_reset_in = 300  # not the next 5-minute mark of the wall clock, which may be seconds away
    done = collector.collect(START + timedelta(hours=1))
    assert done.snapshots == 1 and done.resting["masto"] == "rate limit down to 40 of 300, kept for posting"
    reads = world.mastodon_reads()
    world.masto.rate_remaining = 299
    assert collector.collect(START + timedelta(hours=1, seconds=10)).snapshots == 0
    assert world.mastodon_reads() == reads
    assert collector.collect(START + timedelta(hours=1, minutes=6)).snapshots == 1


def test_a_bluesky_429_rests_the_channel_until_its_ratelimit_reset(world: World) -> None:
    collector = world.collector()
    world.sky.rate_limit_next("app.bsky.feed.getPosts", reset_in=300)
    done = collector.collect(START + timedelta(hours=1))
    assert done.snapshots == 1 and "sky" in done.resting  # Mastodon's went in
    calls = world.sky.count("app.bsky.feed.getPosts")
    assert collector.collect(START + timedelta(hours=1, minutes=4)).snapshots == 0
    assert world.sky.count("app.bsky.feed.getPosts") == calls
    assert collector.collect(START + timedelta(hours=1, minutes=6)).snapshots == 1


def test_a_reply_that_matches_the_watch_list_alerts_once_with_the_posts_link_and_never_its_text(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = world.published()
    reply_id = world.masto.add_reply(ids["masto"], "kim@elders.example", DISCLOSURE)
    world.sky.add_reply(ids["sky"], "fan.bsky.social", "Mooie actie, gedeeld!")
    collector = world.collector()
    done = collector.collect(START + timedelta(minutes=10))
    assert (done.replies, done.alerts) == (2, 1)
    assert len(world.hook.posted) == 1
    alert = world.hook.posted[0].json()
    post_url = next(r.receipt_url for r in world.ledger.views.rows() if r.channel == "masto")
    assert alert["kind"] == "reply" and "0800-2000" in alert["message"]
    assert post_url and post_url in alert["message"] and reply_id not in alert["message"]
    # Read again later, and by a restarted daemon: kept once, alerted once.
    assert collector.collect(START + timedelta(minutes=30)).alerts == 0
    assert world.collector().collect(START + timedelta(hours=2)).alerts == 0
    assert len(world.hook.posted) == 1
    kept = sorted(world.ledger.replies.stored_replies(), key=lambda r: r.channel)
    assert [(r.channel, r.author, r.text, r.watch) for r in kept] == [
        ("masto", "@kim@elders.example", DISCLOSURE, "ik word*"),
        ("sky", "@fan.bsky.social", "Mooie actie, gedeeld!", None),
    ]
    assert kept[0].url and kept[0].url.endswith(reply_id)
    for text in (DISCLOSURE, "thuis geslagen", "Mooie actie"):
        assert text not in caplog.text
        assert all(text not in a.message for a in world.ledger.alerts.latest())
    # The campaign's own thread parts are not replies.
    assert all(not r.author.startswith("@campagne") for r in kept)


def test_a_broken_watch_list_alerts_once_and_the_last_good_one_keeps_watching(world: World) -> None:
    ids = world.published()
    collector = world.collector()
    collector.collect(START + timedelta(minutes=1))  # reads the good list
    (world.root / "watchlist.yml").write_text("phrases: [help\n", encoding="utf-8")
    world.masto.add_reply(ids["masto"], "kim", DISCLOSURE)
    done = collector.collect(START + timedelta(minutes=10))
    assert done.alerts == 1  # the reply, matched by the last good list
    collector.collect(START + timedelta(minutes=20))
    kinds = sorted(a.kind for a in world.ledger.alerts.latest())
    assert kinds == ["reply", "watch_list"]
    [broken] = [a for a in world.ledger.alerts.latest() if a.kind == "watch_list"]
    assert broken.message.startswith("watchlist.yml:")


def test_replies_are_read_for_the_configured_time_only(world: World) -> None:
    ids = world.published()
    collector = world.collector()
    world.masto.add_reply(ids["masto"], "laat", "Te laat gezien")
    assert collector.collect(START + timedelta(days=15)).replies == 0
    assert world.ledger.replies.stored_replies() == []


def test_purge_removes_the_replies_older_than_it_says_and_keeps_the_rest(world: World) -> None:
    ids = world.published()
    world.masto.add_reply(ids["masto"], "a", "eerste")
    world.collector().collect(START + timedelta(minutes=10))
    [first] = world.ledger.replies.stored_replies()
    world.masto.add_reply(ids["masto"], "b", "tweede")
    world.collector().collect(START + timedelta(hours=2))
    assert len(world.ledger.replies.stored_replies()) == 2
    # Both were written (by the fake's clock) just now: none is older than a minute, both older than 0.
    purged = world.ledger.replies.purge_replies(first.at - timedelta(minutes=1))
    assert (purged.replies, purged.unhandled) == (0, 0)
    later = max(r.at for r in world.ledger.replies.stored_replies())
    purged = world.ledger.replies.purge_replies(first.at + (later - first.at) / 2)
    assert (purged.replies, purged.unhandled) == (1, 1)
    assert [r.text for r in world.ledger.replies.stored_replies()] == ["tweede"]


def test_a_watch_list_alert_names_no_one_and_purge_erases_the_reply_and_its_alert_from_disk(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = world.published()
    world.masto.add_reply(ids["masto"], "kim@elders.example", DISCLOSURE)
    sky_uri = world.sky.add_reply(ids["sky"], "sam.bsky.social", "Ik word gepest, durf het niet te zeggen")
    sky_did = sky_uri.split("/")[2]
    world.masto.add_reply(ids["masto"], "fan@elders.example", "Mooie actie")
    assert world.collector().collect(START + timedelta(minutes=10)).alerts == 2
    # Who wrote it is nowhere in what the alert leaves behind: webhook, log, alerts table.
    bodies = [hook.body.decode() for hook in world.hook.posted]
    messages = [a.message for a in world.ledger.alerts.latest()]
    posts = {r.receipt_url for r in world.ledger.views.rows()}
    assert len(bodies) == 2 and all(any(url and url in body for url in posts) for body in bodies)
    for who in ("kim@elders.example", "sam.bsky.social", sky_did):
        assert who not in caplog.text
        assert all(who not in text for text in bodies + messages)

    later = START + timedelta(days=1)
    purged = world.ledger.replies.purge_replies(later)
    assert (purged.replies, purged.unhandled, purged.alerts, purged.log_emptied) == (3, 3, 2, True)
    assert world.ledger.replies.stored_replies() == []
    assert [a for a in world.ledger.alerts.latest() if a.kind == "reply"] == []
    assert Alerter(world.ledger, world.hook.url).send_unsent(later, force=True) == 0
    if world.ledger.is_sqlite:
        # The bytes on disk, not only what a query sees: the file and its write-ahead log, read while the
        # ledger is still open (as a running daemon keeps it: closing the last connection checkpoints by itself).
        database = Path(world.ledger.url.split(":///", 1)[1])
        raw = b"".join(path.read_bytes() for path in (database, Path(f"{database}-wal")) if path.exists())
        assert b"Doorbreek de stilte" in raw  # these are the ledger's bytes
        for gone in (DISCLOSURE, "Ik word gepest", "Mooie actie", "kim@elders.example", "sam.bsky.social", sky_did):
            assert gone.encode() not in raw, gone


def test_x_counts_come_from_public_metrics_and_a_deleted_post_is_absent() -> None:
    with FakeX() as x:
        adapter = XChannel("x-nl", x_settings(x))
        first = adapter.publish(RenderedPost(post="a", channel="x-nl", text="Doorbreek de stilte."), "k1")
        second = adapter.publish(RenderedPost(post="b", channel="x-nl", text="Praat erover."), "k2")
        x.set_metrics(first.remote_id or "", likes=12, retweets=3, impressions=800)
        gone = Receipt("https://x.com/weektegenkm/status/1", "1860000000000009999")
        found = adapter.counts([first, second, gone])
        adapter.close()
    assert found == {
        first.remote_id: Counts(likes=12, reposts=3, replies=0, quotes=0, views=800),
        second.remote_id: Counts(likes=0, reposts=0, replies=0, quotes=0, views=0),
    }
    [lookup] = [r for r in x.requests if r.path == "/2/tweets" and r.method == "GET"]
    assert lookup.value("tweet.fields") == "public_metrics"


def test_facebook_counts_are_reactions_comments_and_shares_and_a_deleted_post_is_absent() -> None:
    with FakeGraph() as graph:
        adapter = FacebookChannel("facebook", {"page_id": PAGE_ID, "token": FB_TOKEN, "graph": graph.url})
        receipt = adapter.publish(RenderedPost(post="a", channel="facebook", text="Doorbreek de stilte."), "k1")
        graph.set_counts(receipt.remote_id or "", reactions=40, comments=6)
        found = adapter.counts([receipt, Receipt(None, f"{PAGE_ID}_999")])
        adapter.close()
    # No one shared it: Graph leaves `shares` out, and that is 0 shares, not "no count".
    assert found == {receipt.remote_id: Counts(likes=40, reposts=0, replies=6)}
