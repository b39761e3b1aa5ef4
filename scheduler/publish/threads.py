"""Threads: each part sent as a reply to the one before and recorded before the next leaves, so a
stop resumes with the next part and never sends one twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from scheduler.channels.base import Channel, Receipt
from scheduler.errors import ChannelError, InDoubt, LedgerUnavailable, Rejected, RetryLater
from scheduler.posts import RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.policy import Outcome
from scheduler.publish.settling import Settler
from scheduler.publish.states import Attempted, State
from scheduler.publish.store.sends import Claim
from scheduler.publish.store.threads import Part, parts_out
from scheduler.words import N_, Said

log = logging.getLogger("scheduler.publish.publisher")


class ThreadSender:
    """Sends threads part by part, and settles one interrupted mid-send."""

    def __init__(
        self,
        ledger: Ledger,
        settler: Settler,
        doubt_later: Callable[[Claim, datetime, str], Outcome],
        crash_if: Callable[[str], None],
    ) -> None:
        """`doubt_later`: settle a part that may be out (scheduler.publish.recovery); `crash_if`: the
        fault injection of the crash tests."""
        self.ledger, self.settler, self.doubt_later, self.crash_if = ledger, settler, doubt_later, crash_if

    def send(self, claim: Claim, channel: Channel, post: RenderedPost) -> Outcome:
        """Send a thread's parts not yet out, each a reply to the one before, recording each before
        the next leaves: a crash resumes with the next part and never sends one twice."""
        total = len(post.parts)
        parts = self.ledger.threads.thread_parts(claim.id)
        if changed := self._changed_mid_thread(claim, parts):
            return changed
        done = [p for p in parts if p.published_at is not None]
        for number in range(len(done) + 1, total + 1):
            key = part_key(claim.key, number)
            try:
                if not self.ledger.threads.part_sending(claim, number, key, self.settler.stamp()):
                    return self._lost(claim, f"part {number}/{total} never left{parts_out(done)}")
            except LedgerUnavailable:
                return self.settler.release(
                    claim, self.settler.stamp()
                )  # this part did not leave; those before are recorded
            self.crash_if(f"before-part-{number}")
            try:
                receipt = (
                    channel.publish(part_post(post, number), key, reply_to=reply_to(done))
                    if done
                    else channel.publish(part_post(post, number), key)
                )
            except RetryLater as exc:
                self.ledger.threads.part_not_sent(claim, number)
                now = self.settler.stamp()
                return self.settler.retry(
                    claim, now, f"part {number}/{total}: {exc.reason}{parts_out(done)}", exc.after, exc.for_a_person
                )
            except Rejected as exc:
                self.ledger.threads.part_not_sent(claim, number)
                said = Said.of(
                    N_("part {number}/{total} was refused, so the thread stops: {reason}{parts}"),
                    number=number,
                    total=total,
                    reason=exc.reason,
                    parts=said_parts_out(done),
                )
                return self.settler.settle(claim, State.FAILED, self.settler.stamp(), str(said), alert=("failed", said))
            except InDoubt as exc:
                return self.doubt_later(claim, self.settler.stamp(), f"part {number}/{total}: {exc.reason}")
            except Exception as exc:
                log.exception("adapter error while sending %s on %s", claim.post, claim.channel)
                reason = f"part {number}/{total}: unexpected {exc.__class__.__name__} in the adapter{parts_out(done)}"
                return self.settler.doubt(claim, self.settler.stamp(), reason)
            self.crash_if(f"after-part-{number}")
            try:
                part, held = self._partparts_out(claim, number, key, receipt)
                done.append(part)
                if not held:
                    return self._late_part(claim, total)
            except LedgerUnavailable:
                # Out but not recorded: settled like an interrupted part once the ledger is back.
                reason = f"part {number}/{total} is out but the ledger was unreachable"
                return self.doubt_later(claim, self.settler.stamp(), reason)
            log.info("published part %d/%d of %s on %s: %s", number, total, claim.post, claim.channel, receipt.url)
        return self._thread_published(claim, done, self.settler.stamp(), f"all {total} parts out", None)

    def _changed_mid_thread(self, claim: Claim, parts: list[Part]) -> Outcome | None:
        """A thread whose text changed after some parts went out is not finished with the new text
        (its parts would not follow on): it fails, alerted, for a person to decide."""
        if all(p.key == part_key(claim.key, p.part) for p in parts):
            return None
        out = [p for p in parts if p.published_at is not None]
        said = Said.of(
            N_("the post changed after part of its thread went out, so the thread stops{parts}"),
            parts=said_parts_out(out),
        )
        return self.settler.settle(claim, State.FAILED, self.settler.stamp(), str(said), alert=("failed", said))

    def _partparts_out(self, claim: Claim, number: int, key: str, receipt: Receipt) -> tuple[Part, bool]:
        """Record a part out; it, and whether this worker still holds the delivery."""
        now = self.settler.stamp()
        held = self.ledger.threads.part_published(
            claim, number, now, remote_id=receipt.remote_id, cid=receipt.cid, url=receipt.url
        )
        return Part(number, key, now, receipt.remote_id, receipt.cid, receipt.url, now), held

    def _late_part(self, claim: Claim, total: int) -> Outcome:
        """A part went out after another worker took the thread over (this one was stopped): it is out,
        so a doubt the other recorded about it is over. Told by the parts as recorded, with their URLs."""
        now = self.settler.stamp()
        done = [p for p in self.ledger.threads.thread_parts(claim.id) if p.published_at is not None]
        if len(done) == total:
            return self._thread_published(claim, done, now, f"all {total} parts out", None)
        detail = f"part {done[-1].part}/{total} is out; resumes with part {len(done) + 1}/{total}{parts_out(done)}"
        return self.settler.settle(claim, State.RETRY, now, detail, next_at=now, settles_doubt=True)

    def _thread_published(
        self, claim: Claim, done: list[Part], now: datetime, detail: str, outcome: Attempted | None = Attempted.SETTLED
    ) -> Outcome:
        """The delivery is published when its last part is; its URL is the first part's."""
        first = done[0]
        return self.settler.settle(
            claim, State.PUBLISHED, now, detail, outcome=outcome, url=first.url, remote_id=first.remote_id
        )

    def _lost(self, claim: Claim, detail: str) -> Outcome:
        """Another worker took the thread over before this one's next part left: that is noted in an
        attempt row of this worker's own; the thread is the other's."""
        log.error("%s on %s was taken over by another worker; its thread is theirs now", claim.post, claim.channel)
        return self.settler.settle(claim, State.PENDING, self.settler.stamp(), detail, outcome=Attempted.INTERRUPTED)

    def settle(self, claim: Claim, channel: Channel, post: RenderedPost, now: datetime, reason: str) -> Outcome:
        """A thread interrupted mid-send: settle the one part that may be out as a single send is
        settled (lookup, idempotency window, or a person), then let it resume with the next."""
        total = len(post.parts)
        parts = self.ledger.threads.thread_parts(claim.id)
        if changed := self._changed_mid_thread(claim, parts):
            return changed
        done = [p for p in parts if p.published_at is not None]
        open_ = [p for p in parts if p.published_at is None]
        if not open_:
            if len(done) == total:
                return self._thread_published(claim, done, now, f"{reason}; all {total} parts were out")
            return self.settler.settle(
                claim,
                State.RETRY,
                now,
                f"{reason}; resumes with part {len(done) + 1}/{total}{parts_out(done)}",
                next_at=now,
                outcome=Attempted.INTERRUPTED,
            )
        part = open_[0]
        what = f"{reason} (part {part.part}/{total})"
        if channel.can_lookup:
            try:
                receipt = channel.lookup(part.key, part_post(post, part.part), part.started_at)
            except ChannelError as exc:
                return self.settler.doubt(claim, now, f"{what}; the lookup failed: {exc.reason}{parts_out(done)}")
            if receipt is not None:
                done.append(self._partparts_out(claim, part.part, part.key, receipt)[0])
                if len(done) == total:
                    return self._thread_published(claim, done, now, f"{what}; found on the network")
                detail = f"{what}; found on the network, resumes with part {part.part + 1}/{total}"
                return self.settler.settle(claim, State.RETRY, now, detail, next_at=now, outcome=Attempted.SETTLED)
            self.ledger.threads.part_not_sent(claim, part.part)
            detail = f"{what}; not on the network, so sent again"
            return self.settler.settle(claim, State.RETRY, now, detail, next_at=now, outcome=Attempted.RETRY)
        if (now - part.started_at).total_seconds() < channel.idempotent_for:
            detail = f"{what}; the network deduplicates this key, so sent again"
            return self.settler.settle(claim, State.RETRY, now, detail, next_at=now, outcome=Attempted.RESEND)
        return self.settler.doubt(claim, now, f"{what}{parts_out(done)}")


def part_key(key: str, number: int) -> str:
    """The idempotency key of part `number` of the thread whose delivery has `key`."""
    return f"{key}-{number}"


def part_post(post: RenderedPost, number: int) -> RenderedPost:
    """Part `number` (from 1) of a thread as one post: its text, and the images on the first."""
    return replace(post, text=post.parts[number - 1], parts=(), media=post.media if number == 1 else ())


def reply_to(done: list[Part]) -> Receipt:
    """What the next part answers: the last part out, with the thread's first as its root."""
    last, first = done[-1], done[0]
    root = None if len(done) == 1 else Receipt(first.url, first.remote_id, first.cid)
    return Receipt(last.url, last.remote_id, last.cid, root=root)


def said_parts_out(done: Sequence[Part]) -> Said:
    """What an alert says of a thread's parts out, with their links; in English exactly `parts_out`."""
    if not done:
        return Said.of(N_("; no part is out"))
    return Said.of(N_("; parts out: {parts}"), parts=", ".join(f"{p.part} ({p.url or p.remote_id})" for p in done))
