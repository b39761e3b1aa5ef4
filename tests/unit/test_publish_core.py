"""The publish core in-process: a temporary SQLite ledger, the real dry-run channel (or a scripted
network implementing the Channel interface), and a simulated clock."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.channels.base import Channel, Receipt
from scheduler.channels.dryrun import DryRunChannel
from scheduler.content.campaign import Campaign, load
from scheduler.errors import ChannelError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, LinkCard, MediaItem, RenderedPost
from scheduler.publish import payload
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.holds import Fate
from scheduler.publish.ledger import Actor, Ledger, Wanted
from scheduler.publish.publisher import Channels, PassResult, Policy, Publisher, rehearse
from scheduler.publish.states import Attempted, State
from scheduler.words import translator

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
POLICY = Policy(
    max_late=timedelta(hours=1), max_attempts=8, retry_base=timedelta(seconds=30), stale_after=timedelta(seconds=60)
)
GONE = "gone-host:1:dead"  # a worker on another host that stopped sending heartbeats
ANNA = Actor("anna", "laptop")


class Scripted(Channel):
    """A network that answers each publish with the next of its answers: an error to raise, or a receipt."""

    type_name = "scripted"

    def __init__(self, name: str, settings: Mapping[str, Any], answers: list[Receipt | ChannelError]) -> None:
        super().__init__(name, settings)
        self.answers = answers
        self.sent: list[str] = []

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LengthRule("characters", None, len))

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        answer = self.answers.pop(0)
        if isinstance(answer, ChannelError):
            raise answer
        self.sent.append(key)
        return answer


class Deduplicating(Scripted):
    """Like Mastodon: a resend with the same key within an hour cannot make a second post."""

    idempotent_for = 3600.0


class Replaced(Channels):
    """The campaign's channels (dry-run), with some of them replaced by scripted networks."""

    def __init__(self, campaign: Campaign, dry_run_dir: Path, replaced: Mapping[str, Channel]) -> None:
        super().__init__(campaign, dry_run_dir)
        self.replaced = replaced

    def get(self, name: str) -> Channel:
        return self.replaced.get(name) or super().get(name)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "channels.yml").write_text(
        "channels:\n  mastodon: {type: dryrun, like: mastodon}\n  bluesky: {type: dryrun, like: bluesky}\n",
        encoding="utf-8",
    )
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "_defaults.yml").write_text("campaign: T\ntimezone: UTC\nchannels: [mastodon]\n")
    return tmp_path


@pytest.fixture
def ledger(root: Path) -> Ledger:
    book = Ledger(f"sqlite:///{root / 'ledger.db'}")
    book.upgrade()
    return book


def want(post: str, due: datetime, channel: str = "mastodon", hold: str | None = None) -> Wanted:
    text = f"Tekst van {post}."
    return Wanted(
        post=post,
        channel=channel,
        path=f"posts/{post}.md",
        due=due,
        max_late=POLICY.max_late,
        version="v1",
        key=f"cs-{post}-{channel}",
        text_hash=f"{channel}:{text}",
        allow_repeat=False,
        payload=payload.encode(RenderedPost(post, channel, text)),
        hold=hold,
    )


def plan(ledger: Ledger, *wanted: Wanted) -> None:
    ledger.wanted.sync(wanted, lambda *_: Fate(State.CANCELLED, None), START)


def publisher(
    ledger: Ledger, root: Path, clock: SimulatedClock, worker: str = "here:0:a", **replaced: Channel
) -> Publisher:
    campaign, problems = load(root)
    assert not problems
    channels = Replaced(campaign, root, replaced)
    return Publisher(ledger, channels, Alerter(ledger), POLICY, worker, clock=clock)


def outbox(root: Path) -> list[dict[str, Any]]:
    path = root / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def state(ledger: Ledger, post: str) -> State:
    [row] = ledger.views.rows(post=post)
    return row.state


def test_a_due_send_goes_out_exactly_once_with_two_publishers_on_one_ledger(ledger: Ledger, root: Path) -> None:
    plan(ledger, *(want(f"p{i}", START + timedelta(minutes=i % 3)) for i in range(24)))
    clock = SimulatedClock(START + timedelta(minutes=5))
    both = [publisher(ledger, root, clock, f"here:{n}:w") for n in (1, 2)]
    results: list[PassResult] = []

    def run(sender: Publisher) -> None:
        results.append(sender.make_pass(workers=3))

    threads = [threading.Thread(target=run, args=(sender,)) for sender in both]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = Counter(r["post"] for r in outbox(root))
    assert sent == Counter({f"p{i}": 1 for i in range(24)})
    assert sorted(o.post for result in results for o in result.sent) == sorted(sent)
    assert {row.state for row in ledger.views.rows()} == {State.PUBLISHED}
    assert Counter(a.outcome for a in ledger.views.history()) == {Attempted.PUBLISHED: 24}


def test_a_pause_set_before_the_send_holds_it_until_resumed(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("a", START), want("b", START + timedelta(seconds=1), channel="bluesky"))
    clock = SimulatedClock(START + timedelta(minutes=1))
    sender = publisher(ledger, root, clock)
    claim = ledger.sends.claim(sender.worker, clock.now())  # claimed, then paused before the request leaves
    assert claim is not None and (claim.post, claim.channel) == ("a", "mastodon")
    ledger.operators.pause("mastodon", "stilte", clock.now(), ANNA)
    assert sender.deliver(claim).state == State.PENDING
    assert [o.post for o in sender.make_pass().sent] == ["b"]  # the channel that is not paused goes on
    assert [r["post"] for r in outbox(root)] == ["b"]
    assert state(ledger, "a") == State.PENDING
    assert [a.outcome for a in ledger.views.history("a")] == [Attempted.PAUSED]
    ledger.operators.resume(None, clock.now(), ANNA)
    assert [o.post for o in sender.make_pass().sent] == ["a"]
    assert Counter(r["post"] for r in outbox(root)) == {"a": 1, "b": 1}


def test_a_send_later_than_its_max_late_is_missed_and_alerted(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("late", START))
    clock = SimulatedClock(START + POLICY.max_late + timedelta(minutes=1))
    [outcome] = publisher(ledger, root, clock).make_pass().sent
    assert outcome.state == State.MISSED and "1 hour late" in outcome.detail
    assert outbox(root) == []
    assert [(a.kind, a.post) for a in ledger.alerts.latest()] == [("missed", "late")]


def test_settling_an_interrupted_send_is_never_missed(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("out", START))
    # A daemon elsewhere claimed it 50 minutes late, let the request leave, and died.
    claim = ledger.sends.claim(GONE, START + timedelta(minutes=50))
    assert claim is not None and ledger.sends.about_to_send(claim) is None
    network = Deduplicating("mastodon", {}, [Receipt("https://m.example/1", "1")])
    clock = SimulatedClock(START + timedelta(minutes=70))  # past max_late, inside the network's key window
    done = publisher(ledger, root, clock, mastodon=network).make_pass()
    [settled] = done.settled
    assert settled.state == State.RETRY and "deduplicates this key" in settled.detail
    assert [o.state for o in done.sent] == [State.PUBLISHED]
    assert network.sent == [claim.key]
    assert [a.outcome for a in ledger.views.history("out")] == [Attempted.RESEND, Attempted.PUBLISHED]
    assert [a.kind for a in ledger.alerts.latest()] == []


def test_retry_later_backs_off_30_s_60_s_and_honours_after(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("busy", START))
    answers: list[Receipt | ChannelError] = [
        RetryLater("503"),
        RetryLater("503"),
        RetryLater("503"),
        RetryLater("rate limited", after=600),
        Receipt("https://m.example/2", "2"),
    ]
    network = Scripted("mastodon", {}, answers)
    clock = SimulatedClock(START)
    sender = publisher(ledger, root, clock, mastodon=network)
    waits = []
    for _ in range(4):
        [outcome] = sender.make_pass().sent
        assert outcome.state == State.RETRY
        [row] = ledger.views.rows(post="busy")
        assert row.next_attempt_at is not None
        waits.append(row.next_attempt_at - clock.now())
        assert sender.make_pass().sent == []  # not before its time
        clock.set(row.next_attempt_at)
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 600)]
    assert [o.state for o in sender.make_pass().sent] == [State.PUBLISHED]
    assert ledger.views.rows(post="busy")[0].attempts == 5


def test_rejected_fails_at_once_with_an_alert(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("nee", START))
    network = Scripted("mastodon", {}, [Rejected("text too long")])
    [outcome] = publisher(ledger, root, SimulatedClock(START), mastodon=network).make_pass().sent
    assert (outcome.state, outcome.detail) == (State.FAILED, "text too long")
    assert ledger.views.rows(post="nee")[0].attempts == 1
    refused = translator("nl").gettext("refused by the network, so it is not sent: {reason}")  # the campaign's language
    assert [(a.kind, a.message) for a in ledger.alerts.latest()] == [("failed", refused.format(reason="text too long"))]


def test_in_doubt_without_a_lookup_or_key_window_waits_for_a_person(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("twijfel", START))
    network = Scripted("mastodon", {}, [InDoubt("the answer was lost")])
    [outcome] = publisher(ledger, root, SimulatedClock(START), mastodon=network).make_pass().sent
    assert outcome.state == State.IN_DOUBT and "campaign resolve" in outcome.detail
    assert [a.kind for a in ledger.alerts.latest()] == ["in_doubt"]


@pytest.mark.parametrize("was_out", [True, False])
def test_a_stale_claim_is_recovered_by_lookup_exactly_once(ledger: Ledger, root: Path, was_out: bool) -> None:
    plan(ledger, want("weg", START))
    claim = ledger.sends.claim(GONE, START)
    assert claim is not None and ledger.sends.about_to_send(claim) is None
    if was_out:  # the request reached the network before the worker died
        DryRunChannel("mastodon", {"outbox": str(root / "outbox.jsonl")}).publish(
            payload.decode(claim.payload, claim.post, claim.channel), claim.key
        )
    clock = SimulatedClock(START + timedelta(minutes=5))
    first, second = publisher(ledger, root, clock, "here:1:a"), publisher(ledger, root, clock, "here:2:b")
    one, two = first.make_pass(), second.make_pass()
    assert [o.state for o in one.settled] == [State.PUBLISHED if was_out else State.RETRY]
    assert two.settled == []
    assert len(one.sent) == (0 if was_out else 1) and two.sent == []
    assert [r["key"] for r in outbox(root)] == [claim.key]
    expected = [Attempted.SETTLED] if was_out else [Attempted.RETRY, Attempted.PUBLISHED]
    assert [a.outcome for a in ledger.views.history("weg")] == expected
    assert state(ledger, "weg") == State.PUBLISHED


def test_a_held_send_alerts_once_when_its_time_comes(ledger: Ledger, root: Path) -> None:
    reason = "held until fixed: posts/kapot.md:3: error: unknown key 'titel'"
    plan(ledger, want("kapot", START + timedelta(hours=1), hold=reason))
    clock = SimulatedClock(START)
    first, second = publisher(ledger, root, clock, "here:1:a"), publisher(ledger, root, clock, "here:2:b")
    assert first.make_pass().held == []  # not yet its time
    clock.advance(timedelta(hours=1))
    [held] = first.make_pass().held
    assert held.state == State.HELD and "posts/kapot.md:3" in held.detail
    assert second.make_pass().held == [] and first.make_pass().held == []
    assert [(a.kind, a.post) for a in ledger.alerts.latest()] == [("held", "kapot")]
    assert outbox(root) == []


def test_a_rehearsal_over_a_simulated_year_publishes_everything_in_simulated_time(ledger: Ledger, root: Path) -> None:
    dues = {f"w{week:02}": START + timedelta(weeks=week, hours=week % 5) for week in range(0, 52, 2)}
    plan(ledger, *(want(post, due) for post, due in dues.items()))
    clock = SimulatedClock(START)
    outcomes = list(rehearse(publisher(ledger, root, clock, "rehearsal"), clock))
    assert [(o.post, o.state, o.at) for o in outcomes] == [(p, State.PUBLISHED, due) for p, due in dues.items()]
    assert {r["post"]: datetime.fromisoformat(r["published_at"]) for r in outbox(root)} == dues
    assert {r.post: r.published_at for r in ledger.views.rows()} == dues
    assert clock.now() == dues["w50"]


def test_a_rehearsal_stops_before_its_end(ledger: Ledger, root: Path) -> None:
    plan(ledger, want("in", START), want("out", START + timedelta(days=2)))
    clock = SimulatedClock(START)
    outcomes = list(rehearse(publisher(ledger, root, clock, "rehearsal"), clock, START + timedelta(days=1)))
    assert [o.post for o in outcomes] == ["in"]
    assert state(ledger, "out") == State.PENDING


def test_the_payload_codec_round_trips_a_rendered_post() -> None:
    post = RenderedPost(
        post="week/een",
        channel="mastodon",
        text="Hallo — wereld #één",
        media=(MediaItem(Path("/c/media/a.png"), "een foto"), MediaItem(Path("/c/media/b.jpg"), "")),
        language="en",
        card=LinkCard(title="Titel", description=None),
        title="Een titel",
    )
    stored = payload.encode(post)
    assert payload.decode(stored, post.post, post.channel) == post
    assert payload.encode(payload.decode(stored, post.post, post.channel)) == stored
    bare = RenderedPost("p", "bluesky", "kort")
    assert payload.decode(payload.encode(bare), "p", "bluesky") == bare
