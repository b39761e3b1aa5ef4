"""Links offline: which URLs a post has and where they are written, what a send's links mean for it,
and that a send held for a dead link stays held until it changes."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest

from scheduler.channels.base import Receipt
from scheduler.content import plan as plan_file
from scheduler.errors import RetryLater
from scheduler.links.checker import Checker, Kind, Result
from scheduler.links.found import Places, urls_of
from scheduler.links.gate import Gate
from scheduler.links.transport import public
from scheduler.posts import RenderedPost
from scheduler.publish import holds, payload
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger
from scheduler.publish.states import State
from tests.builders import write_campaign
from tests.unit.test_publish_core import GONE, START, Deduplicating, ledger, plan, publisher, root, want
from tests.unit.test_thread_publish import Replying, receipts, thread

__all__ = ["ledger", "root"]  # the fixtures
P = ParamSpec("P")
T = TypeVar("T")


class Answers(Checker):
    """A checker that knows its answers: no network."""

    def __init__(self, kinds: dict[str, Kind]) -> None:
        super().__init__()
        self.kinds = kinds
        self.asked: list[str] = []

    def check(self, urls: Iterable[str], budget: float | None = None) -> dict[str, Result]:
        wanted = list(dict.fromkeys(urls))
        self.asked += wanted
        return {u: Result(u, self.kinds[u], "404 Not Found" if self.kinds[u] is Kind.DEAD else "x") for u in wanted}


def test_a_threads_links_are_found_in_every_part_once() -> None:
    post = RenderedPost(
        "p", "x", "a", parts=("Zie https://a.nl/1 en www.b.nl", "Dan https://a.nl/1). En http://c.nl/2.")
    )
    assert urls_of(post) == ["https://a.nl/1", "http://c.nl/2"]  # without a scheme it is not fetched


def test_a_link_is_placed_on_its_line_else_in_the_defaults_it_came_from(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path,
        {
            "a.md": "---\npublish_at: 2027-11-15 09:00\n---\nEerst tekst.\n\nLees https://a.nl/x\n",
            "b.md": "---\npublish_at: 2027-11-16 09:00\n---\nLees {{ vars.site }}/y\n",
        },
        defaults="campaign: T\ntimezone: UTC\nchannels: [mastodon]\nvars:\n  site: https://b.nl\n",
    )
    plan = plan_file.build(root)
    drafts = {d.id: d for d in plan.drafts}
    places = Places(root)
    assert places.of(drafts["a"], "https://a.nl/x") == ("posts/a.md", 6)
    assert places.of(drafts["b"], "https://b.nl") == ("posts/_defaults.yml", 5)
    assert places.of(drafts["b"], "https://b.nl/y") == ("posts/b.md", 4)  # put together by the template


def test_link_check_is_stored_with_the_send_only_when_it_is_not_the_default() -> None:
    post = RenderedPost("p", "x", "Tekst")
    assert "link_check" not in payload.encode(post)  # versions of existing sends stay as they were
    warned = RenderedPost("p", "x", "Tekst", link_check="warn")
    assert payload.decode(payload.encode(warned), "p", "x").link_check == "warn"


def test_the_gate_holds_warns_or_lets_go() -> None:
    kinds = {"https://a.nl/dood": Kind.DEAD, "https://a.nl/traag": Kind.FAILING, "https://a.nl/goed": Kind.OK}
    checker = Answers(kinds)
    gate = Gate(checker)
    dead = gate.before_send(RenderedPost("p", "x", "https://a.nl/dood https://a.nl/goed"))
    assert dead.hold == "link https://a.nl/dood is dead (404 Not Found)" and dead.alert is None
    warned = gate.before_send(RenderedPost("p", "x", "https://a.nl/dood", link_check="warn"))
    assert warned.hold is None and warned.alert is not None and "goes out anyway" in warned.alert
    slow = gate.before_send(RenderedPost("p", "x", "https://a.nl/traag"))
    assert (
        slow.hold is None
        and slow.alert is None
        and slow.notes == ("link https://a.nl/traag could not be checked: x; it goes out anyway",)
    )
    asked = len(checker.asked)
    assert gate.before_send(RenderedPost("p", "x", "https://a.nl/dood", link_check="off")) == type(dead)()
    assert len(checker.asked) == asked  # off fetches nothing


def test_a_link_inside_this_network_is_noted_and_the_send_goes() -> None:
    inside = "https://intern.a.nl/x"
    verdict = Gate(Answers({inside: Kind.REFUSED})).before_send(RenderedPost("p", "x", inside))
    assert verdict.hold is None and verdict.alert is None
    assert verdict.notes == (f"link {inside} x; it goes out anyway",)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_an_address_that_is_not_public_is_refused(address: str) -> None:
    assert not public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "145.100.10.1", "2001:4860:4860::8888", "2a00:1450:400e::200e"])
def test_a_public_address_is_fetched(address: str) -> None:
    assert public(ipaddress.ip_address(address))


def test_a_link_hold_stays_until_the_send_changes() -> None:
    reason = holds.link_hold("link https://a.nl/x is dead (404 Not Found)")
    assert holds.present(State.HELD, reason, changed=False, hold=None) == holds.Fate(State.HELD, reason)
    assert holds.present(State.HELD, reason, changed=True, hold=None) == holds.Fate(State.PENDING, None)
    other = "held until fixed: posts/a.md:2: error: x"
    assert holds.present(State.HELD, other, changed=False, hold=None) == holds.Fate(State.PENDING, None)


DEAD = "https://a.nl/weg"


def test_a_thread_begun_is_finished_whatever_its_links(ledger: Ledger, root: Path) -> None:
    parts = ("Eerste deel. 1/2", f"Lees {DEAD} 2/2")
    rendered = RenderedPost("verhaal", "mastodon", parts[0], parts=parts)
    plan(ledger, replace(thread(), payload=payload.encode(rendered), text_hash="t"))
    network = Replying("mastodon", {}, receipts(2))
    clock = SimulatedClock(START)
    claim = ledger.sends.claim(GONE, clock.now())  # a worker that got part 1 out, then died
    assert claim is not None and ledger.sends.about_to_send(claim) is None
    assert ledger.threads.part_sending(claim, 1, f"{claim.key}-1", clock.now())
    network.publish(RenderedPost("verhaal", "mastodon", parts[0]), f"{claim.key}-1")
    ledger.threads.part_published(claim, 1, clock.now(), remote_id="id1", cid=None, url="u1")
    clock.set(START + timedelta(minutes=5))
    sender = publisher(ledger, root, clock, mastodon=network)
    sender.links = Gate(Answers({DEAD: Kind.DEAD}))
    result = sender.make_pass()
    assert [o.state for o in result.sent] == [State.PUBLISHED]
    assert network.sent == [f"{claim.key}-1", f"{claim.key}-2"]
    assert sender.links.checker.asked == []  # type: ignore[attr-defined]


def test_a_resend_that_settles_a_send_that_may_be_out_is_never_held(ledger: Ledger, root: Path) -> None:
    rendered = RenderedPost("uit", "mastodon", f"Lees {DEAD}")
    plan(ledger, replace(want("uit", START), payload=payload.encode(rendered)))
    claim = ledger.sends.claim(GONE, START)  # its request left, then its worker died
    assert claim is not None and ledger.sends.about_to_send(claim) is None
    network = Deduplicating("mastodon", {}, [Receipt("https://m.example/1", "1")])
    sender = publisher(ledger, root, SimulatedClock(START + timedelta(minutes=5)), mastodon=network)
    sender.links = Gate(Answers({DEAD: Kind.DEAD}))
    assert [o.state for o in sender.make_pass().sent] == [State.PUBLISHED]
    assert network.sent == [claim.key]


def test_warn_alerts_a_dead_link_once_not_at_every_retry(ledger: Ledger, root: Path) -> None:
    rendered = RenderedPost("w", "mastodon", f"Lees {DEAD}", link_check="warn")
    plan(ledger, replace(want("w", START), payload=payload.encode(rendered)))
    network = Deduplicating("mastodon", {}, [RetryLater("503"), Receipt("https://m.example/1", "1")])
    clock = SimulatedClock(START)
    sender = publisher(ledger, root, clock, mastodon=network)
    sender.links = Gate(Answers({DEAD: Kind.DEAD}))
    assert [o.state for o in sender.make_pass().sent] == [State.RETRY]
    clock.advance(timedelta(minutes=1))
    assert [o.state for o in sender.make_pass().sent] == [State.PUBLISHED]
    assert [a.kind for a in ledger.alerts.latest()] == ["link"]


class _AtOnce(ThreadPoolExecutor):
    """A pool whose fetches are done before `submit` returns: the order a loaded machine can give."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class _Instant(Checker):
    def _fetch(self, url: str, limit: float, until: float) -> Result:
        return Result(url, Kind.OK, "200 OK", status=200)


def test_a_fetch_done_before_the_checker_looks_again_is_taken_and_remembered() -> None:
    # The checker once added its callback while holding its lock; a fetch that had already ended
    # ran the callback at once, which waited for that lock: a send hung for ever.
    checker = _Instant(timeout=1.0, remember=60.0)
    checker._pool = _AtOnce()
    try:
        first = checker.check(["https://site.example.nl/a", "https://site.example.nl/a"], budget=1.0)
        again = checker.check(["https://site.example.nl/a"], budget=1.0)
    finally:
        checker.close()
    assert first["https://site.example.nl/a"].kind is Kind.OK
    assert again["https://site.example.nl/a"].kind is Kind.OK
    assert checker.fetched == 1  # the second check took it from memory
