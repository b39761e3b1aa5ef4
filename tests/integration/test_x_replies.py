"""Replies on X against the local X API (recent search by conversation), in-process on a simulated
clock: read and matched (one alert, never the text), the account's own thread parts left out, two
pages (and a conversation larger than one read), a 429 rests until its reset, and a plan without
search is said once and never asked again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.channels.x import REPLY_PAGES, XChannel
from scheduler.content.campaign import load
from scheduler.content.plan import build
from scheduler.posts import RenderedPost
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger, database_url
from scheduler.publish.publisher import Channels, Policy, Publisher
from scheduler.results.collector import Collector, Config
from tests.fakes.server import Request
from tests.fakes.webhook_server import FakeWebhook
from tests.fakes.x_server import FakeX
from tests.integration.daemon_helpers import write
from tests.integration.test_x import SECRETS
from tests.integration.test_x import settings_for as x_settings

START = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
CONFIG = Config((timedelta(hours=1),), timedelta(days=14))
POLICY = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
DISCLOSURE = "Ik word thuis geslagen en ik durf het niet te zeggen"
WATCH = "phrases:\n  - ik word*\n  - durf het niet te zeggen\nhelplines: Veilig Thuis 0800-2000\n"
#: Long enough for X to take it as a thread of several parts.
STORY = "\n\n".join(
    f"Deel {i}. Ik was twaalf toen het begon, en niemand zag het. Pas jaren later durfde ik erover te praten "
    "met iemand die luisterde. Dat veranderde alles voor mij, en daarom vertel ik het nu."
    for i in range(1, 4)
)


@dataclass
class World:
    root: Path
    ledger: Ledger
    clock: SimulatedClock
    x: FakeX
    hook: FakeWebhook
    root_id: str  # the thread's first post: the conversation

    def collector(self) -> Collector:
        campaign, _ = load(self.root)
        return Collector(
            self.ledger, Channels(campaign), Alerter(self.ledger, self.hook.url), self.clock, self.root, CONFIG
        )

    def searches(self) -> list[Request]:
        return [r for r in self.x.requests if r.method == "GET" and r.path == "/2/tweets/search/recent"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with FakeX() as x, FakeWebhook() as hook:
        channels = (
            "channels:\n"
            f"  x: {{type: x, api: '{x.url}', consumer_key: '${{X_CONSUMER_KEY}}',"
            " consumer_secret: '${X_CONSUMER_SECRET}', access_token: '${X_ACCESS_TOKEN}',"
            " access_token_secret: '${X_ACCESS_TOKEN_SECRET}'}\n"
        )
        root = write(
            tmp_path,
            {"verhaal": (START, STORY)},
            channels=channels,
            default_channels="[x]",
            extra_defaults="thread: true\n",
        )
        (root / "watchlist.yml").write_text(WATCH, encoding="utf-8")
        given = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
        ledger = Ledger(database_url(given, tmp_path))
        ledger.upgrade()
        clock = SimulatedClock(START)
        campaign, _ = load(root)
        publisher = Publisher(ledger, Channels(campaign), Alerter(ledger), POLICY, "test", clock=clock)
        publisher.sync(build(root), START)
        assert [o.channel for o in publisher.make_pass(1).sent] == ["x"]
        publisher.channels.close()
        assert len(x.posts) >= 2, "the story should be a thread"
        [row] = ledger.views.rows()
        assert row.remote_id == x.posts[0]["id"]
        yield World(root, ledger, clock, x, hook, x.posts[0]["id"])
        ledger.close()


def test_replies_in_the_conversation_are_kept_and_a_match_alerts_once_without_the_accounts_own_parts(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    parts = [p["id"] for p in world.x.posts]
    disclosure_id = world.x.add_reply(world.root_id, "kim", DISCLOSURE)
    world.x.add_reply(parts[1], "fan", "Mooie actie & gedeeld!")  # to the second part: the same conversation
    collector = world.collector()
    done = collector.collect(START + timedelta(minutes=10))
    assert (done.replies, done.alerts) == (2, 1)
    [alert] = [posted.json() for posted in world.hook.posted]
    # The campaign's own post, never the reply's link (it holds the author's username).
    [own] = [r.receipt_url for r in world.ledger.views.rows()]
    assert alert["kind"] == "reply" and own and own in alert["message"]
    assert disclosure_id not in alert["message"] and "kim" not in alert["message"]
    # Read again, and by a restarted daemon: kept once, alerted once.
    assert collector.collect(START + timedelta(minutes=30)).alerts == 0
    assert world.collector().collect(START + timedelta(hours=2)).alerts == 0
    assert len(world.hook.posted) == 1

    kept = world.ledger.replies.stored_replies()
    assert [(r.network, r.author, r.watch) for r in kept] == [("x", "@kim", "ik word*"), ("x", "@fan", None)]
    assert kept[0].text.endswith(DISCLOSURE) and kept[1].text.endswith("Mooie actie & gedeeld!")  # X's &amp; undone
    assert kept[1].url == f"https://x.com/fan/status/{kept[1].remote_id}"
    assert not {r.remote_id for r in kept} & set(parts)  # the campaign's own thread parts are not replies
    assert DISCLOSURE not in caplog.text and "thuis geslagen" not in caplog.text
    assert all("thuis geslagen" not in a.message for a in world.ledger.alerts.latest())

    search = world.searches()[0]
    assert search.value("query") == f"conversation_id:{world.root_id}"
    assert search.value("expansions") == "author_id" and search.value("max_results") == "100"


def test_a_busy_conversation_is_read_over_two_pages(world: World) -> None:
    sent = [world.x.add_reply(world.root_id, f"lezer{i}", f"Reactie nummer {i}") for i in range(130)]
    done = world.collector().collect(START + timedelta(minutes=10))
    assert done.replies == 130
    assert [r.remote_id for r in world.ledger.replies.stored_replies()] == sent  # oldest first
    first, second = world.searches()
    assert first.value("next_token") is None and second.value("next_token")
    assert done.requests == 1  # one read of one post's replies, however many pages


def test_a_429_rests_x_until_its_reset_and_reads_afterwards(world: World) -> None:
    world.x.add_reply(world.root_id, "kim", "Dank jullie")
    world.x.rate_limit(reset_in=300)
    collector = world.collector()
    done = collector.collect(START + timedelta(minutes=10))
    assert done.replies == 0 and "x" in done.resting
    searched = len(world.searches())
    assert collector.collect(START + timedelta(minutes=14)).replies == 0
    assert len(world.searches()) == searched  # it kept to the reset X gave
    assert collector.collect(START + timedelta(minutes=16)).replies == 1


def test_a_plan_without_search_is_said_once_and_x_is_not_asked_again_while_its_counts_go_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world.x.search_allowed = False
    world.x.add_reply(world.root_id, "kim", DISCLOSURE)
    collector = world.collector()
    moments = [START + timedelta(minutes=m) for m in (10, 20, 40, 61, 120, 24 * 60)]
    done = [collector.collect(moment) for moment in moments]
    assert len(world.searches()) == 1  # asked once; a plan does not change by asking again
    assert all("x" not in d.resting for d in done)  # nothing waits: counts are not held up by it
    assert sum(d.snapshots for d in done) == 1  # the 1-hour counts were taken
    [said] = [a for a in world.ledger.alerts.latest() if a.kind == "replies_unread"]
    assert said.channel == "x" and "replies on x are not read" in said.message and "plan" in said.message
    assert "Client Forbidden" in said.message  # X's own words, for whoever looks it up
    assert len(world.hook.posted) == 1
    assert caplog.text.count("replies on x are not read") == 1
    assert world.ledger.replies.stored_replies() == []
    # A restarted daemon (or `collect --once` from cron) asks once more, but alerts no more.
    world.collector().collect(START + timedelta(days=2))
    assert len(world.searches()) == 2
    assert (
        len([a for a in world.ledger.alerts.latest() if a.kind == "replies_unread"]) == 1
        and len(world.hook.posted) == 1
    )


def test_new_keys_for_x_are_tried_again_after_a_plan_without_search(world: World) -> None:
    world.x.search_allowed = False
    collector = world.collector()
    collector.collect(START + timedelta(minutes=10))
    world.x.search_allowed = True  # the team moved the channel to an app whose plan has search
    text = (world.root / "channels.yml").read_text(encoding="utf-8")
    (world.root / "channels.yml").write_text(text.replace("}\n", ", max_characters: 280}\n"), encoding="utf-8")
    campaign, _ = load(world.root)
    collector.update(campaign)
    world.x.add_reply(world.root_id, "kim", "Dank jullie")
    assert collector.collect(START + timedelta(minutes=20)).replies == 1


def test_a_conversation_larger_than_one_read_keeps_the_newest_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeX() as x:
        adapter = XChannel("x", x_settings(x))
        post = adapter.publish(RenderedPost(post="a", channel="x", text="Doorbreek de stilte."), "k1")
        sent = [x.add_reply(post.remote_id or "", f"lezer{i}", f"Reactie {i}") for i in range(REPLY_PAGES * 100 + 20)]
        with caplog.at_level(logging.WARNING, logger="scheduler.channels.x"):
            first, again = adapter.replies_to(post), adapter.replies_to(post)
        adapter.close()
    assert [r.remote_id for r in first] == sent[-REPLY_PAGES * 100 :] == [r.remote_id for r in again]
    [said] = [r for r in caplog.records if r.name == "scheduler.channels.x"]
    assert "has more replies than 5 pages" in said.getMessage() and "lezer" not in said.getMessage()


def test_a_reply_whose_author_x_leaves_out_still_gets_a_link_a_person_can_open() -> None:
    with FakeX() as x:
        adapter = XChannel("x", x_settings(x))
        post = adapter.publish(RenderedPost(post="a", channel="x", text="Doorbreek de stilte."), "k1")
        page = {
            "data": [
                {
                    "id": "1860000000000000900",
                    "text": "Hulp &lt;3",
                    "author_id": "42",
                    "created_at": "2027-11-15T08:05:00.000Z",
                },
                {"id": post.remote_id, "text": "Doorbreek de stilte.", "author_id": x.user_id},
            ],
            "meta": {"result_count": 2},
        }
        x.fail("GET", "/2/tweets/search/recent", 200, page)
        [reply] = adapter.replies_to(post)
        adapter.close()
    assert (reply.author, reply.text) == ("X user 42", "Hulp <3")
    assert reply.url == "https://x.com/i/web/status/1860000000000000900"
    assert reply.at == datetime(2027, 11, 15, 8, 5, tzinfo=UTC)
