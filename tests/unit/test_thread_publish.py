"""Threads in the publish core: each part once, in order, a reply to the one before; resumed after a
crash with the next part; stopped and alerted when a part fails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from scheduler.channels.base import Receipt
from scheduler.errors import ChannelError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, RenderedPost
from scheduler.publish import payload
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger, Wanted
from scheduler.publish.states import State
from scheduler.words import translator
from tests.unit.test_publish_core import GONE, POLICY, START, Scripted, ledger, outbox, plan, publisher, root

__all__ = ["ledger", "root"]  # the fixtures

PARTS = ("Eerste deel. 1/3", "Tweede deel. 2/3", "Derde deel. 3/3")


class Replying(Scripted):
    """A scripted network with replies: it records what each part answered."""

    def __init__(self, name: str, settings: Mapping[str, Any], answers: list[Receipt | ChannelError]) -> None:
        super().__init__(name, settings, answers)
        self.replies: list[tuple[str, str | None, str | None]] = []

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LengthRule("characters", 20, len), replies=True)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        assert not post.parts  # each part goes as one post
        receipt = super().publish(post, key, reply_to)
        root = None if reply_to is None else (reply_to.root or reply_to)
        answered = None if reply_to is None else reply_to.remote_id
        self.replies.append((post.text, answered, None if root is None else root.remote_id))
        return receipt


class DeduplicatingReplies(Replying):
    idempotent_for = 3600.0


def thread(post: str = "verhaal", channel: str = "mastodon") -> Wanted:
    rendered = RenderedPost(post, channel, PARTS[0], parts=PARTS)
    return Wanted(
        post=post,
        channel=channel,
        path=f"posts/{post}.md",
        due=START,
        max_late=POLICY.max_late,
        version="v1",
        key=f"cs-{post}",
        text_hash=f"{channel}:{PARTS[0]}",
        allow_repeat=False,
        payload=payload.encode(rendered),
        hold=None,
    )


def receipts(n: int) -> list[Receipt | ChannelError]:
    return [Receipt(f"https://net/p/{i}", f"id{i}") for i in range(1, n + 1)]


def test_each_part_goes_once_in_order_as_a_reply_to_the_one_before(ledger: Ledger, root: Path) -> None:
    plan(ledger, thread())
    network = Replying("mastodon", {}, receipts(3))
    clock = SimulatedClock(START)
    [outcome] = publisher(ledger, root, clock, mastodon=network).make_pass().sent
    assert outcome.state == State.PUBLISHED and outcome.url == "https://net/p/1"  # the first part's
    assert network.sent == ["cs-verhaal-1", "cs-verhaal-2", "cs-verhaal-3"]
    assert network.replies == [(PARTS[0], None, None), (PARTS[1], "id1", "id1"), (PARTS[2], "id2", "id1")]
    assert [(p.part, p.remote_id) for p in ledger.threads.thread_parts(ledger.views.rows()[0].id)] == [
        (1, "id1"),
        (2, "id2"),
        (3, "id3"),
    ]


def test_the_dry_run_outbox_has_each_part_with_what_it_answers(ledger: Ledger, root: Path) -> None:
    plan(ledger, thread())
    publisher(ledger, root, SimulatedClock(START)).make_pass()
    lines = outbox(root)
    assert [line["text"] for line in lines] == list(PARTS)
    assert [line.get("reply_to") for line in lines] == [None, "cs-verhaal-1", "cs-verhaal-2"]


def test_a_refused_part_stops_the_thread_and_alerts_with_the_parts_out(ledger: Ledger, root: Path) -> None:
    plan(ledger, thread())
    network = Replying("mastodon", {}, [*receipts(1), Rejected("too many replies")])
    [outcome] = publisher(ledger, root, SimulatedClock(START), mastodon=network).make_pass().sent
    assert outcome.state == State.FAILED
    assert "part 2/3" in outcome.detail and "https://net/p/1" in outcome.detail
    assert network.sent == ["cs-verhaal-1"]
    [alert] = ledger.alerts.latest()
    refused = translator("nl").gettext("part {number}/{total} was refused, so the thread stops: {reason}{parts}")
    assert alert.kind == "failed" and refused.split("{reason}")[0].format(number=2, total=3) in alert.message  # Dutch
    assert "too many replies" in alert.message and "https://net/p/1" in alert.message


def test_an_answer_lost_mid_thread_on_a_deduplicating_network_resends_that_part_only(
    ledger: Ledger, root: Path
) -> None:
    plan(ledger, thread())
    network = DeduplicatingReplies("mastodon", {}, [*receipts(1), InDoubt("no answer"), *receipts(3)[1:]])
    clock = SimulatedClock(START)
    sender = publisher(ledger, root, clock, mastodon=network)
    sent = sender.make_pass().sent
    assert [o.state for o in sent] == [State.RETRY, State.PUBLISHED]  # resent at once, with the same key
    assert "deduplicates" in sent[0].detail
    assert network.sent == ["cs-verhaal-1", "cs-verhaal-2", "cs-verhaal-3"]  # part 1 never again


def test_a_crash_after_part_two_resumes_with_part_three(ledger: Ledger, root: Path) -> None:
    plan(ledger, thread())
    network = Replying("mastodon", {}, receipts(3))
    clock = SimulatedClock(START)
    dead = publisher(ledger, root, clock, GONE, mastodon=network)
    claim = ledger.sends.claim(dead.worker, clock.now())
    assert claim is not None and ledger.sends.about_to_send(claim) is None
    post = payload.decode(claim.payload, claim.post, claim.channel)
    for number in (1, 2):  # what the dead worker got out before it died
        key = f"{claim.key}-{number}"
        assert ledger.threads.part_sending(claim, number, key, clock.now())
        network.publish(dead_part(post, number), key)
        ledger.threads.part_published(claim, number, clock.now(), remote_id=f"id{number}", cid=None, url=f"u{number}")
    clock.set(START + timedelta(minutes=5))
    sender = publisher(ledger, root, clock, mastodon=network)
    result = sender.make_pass()
    assert [o.state for o in result.settled] == [State.RETRY]
    assert "resumes with part 3/3" in result.settled[0].detail
    assert ledger.views.rows()[0].state == State.PUBLISHED and ledger.views.rows()[0].receipt_url == "u1"
    assert network.sent == ["cs-verhaal-1", "cs-verhaal-2", "cs-verhaal-3"]
    assert network.replies[-1] == (PARTS[2], "id2", "id1")


def dead_part(post: RenderedPost, number: int) -> RenderedPost:
    from scheduler.publish.threads import part_post

    return part_post(post, number)


def test_a_part_that_may_be_out_on_a_network_without_lookup_is_in_doubt_never_resent(
    ledger: Ledger, root: Path
) -> None:
    plan(ledger, thread())
    network = Replying("mastodon", {}, [*receipts(1), InDoubt("connection reset")])
    [outcome] = publisher(ledger, root, SimulatedClock(START), mastodon=network).make_pass().sent
    assert outcome.state == State.IN_DOUBT
    assert "part 2/3" in outcome.detail and "parts out: 1" in outcome.detail
    assert network.sent == ["cs-verhaal-1"]


def test_a_thread_whose_text_changed_after_a_part_went_out_stops_and_alerts(ledger: Ledger, root: Path) -> None:
    plan(ledger, thread())
    network = Replying("mastodon", {}, [*receipts(1), RetryLater("busy", 60)])
    clock = SimulatedClock(START)
    sender = publisher(ledger, root, clock, mastodon=network)
    assert [o.state for o in sender.make_pass().sent] == [State.RETRY]
    changed = replace(thread(), version="v2", key="cs-verhaal-v2")
    plan(ledger, changed)
    clock.set(START + timedelta(minutes=2))
    [outcome] = sender.make_pass().sent
    assert outcome.state == State.FAILED and "changed after part of its thread went out" in outcome.detail
    assert network.sent == ["cs-verhaal-1"]
    assert [a.kind for a in ledger.alerts.latest()] == ["failed"]
