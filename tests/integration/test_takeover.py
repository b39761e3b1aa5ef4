"""When a daemon is stopped mid-send (SIGSTOP, a frozen VM) and another takes its send over, what the
ledger says stays true once the stopped one resumes: in-process publishers on one real ledger (a
SQLite file, and PostgreSQL), a network both of them post to, and the stopped daemon's request held
inside that network until the test lets its answer go."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.channels.base import Channel, Receipt
from scheduler.content.campaign import load
from scheduler.content.plan import build
from scheduler.errors import RetryLater
from scheduler.posts import LengthRule, Limits, RenderedPost
from scheduler.publish import payload
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.holds import Fate
from scheduler.publish.ledger import Ledger, Wanted, database_url
from scheduler.publish.publisher import Channels, PassResult, Policy, Publisher
from scheduler.publish.states import Attempted, State
from scheduler.results.collector import Collector, Config
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.integration.daemon_helpers import write

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
POLICY = Policy(
    max_late=timedelta(hours=1), max_attempts=8, retry_base=timedelta(seconds=30), stale_after=timedelta(seconds=20)
)
STOPPED, TAKER = "host-a:101:stopped", "host-b:202:taker"  # daemons on two other hosts: heartbeats tell
WAIT = 60.0  # generous: CI runs on two busy cores
PARTS = ("Eerste deel. 1/3", "Tweede deel. 2/3", "Derde deel. 3/3")


@dataclass
class Service:
    """One network both daemons post to: a post is made when its request arrives. The first request
    is held there, its answer not given, until `answer` is set (its daemon is stopped meanwhile)."""

    dedup: bool = False  # a resend with the same key gives the same post back (Mastodon's Idempotency-Key)
    refuse_first: bool = False  # the held request is answered 503: nothing was made
    posts: dict[str, Receipt] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    answer: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    looking: threading.Event = field(default_factory=threading.Event)  # a lookup began (Looking)
    recorded: threading.Event = field(default_factory=threading.Event)  # let the lookup fail (Looking)

    def publish(self, key: str) -> Receipt:
        with self.lock:
            first = not self.keys
            self.keys.append(key)
            made: Receipt | None = None
            if self.dedup and key in self.posts:
                made = self.posts[key]
            elif not (self.refuse_first and first):
                n = len(self.posts) + 1
                made = Receipt(f"https://net.example/p/{n}", f"id{n}")
                self.posts[f"{key}#{n}" if key in self.posts else key] = made
        if first:
            self.arrived.set()
            assert self.answer.wait(WAIT), "the test never let the held answer go"
        if made is None:
            raise RetryLater("HTTP 503")
        return made


class Adapter(Channel):
    """A daemon's adapter for the Service: no lookup; threads as replies (like X)."""

    type_name = "scripted"

    def __init__(self, name: str, settings: Mapping[str, Any], service: Service) -> None:
        super().__init__(name, settings)
        self.service = service

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LengthRule("characters", 20, len), replies=True)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        return self.service.publish(key)


class Deduplicating(Adapter):
    idempotent_for = 3600.0


class Looking(Adapter):
    """Can look a post up; the lookup fails, once the stopped daemon has recorded its part meanwhile."""

    can_lookup = True

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        self.service.looking.set()
        assert self.service.recorded.wait(WAIT)
        raise RetryLater("the search timed out")


def test_a_part_recorded_out_while_the_taker_looked_it_up_is_not_left_in_doubt(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([thread()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))
    taker = Publisher(theirs, Using(root, service, Looking), Alerter(theirs), POLICY, TAKER, clock=clock)
    settled: list[Any] = []
    looking = threading.Thread(target=lambda: settled.extend(taker.recover(clock.now())))
    looking.start()
    assert service.looking.wait(WAIT)

    resume(runner, service)  # part 1 is recorded out while the taker still looks for it
    service.recorded.set()
    looking.join(WAIT)

    [row] = theirs.views.rows(post="draad")
    assert row.state == State.RETRY  # not in doubt: the thread goes on with part 2
    assert "no part is out" not in (row.reason or "") and "https://net.example/p/1" in (row.reason or "")
    assert theirs.alerts.latest() == []
    clock.set(START + timedelta(minutes=3))
    [done] = taker.make_pass().sent
    assert done.state == State.PUBLISHED and service.keys == ["cs-draad-1", "cs-draad-2", "cs-draad-3"]


def test_a_send_whose_taker_stopped_too_is_settled_by_a_third_daemon_after_the_first_came_back(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([single()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(refuse_first=True), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))
    [stale] = theirs.sends.stale_claims(clock.now(), TAKER, POLICY.stale_after)
    assert theirs.sends.take_over(stale, TAKER, clock.now()) is not None  # then the taker stopped as well
    resume(runner, service)  # the first comes back with its 503: the send is the taker's
    clock.set(START + timedelta(minutes=4))
    third = daemon(theirs, root, service, "host-c:303:third", clock)
    [settled] = third.recover(clock.now())
    assert settled.state == State.IN_DOUBT  # no lookup on this network: a person checks
    [row] = theirs.views.rows(post="p")
    assert row.state == State.IN_DOUBT and row.claimed_by is None
    history = theirs.views.history("p")
    assert sorted(a.outcome for a in history) == [Attempted.IN_DOUBT, Attempted.LATE]
    assert "HTTP 503" in (next(a for a in history if a.outcome == Attempted.LATE).detail or "")


def test_a_post_the_stopped_daemon_got_out_while_the_taker_was_still_settling_is_published_once(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([single()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))
    [stale] = theirs.sends.stale_claims(clock.now(), TAKER, POLICY.stale_after)
    taken = theirs.sends.take_over(stale, TAKER, clock.now())
    assert taken is not None

    resume(runner, service)  # while the taker is still finding out

    taker = daemon(theirs, root, service, TAKER, clock)
    taker.settle_doubt(taken, clock.now(), "the daemon stopped while sending")  # its guess comes too late
    [row] = theirs.views.rows(post="p")
    assert (row.state, row.receipt_url) == (State.PUBLISHED, "https://net.example/p/1")
    history = theirs.views.history("p")
    assert [(a.outcome, a.worker) for a in history] == [(Attempted.PUBLISHED, STOPPED), (Attempted.LATE, TAKER)]
    assert theirs.alerts.latest() == []


class Slow(Adapter):
    """Holds every send until the service's `answer` is set: a long pass."""

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        assert self.service.answer.wait(WAIT)
        return Receipt(f"https://net.example/{key}", key)


class Using(Channels):
    """A daemon's channels: each an adapter of `kind` on the one service."""

    def __init__(self, root: Path, service: Service, kind: type[Adapter] | None = None) -> None:
        campaign, problems = load(root)
        assert not problems
        super().__init__(campaign, root)
        self.service = service
        self.kind = kind or (Deduplicating if service.dedup else Adapter)

    def get(self, name: str) -> Channel:
        return self.kind(name, {}, self.service)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "channels.yml").write_text("channels:\n  x: {type: dryrun, like: x}\n", encoding="utf-8")
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "_defaults.yml").write_text("campaign: T\ntimezone: UTC\nchannels: [x]\n")
    return tmp_path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, root: Path) -> str:
    given = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return database_url(given, root)


@pytest.fixture
def books(url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """The two daemons' connections to one ledger."""
    first, second = Ledger(url), Ledger(url)
    first.upgrade()
    yield first, second
    first.close()
    second.close()


def wanted(post: str, rendered: RenderedPost) -> Wanted:
    return Wanted(
        post=post,
        channel="x",
        path=f"posts/{post}.md",
        due=START,
        max_late=POLICY.max_late,
        version="v1",
        key=f"cs-{post}",
        text_hash=f"x:{rendered.text}",
        allow_repeat=False,
        payload=payload.encode(rendered),
    )


def single(post: str = "p") -> Wanted:
    return wanted(post, RenderedPost(post, "x", "Eén bericht."))


def thread(post: str = "draad") -> Wanted:
    return wanted(post, RenderedPost(post, "x", PARTS[0], parts=PARTS))


def daemon(book: Ledger, root: Path, service: Service, worker: str, clock: SimulatedClock) -> Publisher:
    return Publisher(book, Using(root, service), Alerter(book), POLICY, worker, clock=clock)


def stopped_mid_send(
    book: Ledger, root: Path, service: Service, clock: SimulatedClock
) -> tuple[threading.Thread, list[PassResult]]:
    """The first daemon's pass, its request held in the network (as if it were stopped there); once
    resumed, it claims nothing more (what is checked is what it records of that one send)."""
    stopped, last = daemon(book, root, service, STOPPED, clock), threading.Event()
    results: list[PassResult] = []
    runner = threading.Thread(target=lambda: results.append(stopped.make_pass(stop=last)))
    runner.start()
    assert service.arrived.wait(WAIT)
    last.set()
    return runner, results


def resume(runner: threading.Thread, service: Service) -> None:
    service.answer.set()
    runner.join(WAIT)
    assert not runner.is_alive()


def test_a_post_the_stopped_daemon_got_out_settles_the_takers_doubt_without_rewriting_it(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([single()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))  # no heartbeat for longer than stale_after
    taker = daemon(theirs, root, service, TAKER, clock)
    [doubt] = taker.recover(clock.now())
    assert doubt.state == State.IN_DOUBT
    before = theirs.views.history("p")
    assert [a.outcome for a in before] == [Attempted.IN_DOUBT]

    resume(runner, service)

    history = theirs.views.history("p")
    assert history[0] == before[0]  # the taker's record stands as it wrote it
    assert [a.outcome for a in history].count(Attempted.PUBLISHED) == 1
    assert history[-1].outcome == Attempted.PUBLISHED and "https://net.example/p/1" in (history[-1].detail or "")
    [row] = theirs.views.rows(post="p")
    assert (row.state, row.receipt_url, row.claimed_by) == (State.PUBLISHED, "https://net.example/p/1", None)
    assert len(service.posts) == 1


def test_a_refused_request_of_the_stopped_daemon_leaves_the_takers_doubt_as_it_wrote_it(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([single()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(refuse_first=True), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))
    daemon(theirs, root, service, TAKER, clock).recover(clock.now())
    before = theirs.views.history("p")

    resume(runner, service)

    history = theirs.views.history("p")
    assert history[0] == before[0] and history[0].outcome == Attempted.IN_DOUBT
    assert [a.outcome for a in history] == [Attempted.IN_DOUBT, Attempted.LATE]
    assert "HTTP 503" in (history[1].detail or "") and history[1].worker == STOPPED
    [row] = theirs.views.rows(post="p")
    assert row.state == State.IN_DOUBT and "HTTP 503" not in (row.reason or "")


def test_a_resend_that_settled_the_stopped_daemons_post_is_the_one_published_line(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([single()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(dedup=True), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))
    taker = daemon(theirs, root, service, TAKER, clock)
    result = taker.make_pass()  # resent with the same key: the network gives the same post back
    assert [o.state for o in result.settled] == [State.RETRY]
    assert [o.state for o in result.sent] == [State.PUBLISHED]
    before = theirs.views.history("p")

    resume(runner, service)

    history = theirs.views.history("p")
    assert history[: len(before)] == before
    assert [a.outcome for a in history] == [Attempted.RESEND, Attempted.PUBLISHED, Attempted.LATE]
    assert len(service.posts) == 1
    assert theirs.alerts.latest() == []  # one post on the network: nothing to delete


def test_a_thread_part_the_stopped_daemon_got_out_is_what_its_send_shows_and_the_thread_goes_on(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([thread()], lambda *_: Fate(State.CANCELLED, None), START)
    service, clock = Service(), SimulatedClock(START)
    runner, _ = stopped_mid_send(mine, root, service, clock)
    clock.set(START + timedelta(minutes=2))
    taker = daemon(theirs, root, service, TAKER, clock)
    [doubt] = taker.recover(clock.now())
    assert doubt.state == State.IN_DOUBT and "no part is out" in doubt.detail
    before = theirs.views.history("draad")

    resume(runner, service)

    [row] = theirs.views.rows(post="draad")
    parts = theirs.threads.thread_parts(row.id)
    assert [(p.part, p.url) for p in parts] == [(1, "https://net.example/p/1")]
    assert "no part is out" not in (row.reason or "") and "https://net.example/p/1" in (row.reason or "")
    assert row.state == State.RETRY
    assert theirs.views.history("draad")[: len(before)] == before
    clock.set(START + timedelta(minutes=3))
    [done] = taker.make_pass().sent  # the thread goes on with part 2, never part 1 again
    assert done.state == State.PUBLISHED and done.url == "https://net.example/p/1"
    assert service.keys == ["cs-draad-1", "cs-draad-2", "cs-draad-3"]


def test_a_send_left_by_a_stopped_daemon_is_taken_over_during_a_long_pass(
    books: tuple[Ledger, Ledger], root: Path
) -> None:
    mine, theirs = books
    mine.wanted.sync([single("left"), single("slow")], lambda *_: Fate(State.CANCELLED, None), START)
    clock = SimulatedClock(START)
    left = theirs.sends.claim(STOPPED, clock.now())  # claimed, its request gone out, then the daemon stopped
    assert left is not None and left.post == "left" and theirs.sends.about_to_send(left) is None
    policy = Policy(POLICY.max_late, POLICY.max_attempts, POLICY.retry_base, timedelta(seconds=2))
    service = Service()
    live = Publisher(mine, Using(root, service, Slow), Alerter(mine), policy, TAKER, clock=clock)
    results: list[PassResult] = []
    runner = threading.Thread(target=lambda: results.append(live.make_pass()))
    runner.start()
    try:
        assert wait_for(lambda: state_of(mine, "slow") == State.SENDING)
        clock.set(START + timedelta(minutes=1))  # the stopped daemon's claim is stale now
        assert wait_for(lambda: state_of(mine, "left") != State.SENDING), "not taken over while the pass sends"
        assert state_of(mine, "slow") == State.SENDING  # the pass is still sending
    finally:
        service.answer.set()
        runner.join(WAIT)
    [result] = results
    assert [(o.post, o.state) for o in result.settled] == [("left", State.IN_DOUBT)]
    assert [(o.post, o.state) for o in result.sent] == [("slow", State.PUBLISHED)]


def state_of(book: Ledger, post: str) -> State:
    [row] = book.views.rows(post=post)
    return row.state


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return True
        done.wait(0.05)
    return bool(condition())


# ---------------------------------------------------------------------------- replies


def test_two_collectors_reading_replies_at_once_never_fail_and_read_each_post_once(
    url: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    with FakeMastodon() as masto:
        channels = f"channels:\n  masto: {{type: mastodon, instance: '{masto.url}', token: '${{MASTODON_TOKEN}}'}}\n"
        posts = {f"p{i:02}": (START, f"Bericht nummer {i}.") for i in range(30)}
        write(root, posts, channels=channels, default_channels="[masto]")
        book = Ledger(url)
        book.upgrade()
        clock = SimulatedClock(START)
        campaign, _ = load(root)
        sender = Publisher(book, Channels(campaign), Alerter(book), POLICY, "sender", clock=clock)
        sender.sync(build(root), START)
        assert len(sender.make_pass().sent) == 30
        ids = [row.remote_id for row in book.views.rows()]
        for status in ids[::3]:
            masto.add_reply(status or "", "kim@elders.example", "Goed dat jullie dit doen.")
        books = [Ledger(url) for _ in range(2)]
        config = Config((timedelta(days=7),), timedelta(days=14))
        collectors = [Collector(b, Channels(campaign), Alerter(b), clock, root, config) for b in books]
        start, errors = threading.Barrier(2), []
        clock.set(START + timedelta(minutes=10))

        def collect(collector: Collector) -> None:
            start.wait()
            try:
                collector.collect()
            except Exception as exc:
                import traceback

                traceback.print_exc()
                errors.append(exc)

        runners = [threading.Thread(target=collect, args=(c,)) for c in collectors]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(WAIT)
        reads = Counter(r.path for r in masto.requests if r.method == "GET" and r.path.endswith("/context"))
        for b in [book, *books]:
            b.close()
    assert errors == []
    assert reads == {f"/api/v1/statuses/{status}/context": 1 for status in ids}
    again = Ledger(url)
    try:
        assert len(again.replies.stored_replies()) == 10
    finally:
        again.close()
