"""One pass of publishing: what is due now → claim → send → record. It has no timer of its own
and reads one clock (scheduler.publish.clock), so the daemon, `run --once`, `rehearse` and the
tests run the same pass (`Publisher.make_pass`) on the database's clock or a simulated one.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from scheduler import settings
from scheduler.content.plan import Plan, Unplaced
from scheduler.content.problems import human
from scheduler.errors import CampaignError, InDoubt, LedgerUnavailable, Rejected, RetryLater, TokenRejected
from scheduler.links.gate import Gate
from scheduler.publish import holds, payload, telling, wording
from scheduler.publish.adapters import Channels
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import Clock, LedgerClock, SimulatedClock
from scheduler.publish.fingerprint import Hashes
from scheduler.publish.lane import Lane, is_heavy
from scheduler.publish.ledger import Ledger
from scheduler.publish.planning import Remembered, wanted_from
from scheduler.publish.policy import Outcome, Policy
from scheduler.publish.recovery import Recovery
from scheduler.publish.settling import Settler
from scheduler.publish.states import Attempted, State
from scheduler.publish.store.sends import TAKEN_OVER, Claim, SignoffHold
from scheduler.publish.synced import Synced
from scheduler.publish.threads import ThreadSender
from scheduler.words import N_, Said

log = logging.getLogger("scheduler.publish.publisher")

HEARTBEAT_EVERY = 10.0  # seconds between heartbeats while a pass waits for the upload lane (as the daemon's)

# Channels and Policy are what a caller of the publisher hands it: importable from here too.
__all__ = ["Channels", "PassResult", "Policy", "Publisher", "rehearse", "worker_id"]


@dataclass(frozen=True)
class PassResult:
    """What one pass did: interrupted sends settled, held sends alerted, sends made."""

    settled: list[Outcome] = field(default_factory=list)
    held: list[Outcome] = field(default_factory=list)
    sent: list[Outcome] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [*self.settled, *self.held, *self.sent]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Publisher:
    """Sends due deliveries by one clock (default: the ledger's). Thread-safe: several threads may
    call `drain` at once."""

    def __init__(
        self,
        ledger: Ledger,
        channels: Channels,
        alerter: Alerter,
        policy: Policy,
        worker: str | None = None,
        *,
        clock: Clock | None = None,
        links: Gate | None = None,
    ) -> None:
        """`links`: checks each send's links just before it leaves (None: no check, as in a rehearsal)."""
        self.ledger, self.channels, self.alerter, self.policy = ledger, channels, alerter, policy
        alerter.language = channels.campaign.settings.language  # alerts are written in it (scheduler.publish.alerts)
        self.links = links
        self.clock: Clock = clock or LedgerClock(ledger)
        channels.clock = self.clock  # the adapters stamp what they write by the same clock
        channels.uploads = ledger.uploads  # a retry reuses what an attempt uploaded
        channels.pauses = ledger.sends  # a send in steps (YouTube) asks again before the step that publishes
        self.worker = worker or worker_id()
        self.in_flight: dict[int, Claim] = {}
        self._refused_tokens: set[str] = set()  # channels whose token the network refused (alerted once)
        self._lock = threading.Lock()
        self._fault = settings.get("CAMPAIGN_FAULT")
        self.synced = Synced()  # what the last sync gave the ledger
        self._rendered: dict[int, Remembered] = {}  # see wanted_from
        self._hashes = Hashes()  # the files' hashes by their stat, for the sends' fingerprints
        self.settler = Settler(ledger, alerter, policy, self.clock)
        self.threads = ThreadSender(ledger, self.settler, self._settle_doubt_later, self._crash_if)
        self.recovery = Recovery(ledger, channels, alerter, self.settler, self.threads, policy, self.worker)
        uploads = settings.get_int("CAMPAIGN_UPLOAD_WORKERS")
        # A video's upload takes minutes on a slow network: it goes beside the other sends (scheduler.publish.lane).
        self.lane = Lane(uploads, self._deliver_now, self._put_back) if uploads > 0 else None

    def sync(self, plan: Plan, now: datetime) -> dict[str, int]:
        """Bring the ledger in line with `plan`; only what valid files say cancels a send (see
        scheduler.publish.holds). Broken settings files are alerted once. Only what changed since
        the last sync is looked at, but for a full sync now and then (scheduler.publish.synced)."""
        # As in plan.build: tens of thousands of small objects, all living on, that the cycle
        # collector would scan again and again (with a big plan in memory, most of the time here).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._sync(plan, now)
        finally:
            if enabled:
                gc.enable()

    def _sync(self, plan: Plan, now: datetime) -> dict[str, int]:
        reading = holds.read(plan)
        root = plan.campaign.root
        self.alerter.language = plan.campaign.settings.language

        def absent(post: str, channel: str, path: str) -> holds.Fate:
            return holds.absent(reading, post, channel, path, (root / path).is_file())

        wanted = wanted_from(plan, self.policy, reading, self._rendered, self._hashes)
        changes = self.synced.changes(wanted, reading)
        busy: set[tuple[str, str]] = set()
        try:
            if changes is None:
                counts = self.ledger.wanted.sync(wanted, absent, now, busy=busy, language=reading.language)
            else:
                counts = self.ledger.wanted.sync(
                    changes.wanted,
                    absent,
                    now,
                    gone=changes.gone,
                    paths=changes.paths,
                    busy=busy,
                    language=reading.language,
                )
        except BaseException:
            self.synced.forget()
            raise
        self.synced.remember(wanted, reading, changes is None, busy)
        zone = plan.campaign.settings.timezone
        telling.files(
            self.ledger,
            self.alerter,
            reading,
            now,
            holds.cannot_be_planned(plan, reading),
            zone,
            held_ahead=holds.held_ahead(plan, now, reading),
        )
        return counts

    def alert_files(
        self, reading: holds.Reading, now: datetime, unplaced: Iterable[Unplaced] = (), zone: tzinfo = UTC
    ) -> None:
        """One alert per settings file that became broken and per post file that cannot be planned
        (scheduler.publish.telling)."""
        telling.files(self.ledger, self.alerter, reading, now, unplaced, zone)

    def alert_held(self, now: datetime) -> list[Outcome]:
        """Alert, once, every held send whose time has come, one alert per post (scheduler.publish.telling)."""
        return telling.held(self.ledger, self.alerter, now)

    def alert_signoffs(self, now: datetime) -> None:
        """Alert sign-offs the files voided, and posts still waiting 48 and 4 hours before their time."""
        telling.signoffs(self.ledger, self.alerter, now)

    def make_pass(
        self,
        workers: int = 1,
        stop: threading.Event | None = None,
        pool: Executor | None = None,
        only: Collection[int] | None = None,
        *,
        wait_uploads: bool = True,
    ) -> PassResult:
        """One pass, the same for the daemon, `run --once`, `rehearse` and the tests: record what the
        ledger missed, settle interrupted sends, alert held sends whose time came, then send what is
        due with `workers` threads (from `pool` if given) until nothing is or `stop` is set. Sends
        that upload a video go to the upload lane; `wait_uploads`: the pass ends once they are done
        (the daemon does not wait: its next passes go on sending, and collect their outcomes).
        `only`: send none but these deliveries, and alert no held one (a daemon's start, before its
        first plan: the plan may release what is held).

        LedgerUnavailable if the ledger is away (outcomes of sends in flight are kept in memory)."""
        self.flush()
        now = self.clock.now()
        settled = self.recover(now)
        held = self.alert_held(now) if only is None else []
        if only is None:
            self.alert_signoffs(now)
        with self._recovering(stop) as later:
            sent = self._send(workers, stop, pool, only)
            if self.lane is not None:
                sent = sorted(sent + self._uploaded(wait_uploads), key=lambda o: (o.due, o.post, o.channel))
        return PassResult(settled + later, held, sent)

    def _uploaded(self, wait: bool) -> list[Outcome]:
        """The outcomes of the upload lane's sends ended so far; `wait`: once none is left."""
        assert self.lane is not None
        while wait and not self.lane.wait(timeout=HEARTBEAT_EVERY):
            # `run --once` has no heartbeat of its own: keep the lane's claims this worker's meanwhile.
            with contextlib.suppress(LedgerUnavailable):
                self.ledger.workers.heartbeat(self.worker, self.clock.now())
        return self.lane.harvest()

    def close_uploads(self) -> None:
        """At shutdown: the upload lane takes nothing more; the sends queued in it are put back unsent
        (the one uploading is in `in_flight`: it finishes or is abandoned as any send)."""
        if self.lane is not None:
            self.lane.close()

    @contextlib.contextmanager
    def _recovering(self, stop: threading.Event | None) -> Iterator[list[Outcome]]:
        """While the pass sends (a long one: a slow network, a backlog), settle the sends other workers
        left every quarter of stale_after, so a stopped daemon's send never waits for this pass to end.
        Yields the outcomes, complete once the block is left."""
        outcomes: list[Outcome] = []
        ended = threading.Event()
        every = max(self.policy.stale_after.total_seconds() / 4, 0.5)

        def run() -> None:
            while not ended.wait(every) and not (stop is not None and stop.is_set()):
                try:
                    outcomes.extend(self.recover(self.clock.now()))
                except LedgerUnavailable:
                    pass  # the pass itself meets it and reports it
                except Exception:
                    log.exception("settling the sends of stopped workers failed; trying again shortly")

        thread = threading.Thread(target=run, name="recover", daemon=True)
        thread.start()
        try:
            yield outcomes
        finally:
            ended.set()
            thread.join()

    def _send(
        self, workers: int, stop: threading.Event | None, pool: Executor | None, only: Collection[int] | None
    ) -> list[Outcome]:
        """Drain with `workers` threads (from `pool` if given)."""
        if workers <= 1 and pool is None:
            return self.drain(stop, only)
        own = None if pool is not None else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send")
        try:
            futures: list[Future[list[Outcome]]] = [
                (pool or own).submit(self.drain, stop, only)  # type: ignore[union-attr]
                for _ in range(max(1, workers))
            ]
            sent, unavailable = [], None
            for future in futures:
                error = future.exception()
                if isinstance(error, LedgerUnavailable):
                    unavailable = error
                elif error is not None:
                    log.error("send worker failed: %s", error)
                else:
                    sent += future.result()
        finally:
            if own is not None:
                own.shutdown()
        if unavailable is not None:
            raise unavailable
        return sorted(sent, key=lambda o: (o.due, o.post, o.channel))

    def drain(self, stop: threading.Event | None = None, only: Collection[int] | None = None) -> list[Outcome]:
        """Claim and send, by the publisher's clock, until nothing is due or `stop` is set; `only`: of
        these deliveries."""
        outcomes = []
        while stop is None or not stop.is_set():
            claim = self.ledger.sends.claim(self.worker, self.clock.now(), only)
            if claim is None:
                break
            if self.lane is not None and self._uploads(claim):
                with self._lock:
                    self.in_flight[claim.id] = claim
                self.lane.submit(claim)
                continue
            outcomes.append(self.deliver(claim))
        return outcomes

    def _uploads(self, claim: Claim) -> bool:
        """Whether the send uploads a video or much media (scheduler.publish.lane)."""
        try:
            return is_heavy(payload.decode(claim.payload, claim.post, claim.channel))
        except Exception:  # a payload that does not read: `deliver` meets it and records it
            return False

    def _deliver_now(self, claim: Claim) -> Outcome:
        # In the lane a send may start after the one before it: max_late counts from when it starts.
        try:
            return self.deliver(claim, self.stamp())
        finally:
            with self._lock:  # registered when it was handed to the lane
                self.in_flight.pop(claim.id, None)

    def _put_back(self, claim: Claim) -> Outcome:
        """A send the lane never started (it closed first): pending again, nothing sent."""
        try:
            return self.settler.settle(
                claim,
                State.PENDING,
                self.stamp(),
                "stopped before it was sent",
                outcome=Attempted.INTERRUPTED,
            )
        finally:
            with self._lock:
                self.in_flight.pop(claim.id, None)

    def deliver(self, claim: Claim, now: datetime | None = None) -> Outcome:
        """Send a delivery just claimed (its `claimed_at` is the clock's now, unless `now` says
        when its send starts) and record what happened. Never raises for the network."""
        now = claim.claimed_at if now is None else now
        self._crash_if("after-claim")
        try:
            # Settling a send that may be out is not a new send: max_late never applies to it.
            if (
                now - claim.due > claim.max_late
                and not self.ledger.sends.may_be_out(claim)
                and not self.ledger.threads.thread_parts(claim.id)  # a thread begun is finished, however late
            ):
                late = now - claim.due
                message = f"{human(late)} late, more than its max_late of {human(claim.max_late)}; not sent"
                max_late = claim.max_late
                said = Said.of(
                    N_("{late} late, more than its max_late of {max_late}; not sent"),
                    late=wording.said_by(lambda language: wording.duration(late, language)),
                    max_late=wording.said_by(lambda language: wording.duration(max_late, language)),
                )
                return self.settler.settle(claim, State.MISSED, now, message, alert=("missed", said))
        except LedgerUnavailable:
            return self.settler.release(claim, now)
        with self._lock:
            self.in_flight[claim.id] = claim
        try:
            try:
                if held := self._dead_links(claim, now):
                    return held
                settling = self.ledger.sends.may_be_out(claim) or bool(self.ledger.threads.thread_parts(claim.id))
                reason = self.ledger.sends.about_to_send(claim, signoff=not settling)
            except LedgerUnavailable:
                return self.settler.release(claim, now)
            if reason == TAKEN_OVER:
                return self.settler.settle(
                    claim, State.PENDING, now, "its request never left", outcome=Attempted.INTERRUPTED
                )
            if isinstance(reason, SignoffHold):
                log.info("not sending %s on %s: %s", claim.post, claim.channel, reason)
                not_sent = Said.of(N_("its time has come but it is not sent: {reason}"), reason=reason.said)
                return self.settler.settle(
                    claim, State.HELD, now, str(reason), outcome=Attempted.HELD, alert=("held", not_sent)
                )
            if reason is not None:
                log.info("not sending %s on %s: %s", claim.post, claim.channel, reason)
                return self.settler.settle(claim, State.PENDING, now, reason, outcome=Attempted.PAUSED)
            try:
                channel = self.channels.get(claim.channel)
                log.info("sending %s on %s (attempt %d, key %s)", claim.post, claim.channel, claim.attempts, claim.key)
                post = payload.decode(claim.payload, claim.post, claim.channel)
                if post.parts:
                    return self.threads.send(claim, channel, post)
                receipt = channel.publish(post, claim.key)
            except RetryLater as exc:
                return self.settler.retry(claim, now, exc.reason, exc.after, tell=exc.for_a_person)
            except TokenRejected as exc:
                return self._token_refused(claim, now, exc.reason)
            except Rejected as exc:
                refused = Said.of(N_("refused by the network, so it is not sent: {reason}"), reason=exc.reason)
                return self.settler.settle(claim, State.FAILED, now, exc.reason, alert=("failed", refused))
            except InDoubt as exc:
                return self._settle_doubt_later(claim, now, exc.reason)
            except CampaignError as exc:  # configuration: a missing secret, an unknown type
                return self.settler.retry(claim, now, str(exc), None)
            except Exception as exc:
                log.exception("adapter error while sending %s on %s", claim.post, claim.channel)
                unexpected = Said.of(N_("unexpected {error} in the adapter"), error=exc.__class__.__name__)
                return self.settler.doubt(claim, now, unexpected)
            self._crash_if("after-publish")
            with self._lock:
                self._refused_tokens.discard(claim.channel)  # the token works again: a new refusal is news
            done = self.settler.settle(
                claim,
                State.PUBLISHED,
                self.stamp(),
                receipt.url or "",
                url=receipt.url,
                remote_id=receipt.remote_id,
            )
            log.info("published %s on %s: %s", claim.post, claim.channel, receipt.url)
            return done
        finally:
            with self._lock:
                self.in_flight.pop(claim.id, None)

    def _token_refused(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        """A refused token fails every send on its channel alike: one alert for the channel while the token
        stays refused (until a send on it goes through again), not one per post; each post still fails."""
        with self._lock:
            first = claim.channel not in self._refused_tokens
            self._refused_tokens.add(claim.channel)
        if not first:
            log.error("%s on %s failed: the channel's token is still refused", claim.post, claim.channel)
            return self.settler.settle(claim, State.FAILED, now, reason)
        said = Said.of(
            N_("the network refused the token of channel {channel}; its posts fail until it is renewed: {reason}"),
            channel=claim.channel,
            reason=reason,
        )
        return self.settler.settle(claim, State.FAILED, now, reason, alert=("failed", said))

    def _dead_links(self, claim: Claim, now: datetime) -> Outcome | None:
        """Check the send's links (scheduler.links.gate) before it leaves: a dead one holds it (alerted
        once), or under `link_check: warn` is alerted and it goes. Never for a send a person made due
        (`campaign retry`), nor for one that may already be out or a thread begun: those must end."""
        if self.links is None or claim.reason == holds.RETRY_REQUESTED:
            return None
        post = payload.decode(claim.payload, claim.post, claim.channel)
        ledger = self.ledger
        if post.link_check == "off" or ledger.sends.may_be_out(claim) or ledger.threads.thread_parts(claim.id):
            return None
        try:
            verdict = self.links.before_send(post)
        except Exception:  # a fault of the check must not stop the send it was to protect
            log.exception("the link check of %s on %s failed; it goes out unchecked", claim.post, claim.channel)
            return None
        for note in verdict.notes:
            log.warning("%s on %s: %s", claim.post, claim.channel, note)
        if verdict.alert is not None and claim.attempts <= 1:  # once: not again at each retry after a 503
            self.alerter.alert("link", claim.post, claim.channel, verdict.alert, now)
        elif verdict.alert is not None:
            log.warning("%s on %s: %s", claim.post, claim.channel, verdict.alert)
        if verdict.hold is None:
            return None
        said = Said.of(holds.LINK_HOLD, dead=verdict.hold)
        return self.settler.settle(
            claim, State.HELD, now, holds.link_hold(verdict.hold), outcome=Attempted.HELD, alert=("held", said)
        )

    def stamp(self) -> datetime:
        """The clock's now; this host's while the ledger (whose clock it may be) is unreachable."""
        return self.settler.stamp()

    def recover(self, now: datetime) -> list[Outcome]:
        """Settle the sends workers that died left in `sending` (scheduler.publish.recovery)."""
        return self.recovery.recover(now)

    def settle_doubt(
        self, claim: Claim, now: datetime, reason: str | Said, outcome: Attempted | None = None
    ) -> Outcome:
        """The request may have reached the network: ask it, or resend within its idempotency window."""
        return self.recovery.settle_doubt(claim, now, reason, outcome)

    def _settle_doubt_later(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        return self.recovery.settle_doubt_later(claim, now, reason)

    @property
    def unrecorded(self) -> int:
        """Outcomes kept in memory because the ledger was unreachable."""
        return self.settler.unrecorded

    def flush(self) -> int:
        """Record the outcomes kept while the ledger was unreachable (see Settler.flush)."""
        return self.settler.flush()

    def abandon_in_flight(self, now: datetime) -> None:
        """At shutdown: record the sends still under way; the next start settles them."""
        with self._lock:
            left = list(self.in_flight.values())
        for claim in left:
            log.warning(
                "stopping during the send of %s on %s; it will be settled at the next start", claim.post, claim.channel
            )
            with contextlib.suppress(LedgerUnavailable):
                stopped = self.alerter.say(Said.of(N_("stopped during the send; the next start settles it")))
                self.ledger.alerts.record_alert("interrupted", claim.post, claim.channel, stopped, now)
        self.settler.report_unrecorded()

    def _crash_if(self, point: str) -> None:
        if self._fault == point:  # fault injection for the crash tests (CAMPAIGN_FAULT)
            os.kill(os.getpid(), signal.SIGKILL)


def rehearse(publisher: Publisher, clock: SimulatedClock, until: datetime | None = None) -> Iterator[Outcome]:
    """Passes at each moment the ledger next wakes, with `clock` (the publisher's) moved there, until
    nothing is due before `until`: a campaign's run in simulated time."""
    while True:
        wake = publisher.ledger.sends.next_wake()
        if wake is None or (until is not None and wake >= until):
            return
        clock.set(max(clock.now(), wake))
        yield from publisher.make_pass().outcomes
