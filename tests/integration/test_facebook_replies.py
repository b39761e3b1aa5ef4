"""Replies on Facebook: the comments on a campaign's Page post, read through the collector against
the fake Graph API over real HTTP on a simulated clock. The Page's own comments are not replies;
a commenter Graph does not name is kept as unknown; a watch-list match alerts once, never with
its text; paging, a deleted post and throttling are honoured."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.channels.base import Receipt
from scheduler.channels.facebook import UNKNOWN_AUTHOR, FacebookChannel
from scheduler.content.campaign import load
from scheduler.content.plan import build
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger, database_url
from scheduler.publish.publisher import Channels, Policy, Publisher
from scheduler.results.collector import Collector, Config
from tests.fakes.facebook_server import PAGE_ID, TOKEN, FakeGraph, buc_usage, graph_error
from tests.fakes.server import Request
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import write

START = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
CONFIG = Config((timedelta(hours=1),), timedelta(days=14))
POLICY = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
DISCLOSURE = "Ik word thuis geslagen en ik durf het niet te zeggen"
WATCH = "phrases:\n  - ik word*\n  - durf het niet te zeggen\nhelplines: Veilig Thuis 0800-2000\n"


@dataclass
class World:
    root: Path
    ledger: Ledger
    clock: SimulatedClock
    graph: FakeGraph
    hook: FakeWebhook
    post_id: str

    def collector(self) -> Collector:
        campaign, _ = load(self.root)
        return Collector(
            self.ledger, Channels(campaign), Alerter(self.ledger, self.hook.url), self.clock, self.root, CONFIG
        )

    def comment_reads(self) -> list[Request]:
        return [r for r in self.graph.requests if r.method == "GET" and r.path.endswith("/comments")]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("FACEBOOK_PAGE_TOKEN", TOKEN)
    with FakeGraph() as graph, FakeWebhook() as hook:
        channels = (
            "channels:\n"
            f"  facebook: {{type: facebook, page_id: '{PAGE_ID}', token: '${{FACEBOOK_PAGE_TOKEN}}', "
            f"graph: '{graph.url}'}}\n"
        )
        root = write(
            tmp_path,
            {"week/aftrap": (START, "Doorbreek de stilte. #WeekTegenKindermishandeling")},
            channels=channels,
            default_channels="[facebook]",
        )
        (root / "watchlist.yml").write_text(WATCH, encoding="utf-8")
        ledger = Ledger(database_url(None, tmp_path))
        ledger.upgrade()
        clock = SimulatedClock(START)
        campaign, _ = load(root)
        publisher = Publisher(ledger, Channels(campaign), Alerter(ledger), POLICY, "test", clock=clock)
        publisher.sync(build(root), START)
        assert [o.channel for o in publisher.make_pass(1).sent] == ["facebook"]
        publisher.channels.close()
        [row] = ledger.views.rows()
        yield World(root, ledger, clock, graph, hook, row.remote_id or "")
        ledger.close()


def adapter_for(graph: FakeGraph) -> FacebookChannel:
    return FacebookChannel("facebook", {"page_id": PAGE_ID, "token": TOKEN, "graph": graph.url})


def test_comments_are_replies_and_a_disclosure_alerts_once_with_its_link_never_its_text(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    disclosure = world.graph.add_comment(world.post_id, DISCLOSURE, name=None)  # Graph does not name them
    world.graph.add_comment(world.post_id, "Mooie actie, gedeeld!", name="Jan Jansen")
    world.graph.add_comment(world.post_id, "Bel Veilig Thuis: 0800-2000", by_page=True)  # the team's answer
    collector = world.collector()

    done = collector.collect(START + timedelta(minutes=10))

    assert (done.replies, done.alerts) == (2, 1)
    [alert] = [posted.json() for posted in world.hook.posted]
    assert alert["kind"] == "reply" and "0800-2000" in alert["message"]
    # The Page's own post (`campaign replies` has the comment's link), as on every network.
    [own] = [r.receipt_url for r in world.ledger.views.rows()]
    assert own and own in alert["message"] and disclosure.partition("_")[2] not in alert["message"]
    kept = sorted(world.ledger.replies.stored_replies(), key=lambda r: r.at)
    assert [(r.network, r.author, r.text, r.watch) for r in kept] == [
        ("facebook", UNKNOWN_AUTHOR, DISCLOSURE, "ik word*"),
        ("facebook", "Jan Jansen", "Mooie actie, gedeeld!", None),
    ]
    assert (
        kept[0].url
        == f"https://www.facebook.com/{PAGE_ID}/posts/{world.post_id.partition('_')[2]}?comment_id="
        + (disclosure.partition("_")[2])
    )
    # Read again later, and by a restarted daemon: kept once, alerted once.
    assert collector.collect(START + timedelta(minutes=30)).alerts == 0
    assert world.collector().collect(START + timedelta(hours=2)).alerts == 0
    assert len(world.hook.posted) == 1 and len(world.ledger.replies.stored_replies()) == 2
    for text in (DISCLOSURE, "thuis geslagen", "Mooie actie", "Jan Jansen"):
        assert text not in caplog.text
        assert all(text not in a.message for a in world.ledger.alerts.latest())
    assert TOKEN not in caplog.text


def test_the_comments_edge_is_read_as_documented_answers_included_and_oldest_first(world: World) -> None:
    first = world.graph.add_comment(world.post_id, "Wat kan ik doen?", at=START + timedelta(minutes=2))
    world.graph.add_comment(
        world.post_id, "Ik ook, durf het niet te zeggen", name="Sam", parent=first, at=START + timedelta(minutes=3)
    )
    adapter = adapter_for(world.graph)
    found = adapter.replies_to(Receipt(None, world.post_id))
    adapter.close()
    assert [(r.author, r.at) for r in found] == [
        ("Kim de Vries", START + timedelta(minutes=2)),
        ("Sam", START + timedelta(minutes=3)),  # an answer to a comment is a reply too
    ]
    [read] = [r for r in world.graph.requests if r.path == f"/v25.0/{world.post_id}/comments"]
    assert (read.value("filter"), read.value("order")) == ("stream", "chronological")
    assert read.value("fields") == "id,from,message,created_time,permalink_url"


def test_paging_follows_the_after_cursor_over_two_pages(world: World) -> None:
    for n in range(130):
        world.graph.add_comment(world.post_id, f"reactie {n}", at=START + timedelta(minutes=1, seconds=n))
    adapter = adapter_for(world.graph)
    found = adapter.replies_to(Receipt(None, world.post_id))
    adapter.close()
    assert [r.text for r in found] == [f"reactie {n}" for n in range(130)]
    assert len({r.remote_id for r in found}) == 130
    reads = [r for r in world.graph.requests if r.path.endswith("/comments")]
    assert [r.value("after") is not None for r in reads] == [False, True]
    assert all(r.value("limit") == "100" for r in reads)


def test_a_deleted_post_has_no_replies_and_never_rests_the_channel(world: World) -> None:
    world.graph.add_comment(world.post_id, "eerste")
    world.graph.delete_post(world.post_id)
    adapter = adapter_for(world.graph)
    assert adapter.replies_to(Receipt(None, world.post_id)) == []
    adapter.close()
    done = world.collector().collect(START + timedelta(minutes=10))
    assert (done.replies, done.resting) == (0, {})
    assert world.ledger.replies.stored_replies() == []


def test_throttling_waits_as_long_as_graph_says_while_the_comments_wait(world: World) -> None:
    world.graph.add_comment(world.post_id, DISCLOSURE)
    headers = {"X-Business-Use-Case-Usage": buc_usage(PAGE_ID, percent=100, minutes=19)}
    body = graph_error(32, "(#32) Page request limit reached")
    world.graph.fail("GET", f"/v25.0/{world.post_id}/comments", 400, body, headers)
    collector = world.collector()

    done = collector.collect(START + timedelta(minutes=10))
    assert done.replies == 0 and "facebook" in done.resting
    reads = len(world.comment_reads())
    assert collector.collect(START + timedelta(minutes=25)).replies == 0
    assert len(world.comment_reads()) == reads  # it kept to the 19 minutes Graph named
    done = collector.collect(START + timedelta(minutes=30))
    assert (done.replies, done.alerts) == (1, 1)


def test_reading_stops_while_the_pages_usage_is_down_to_what_posting_needs(world: World) -> None:
    world.graph.usage_percent = 85
    collector = world.collector()
    done = collector.collect(START + timedelta(minutes=10))
    assert done.resting["facebook"] == "rate limit down to 15 of 100, kept for posting"
    reads = len(world.comment_reads())
    world.graph.usage_percent = 10
    world.graph.add_comment(world.post_id, DISCLOSURE)
    assert collector.collect(START + timedelta(minutes=12)).replies == 0
    assert len(world.comment_reads()) == reads
    done = collector.collect(START + timedelta(minutes=16))  # Graph names no reset: five minutes on
    assert (done.replies, done.alerts) == (1, 1)


def test_a_post_with_more_comments_than_are_read_still_yields_its_newest(world: World) -> None:
    for n in range(2_550):
        world.graph.add_comment(world.post_id, f"reactie {n}", at=START + timedelta(seconds=n))
    world.graph.add_comment(world.post_id, DISCLOSURE, name="Noor", at=START + timedelta(hours=2))
    adapter = adapter_for(world.graph)
    found = adapter.replies_to(Receipt(None, world.post_id))
    adapter.close()
    assert found[-1].text == DISCLOSURE  # the newest, which may need a person now
    assert [r.text for r in found[:2_500]] == [f"reactie {n}" for n in range(2_500)]
    assert len({r.remote_id for r in found}) == len(found)
    last = [r for r in world.graph.requests if r.path.endswith("/comments")][-1]
    assert (last.value("order"), last.value("after")) == ("reverse_chronological", None)
    assert last.value("since") == str(int((START + timedelta(seconds=2_499)).timestamp()))  # since the newest read


def test_a_comment_graph_gives_without_an_id_is_kept_under_the_same_key_on_every_read(world: World) -> None:
    world.graph.add_comment(world.post_id, DISCLOSURE)
    world.graph.comments[world.post_id][0]["id"] = None  # Graph leaves ids out for some apps
    adapter = adapter_for(world.graph)
    first = adapter.replies_to(Receipt(f"https://www.facebook.com/{world.post_id}", world.post_id))
    again = adapter.replies_to(Receipt(f"https://www.facebook.com/{world.post_id}", world.post_id))
    adapter.close()
    assert [r.text for r in first] == [DISCLOSURE]
    assert first[0].remote_id == again[0].remote_id


def test_a_permission_taken_away_alerts_a_person_once_while_the_collector_keeps_trying(world: World) -> None:
    # Replies that need a person would go unread: a lasting refusal is an alert, not only a log line.
    world.graph.add_comment(world.post_id, DISCLOSURE)
    body = graph_error(10, "(#10) This endpoint requires the 'pages_read_user_content' permission")
    world.graph.fail("GET", f"/v25.0/{world.post_id}/comments", 400, body, times=3)
    collector = world.collector()
    for minutes in (10, 60, 120):
        collector.collect(START + timedelta(minutes=minutes))
    told = [a for a in world.ledger.alerts.latest() if a.kind == "results"]
    assert len(told) == 1 and told[0].channel == "facebook" and "replies that need a person" in told[0].message
    assert DISCLOSURE not in told[0].message
    done = collector.collect(START + timedelta(hours=5))  # the permission is back: the comment is read
    assert done.alerts == 1
