"""One pass of publishing: what is due now → claim → send → record. It has no timer of its own
and reads one clock (scheduler.publish.clock), so the daemon, `run --once`, `rehearse` and the
tests run the same pass (`Publisher.make_pass`) on the database's clock or a simulated one.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import inspect
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import NamedTuple

from scheduler import secrets, settings
from scheduler.channels.base import Channel, Receipt
from scheduler.channels.registry import adapter_class
from scheduler.content.campaign import Campaign
from scheduler.content.plan import Entry, Plan, Unplaced
from scheduler.content.problems import Problem, human
from scheduler.errors import CampaignError, ChannelError, InDoubt, LedgerUnavailable, Rejected, RetryLater
from scheduler.links.gate import Gate
from scheduler.posts import RenderedPost
from scheduler.publish import holds, payload
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import Clock, LedgerClock, SimulatedClock, stamp
from scheduler.publish.ledger import TAKEN_OVER, Claim, Delivery, Ledger, NewAlert, Part, Wanted, parts_out
from scheduler.publish.states import Attempted, State
from scheduler.publish.synced import Synced
from scheduler.times import local_time

log = logging.getLogger("scheduler.publish.publisher")
MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True)
class Policy:
    """How hard to try: from the environment (scheduler.settings) unless given."""

    max_late: timedelta
    max_attempts: int
    retry_base: timedelta
    stale_after: timedelta

    @classmethod
    def from_env(cls) -> Policy:
        return cls(
            max_late=settings.parse_duration(settings.get("CAMPAIGN_MAX_LATE")),
            max_attempts=settings.get_int("CAMPAIGN_MAX_ATTEMPTS"),
            retry_base=timedelta(seconds=settings.get_int("CAMPAIGN_RETRY_BASE")),
            stale_after=timedelta(seconds=settings.get_int("CAMPAIGN_STALE_AFTER")),
        )

    def backoff(self, attempts: int) -> timedelta:
        return min(self.retry_base * (1 << min(max(0, attempts - 1), 20)), MAX_BACKOFF)


@dataclass(frozen=True)
class Outcome:
    post: str
    channel: str
    state: State  # published, retry, failed, in_doubt, missed, pending (released), held, ...
    detail: str
    at: datetime
    due: datetime
    url: str | None = None


@dataclass(frozen=True)
class PassResult:
    """What one pass did: interrupted sends settled, held sends alerted, sends made."""

    settled: list[Outcome] = field(default_factory=list)
    held: list[Outcome] = field(default_factory=list)
    sent: list[Outcome] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [*self.settled, *self.held, *self.sent]


class Channels:
    """Adapter instances by channel name, made on first use (secrets resolved then, not before)."""

    def __init__(self, campaign: Campaign, dry_run_dir: Path | None = None, clock: Clock | None = None) -> None:
        self.campaign = campaign
        self.dry_run_dir = dry_run_dir  # every channel replaced by dry-run, writing here
        self.clock = clock  # handed to adapters that take a `clock` (the Publisher sets its own)
        self._made: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def update(self, campaign: Campaign) -> None:
        """Take a newly read channels.yml; adapters whose settings changed are made again.

        A channel whose entry is now broken (or every channel, while channels.yml does not read) keeps
        its last good settings: its sends are held, but one left mid-send can still be settled through it."""
        with self._lock:
            kept = {
                name: config
                for name, config in self.campaign.channels.items()
                if (name in campaign.broken_channels or campaign.channels_unread is not None)
                and name not in campaign.channels
            }
            if kept:
                campaign = replace(campaign, channels={**campaign.channels, **kept})
            for name, channel in list(self._made.items()):
                old, new = self.campaign.channels.get(name), campaign.channels.get(name)
                if new is None or old is None or (old.type, old.settings) != (new.type, new.settings):
                    channel.close()
                    del self._made[name]
            self.campaign = campaign

    def get(self, name: str) -> Channel:
        with self._lock:
            if name not in self._made:
                self._made[name] = self._make(name)
            return self._made[name]

    def _make(self, name: str) -> Channel:
        from scheduler.channels.dryrun import DryRunChannel

        config = self.campaign.channels.get(name)
        if config is None:
            raise CampaignError(f"channel {name!r} is no longer in channels.yml")
        if self.dry_run_dir is not None:
            # A rehearsal publishes every channel to one outbox; the rules were checked when planning.
            return self._new(DryRunChannel, name, {"outbox": str(self.dry_run_dir / "outbox.jsonl")})
        cls = adapter_class(config.type)
        resolved = dict(secrets.resolve(dict(config.settings)))
        if config.type == "dryrun":
            outbox = Path(resolved.get("outbox") or "dryrun-outbox.jsonl")
            resolved["outbox"] = str(outbox if outbox.is_absolute() else self.campaign.root / outbox)
        return self._new(cls, name, resolved)

    def _new(self, cls: type[Channel], name: str, settings: dict[str, object]) -> Channel:
        """`cls(name, settings)`, and the publisher's clock for an adapter that stamps times itself
        (one whose constructor takes `clock`, a callable giving now)."""
        given = self.clock
        if given is not None and "clock" in inspect.signature(cls).parameters:
            return cls(name, settings, clock=lambda: stamp(given))  # type: ignore[call-arg]
        return cls(name, settings)

    def close(self) -> None:
        for channel in self._made.values():
            channel.close()


def wanted_from(
    plan: Plan,
    policy: Policy,
    reading: holds.Reading | None = None,
    memo: dict[int, Remembered] | None = None,
) -> list[Wanted]:
    """The plan as ledger rows: publishable entries, and held ones (their errors, or a broken
    settings file that touches them, as the reason).

    `memo`: the row of each entry, kept between calls: a plan built with a cache
    (scheduler.content.cache) hands out the same entry until its text, time or media change, and
    gets the same row object back (scheduler.publish.synced compares rows by identity first)."""
    reading = reading or holds.read(plan)
    entries = [e for e in plan.entries if not e.draft.draft]
    memo = memo if memo is not None else {}
    digests: dict[Path, str] = {}
    known = [
        k if k is not None and k.entry is e else _remember(e, policy, digests)
        for e, k in zip(entries, map(memo.get, map(id, entries)), strict=True)
    ]
    memo.clear()
    memo.update(zip(map(id, entries), known, strict=True))
    unplanned = _unplanned(plan, policy, reading)
    if reading.everything or reading.channels or reading.folders:  # a broken settings file holds more
        return [_held(k, reading) for k in known] + unplanned
    return [k.row for k in known] + unplanned


def _unplanned(plan: Plan, policy: Policy, reading: holds.Reading) -> list[Wanted]:
    """A held row per channel for each post that cannot be planned, at the time its file seems to
    mean (scheduler.content.salvage): so it is alerted at its time, as a post that broke later is."""
    told = [u for u in plan.unplaced if not u.draft and u.due is not None and u.channels]
    if not told:
        return []
    planned = {(e.draft.id, e.channel.name) for e in plan.entries}
    rows = []
    for unplaced in told:
        assert unplaced.due is not None
        errors = [p for p in unplaced.problems if p.is_error]
        for channel in unplaced.channels:
            if (unplaced.key, channel) in planned:
                continue  # another post has that id: this file is known by its problems alone
            hold = holds.reason([*errors, *reading.touching(unplaced.path, channel)], "")
            rows.append(
                Wanted(
                    post=unplaced.key,
                    channel=channel,
                    path=unplaced.path,
                    due=unplaced.due,
                    max_late=policy.max_late,
                    version=holds.UNPLANNED,
                    key=_key(unplaced.key, channel, holds.UNPLANNED),
                    text_hash=_text_hash(channel, f"{holds.UNPLANNED}\n{unplaced.path}"),
                    allow_repeat=False,
                    payload=payload.EMPTY,
                    hold=hold or f"{unplaced.path} cannot be planned; fix it and it goes out at its time",
                )
            )
    return rows


def _remember(entry: Entry, policy: Policy, digests: dict[Path, str]) -> Remembered:
    errors = tuple(p for p in entry.problems if p.is_error)
    own = holds.reason(errors, "") or None
    if own is None and entry.post is None:
        own = f"{entry.draft.path} could not be rendered for {entry.channel.name}"
    return Remembered(entry, errors, _wanted(entry, policy, own, digests))


class Remembered(NamedTuple):
    """An entry, its errors, and its row as its own errors hold it (see wanted_from)."""

    entry: Entry
    errors: tuple[Problem, ...]
    row: Wanted


def _held(known: Remembered, reading: holds.Reading) -> Wanted:
    """The row of an entry while a settings file is broken: held by its own errors and what touches it."""
    entry = known.entry
    hold = holds.hold_for(reading, entry.draft.path, entry.channel.name, known.errors)
    if hold is None and entry.post is None:
        hold = f"{entry.draft.path} could not be rendered for {entry.channel.name}"
    return known.row if known.row.hold == hold else replace(known.row, hold=hold)


def _wanted(entry: Entry, policy: Policy, hold: str | None, digests: dict[Path, str]) -> Wanted:
    post = entry.post
    stored, version, text = payload.EMPTY, "unrenderable", ""
    if post is not None:
        stored = payload.encode(post)
        # The version is what goes out: how its links are checked is no part of it (a post that went
        # out is not "changed after publishing" when its link_check changes).
        content = stored if post.link_check == "hold" else payload.encode(replace(post, link_check="hold"))
        files = "".join(_digest(m.path, digests) for m in post.media)
        version = hashlib.sha256((content + files).encode()).hexdigest()
        text = post.text
    return Wanted(
        post=entry.draft.id,
        channel=entry.channel.name,
        path=entry.draft.path,
        due=entry.due,
        max_late=entry.draft.max_late if entry.draft.max_late is not None else policy.max_late,
        version=version,
        key=_key(entry.draft.id, entry.channel.name, version),
        text_hash=_text_hash(entry.channel.name, text),
        allow_repeat=entry.draft.allow_repeat,
        payload=stored,
        hold=hold,
    )


def _unplanned_message(unplaced: Unplaced, zone: tzinfo) -> str:
    """What a person is told of a post file that cannot be planned: why, and when it is held."""
    errors = [p for p in unplaced.problems if p.is_error] or list(unplaced.problems)
    why = holds.reason(errors, "it has no time or no channel").removeprefix("held until fixed: ")
    if unplaced.due is not None and unplaced.channels:
        when = (
            f"it is held at {local_time(unplaced.due, zone)} on {', '.join(unplaced.channels)}; "
            "fixed before then, it goes out at its time"
        )
    else:
        when = "no time or channel can be read from it, so it is not on the calendar"
    return f"{unplaced.path} cannot be planned, so it is not sent: {why}; {when}"


def _key(post: str, channel: str, version: str) -> str:
    return "cs-" + hashlib.sha256(f"{post}\n{channel}\n{version}".encode()).hexdigest()[:32]


def _text_hash(channel: str, text: str) -> str:
    return hashlib.sha256(f"{channel}\n{text}".encode()).hexdigest()


def _digest(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        try:
            cache[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            cache[path] = "missing"
    return cache[path]


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
        self.links = links
        self.clock: Clock = clock or LedgerClock(ledger)
        channels.clock = self.clock  # the adapters stamp what they write by the same clock
        self.worker = worker or worker_id()
        self.in_flight: dict[int, Claim] = {}
        self._lock = threading.Lock()
        # Outcomes that could not be recorded while the ledger was unreachable, oldest first.
        self._unrecorded: list[tuple[Claim, str, Callable[[], object]]] = []
        self._replaying = False
        self._fault = settings.get("CAMPAIGN_FAULT")
        self.synced = Synced()  # what the last sync gave the ledger
        self._rendered: dict[int, Remembered] = {}  # see wanted_from

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

        def absent(post: str, channel: str, path: str) -> holds.Fate:
            return holds.absent(reading, post, channel, path, (root / path).is_file())

        wanted = wanted_from(plan, self.policy, reading, self._rendered)
        changes = self.synced.changes(wanted, reading)
        busy: set[tuple[str, str]] = set()
        try:
            if changes is None:
                counts = self.ledger.wanted.sync(wanted, absent, now, busy=busy)
            else:
                counts = self.ledger.wanted.sync(
                    changes.wanted, absent, now, gone=changes.gone, paths=changes.paths, busy=busy
                )
        except BaseException:
            self.synced.forget()
            raise
        self.synced.remember(wanted, reading, changes is None, busy)
        self.alert_files(reading, now, holds.cannot_be_planned(plan, reading), plan.campaign.settings.timezone)
        return counts

    def alert_files(
        self, reading: holds.Reading, now: datetime, unplaced: Iterable[Unplaced] = (), zone: tzinfo = UTC
    ) -> None:
        """One alert per settings file that became broken (or broken differently), and per post file
        in `unplaced` (holds.cannot_be_planned); a log line when fixed. Once across restarts and
        daemons: the ledger keeps what was said."""
        by_file: dict[str, list[str]] = {}
        for problem in reading.settings_problems():
            by_file.setdefault(problem.path, []).append(str(problem))
        current = {path: "; ".join(lines) for path, lines in by_file.items()}
        posts = {u.path: _unplanned_message(u, zone) for u in unplaced}
        current |= posts
        new, fixed = self.ledger.alerts.broken_files(current, now)
        for path, message in new:
            if path in posts:
                self.alerter.alert("unplanned", None, None, message, now)
            else:
                self.alerter.alert(
                    "broken_file", None, None, f"{message}; the sends it touches are held, nothing is cancelled", now
                )
        for path in fixed:
            log.info("%s is fixed; the sends it held follow the files again", path)

    def alert_held(self, now: datetime) -> list[Outcome]:
        """Alert, once, every held send whose time has come (its reason names the file and line): one
        alert per post, naming its channels, since an error of one send holds the whole post."""
        outcomes = []
        by_post: dict[str, list[Delivery]] = {}
        for row in self.ledger.sends.held_now_due(now):
            message = f"its time has come but it is not sent: {row.reason or 'held'}"
            by_post.setdefault(row.post, []).append(row)
            outcomes.append(Outcome(row.post, row.channel, State.HELD, message, now, row.due))
        for post, rows in by_post.items():
            reasons = "; ".join(dict.fromkeys(row.reason or "held" for row in rows))
            if len(rows) == 1:
                message = f"its time has come but it is not sent: {reasons}"
                self.alerter.alert("held", post, rows[0].channel, message, now)
                continue
            names = sorted(row.channel for row in rows)
            message = f"its time has come but it is not sent on {', '.join(names[:-1])} and {names[-1]}: {reasons}"
            self.alerter.alert("held", post, None, message, now)
        return outcomes

    def make_pass(
        self, workers: int = 1, stop: threading.Event | None = None, pool: Executor | None = None
    ) -> PassResult:
        """One pass, the same for the daemon, `run --once`, `rehearse` and the tests: record what the
        ledger missed, settle interrupted sends, alert held sends whose time came, then send what is
        due with `workers` threads (from `pool` if given) until nothing is or `stop` is set.

        LedgerUnavailable if the ledger is away (outcomes of sends in flight are kept in memory)."""
        self.flush()
        now = self.clock.now()
        settled = self.recover(now)
        held = self.alert_held(now)
        with self._recovering(stop) as later:
            sent = self._send(workers, stop, pool)
        return PassResult(settled + later, held, sent)

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

    def _send(self, workers: int, stop: threading.Event | None, pool: Executor | None) -> list[Outcome]:
        """Drain with `workers` threads (from `pool` if given)."""
        if workers <= 1 and pool is None:
            return self.drain(stop)
        own = None if pool is not None else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send")
        try:
            futures: list[Future[list[Outcome]]] = [
                (pool or own).submit(self.drain, stop)  # type: ignore[union-attr]
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

    def drain(self, stop: threading.Event | None = None) -> list[Outcome]:
        """Claim and send, by the publisher's clock, until nothing is due or `stop` is set."""
        outcomes = []
        while stop is None or not stop.is_set():
            claim = self.ledger.sends.claim(self.worker, self.clock.now())
            if claim is None:
                break
            outcomes.append(self.deliver(claim))
        return outcomes

    def deliver(self, claim: Claim) -> Outcome:
        """Send a delivery just claimed (its `claimed_at` is the clock's now) and record what
        happened. Never raises for the network."""
        now = claim.claimed_at
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
                return self._settle(claim, State.MISSED, now, message, alert=("missed", message))
        except LedgerUnavailable:
            return self._release(claim, now)
        with self._lock:
            self.in_flight[claim.id] = claim
        try:
            try:
                if held := self._dead_links(claim, now):
                    return held
                reason = self.ledger.sends.about_to_send(claim)
            except LedgerUnavailable:
                return self._release(claim, now)
            if reason == TAKEN_OVER:
                return self._settle(claim, State.PENDING, now, "its request never left", outcome=Attempted.INTERRUPTED)
            if reason is not None:
                log.info("not sending %s on %s: %s", claim.post, claim.channel, reason)
                return self._settle(claim, State.PENDING, now, reason, outcome=Attempted.PAUSED)
            try:
                channel = self.channels.get(claim.channel)
                log.info("sending %s on %s (attempt %d, key %s)", claim.post, claim.channel, claim.attempts, claim.key)
                post = payload.decode(claim.payload, claim.post, claim.channel)
                if post.parts:
                    return self._send_thread(claim, channel, post)
                receipt = channel.publish(post, claim.key)
            except RetryLater as exc:
                return self._retry(claim, now, exc.reason, exc.after)
            except Rejected as exc:
                return self._settle(claim, State.FAILED, now, exc.reason, alert=("failed", exc.reason))
            except InDoubt as exc:
                return self._settle_doubt_later(claim, now, exc.reason)
            except CampaignError as exc:  # configuration: a missing secret, an unknown type
                return self._retry(claim, now, str(exc), None)
            except Exception as exc:
                log.exception("adapter error while sending %s on %s", claim.post, claim.channel)
                return self._doubt(claim, now, f"unexpected {exc.__class__.__name__} in the adapter")
            self._crash_if("after-publish")
            done = self._settle(
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
        reason = holds.link_hold(verdict.hold)
        return self._settle(claim, State.HELD, now, reason, outcome=Attempted.HELD, alert=("held", reason))

    def _send_thread(self, claim: Claim, channel: Channel, post: RenderedPost) -> Outcome:
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
                if not self.ledger.threads.part_sending(claim, number, key, self.stamp()):
                    return self._lost(claim, f"part {number}/{total} never left{parts_out(done)}")
            except LedgerUnavailable:
                return self._release(claim, self.stamp())  # this part did not leave; those before are recorded
            self._crash_if(f"before-part-{number}")
            try:
                receipt = (
                    channel.publish(part_post(post, number), key, reply_to=reply_to(done))
                    if done
                    else channel.publish(part_post(post, number), key)
                )
            except RetryLater as exc:
                self.ledger.threads.part_not_sent(claim, number)
                now = self.stamp()
                return self._retry(claim, now, f"part {number}/{total}: {exc.reason}{parts_out(done)}", exc.after)
            except Rejected as exc:
                self.ledger.threads.part_not_sent(claim, number)
                message = f"part {number}/{total} was refused, so the thread stops: {exc.reason}{parts_out(done)}"
                return self._settle(claim, State.FAILED, self.stamp(), message, alert=("failed", message))
            except InDoubt as exc:
                return self._settle_doubt_later(claim, self.stamp(), f"part {number}/{total}: {exc.reason}")
            except Exception as exc:
                log.exception("adapter error while sending %s on %s", claim.post, claim.channel)
                reason = f"part {number}/{total}: unexpected {exc.__class__.__name__} in the adapter{parts_out(done)}"
                return self._doubt(claim, self.stamp(), reason)
            self._crash_if(f"after-part-{number}")
            try:
                part, held = self._partparts_out(claim, number, key, receipt)
                done.append(part)
                if not held:
                    return self._late_part(claim, total)
            except LedgerUnavailable:
                # Out but not recorded: settled like an interrupted part once the ledger is back.
                reason = f"part {number}/{total} is out but the ledger was unreachable"
                return self._settle_doubt_later(claim, self.stamp(), reason)
            log.info("published part %d/%d of %s on %s: %s", number, total, claim.post, claim.channel, receipt.url)
        return self._thread_published(claim, done, self.stamp(), f"all {total} parts out", None)

    def _changed_mid_thread(self, claim: Claim, parts: list[Part]) -> Outcome | None:
        """A thread whose text changed after some parts went out is not finished with the new text
        (its parts would not follow on): it fails, alerted, for a person to decide."""
        if all(p.key == part_key(claim.key, p.part) for p in parts):
            return None
        out = [p for p in parts if p.published_at is not None]
        message = f"the post changed after part of its thread went out, so the thread stops{parts_out(out)}"
        return self._settle(claim, State.FAILED, self.stamp(), message, alert=("failed", message))

    def _partparts_out(self, claim: Claim, number: int, key: str, receipt: Receipt) -> tuple[Part, bool]:
        """Record a part out; it, and whether this worker still holds the delivery."""
        now = self.stamp()
        held = self.ledger.threads.part_published(
            claim, number, now, remote_id=receipt.remote_id, cid=receipt.cid, url=receipt.url
        )
        return Part(number, key, now, receipt.remote_id, receipt.cid, receipt.url, now), held

    def _late_part(self, claim: Claim, total: int) -> Outcome:
        """A part went out after another worker took the thread over (this one was stopped): it is out,
        so a doubt the other recorded about it is over. Told by the parts as recorded, with their URLs."""
        now = self.stamp()
        done = [p for p in self.ledger.threads.thread_parts(claim.id) if p.published_at is not None]
        if len(done) == total:
            return self._thread_published(claim, done, now, f"all {total} parts out", None)
        detail = f"part {done[-1].part}/{total} is out; resumes with part {len(done) + 1}/{total}{parts_out(done)}"
        return self._settle(claim, State.RETRY, now, detail, next_at=now, settles_doubt=True)

    def _thread_published(
        self, claim: Claim, done: list[Part], now: datetime, detail: str, outcome: Attempted | None = Attempted.SETTLED
    ) -> Outcome:
        """The delivery is published when its last part is; its URL is the first part's."""
        first = done[0]
        return self._settle(
            claim, State.PUBLISHED, now, detail, outcome=outcome, url=first.url, remote_id=first.remote_id
        )

    def _lost(self, claim: Claim, detail: str) -> Outcome:
        """Another worker took the thread over before this one's next part left: that is noted in an
        attempt row of this worker's own; the thread is the other's."""
        log.error("%s on %s was taken over by another worker; its thread is theirs now", claim.post, claim.channel)
        return self._settle(claim, State.PENDING, self.stamp(), detail, outcome=Attempted.INTERRUPTED)

    def settle_thread(self, claim: Claim, channel: Channel, post: RenderedPost, now: datetime, reason: str) -> Outcome:
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
            return self._settle(
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
                return self._doubt(claim, now, f"{what}; the lookup failed: {exc.reason}{parts_out(done)}")
            if receipt is not None:
                done.append(self._partparts_out(claim, part.part, part.key, receipt)[0])
                if len(done) == total:
                    return self._thread_published(claim, done, now, f"{what}; found on the network")
                detail = f"{what}; found on the network, resumes with part {part.part + 1}/{total}"
                return self._settle(claim, State.RETRY, now, detail, next_at=now, outcome=Attempted.SETTLED)
            self.ledger.threads.part_not_sent(claim, part.part)
            detail = f"{what}; not on the network, so sent again"
            return self._settle(claim, State.RETRY, now, detail, next_at=now, outcome=Attempted.RETRY)
        if (now - part.started_at).total_seconds() < channel.idempotent_for:
            detail = f"{what}; the network deduplicates this key, so sent again"
            return self._settle(claim, State.RETRY, now, detail, next_at=now, outcome=Attempted.RESEND)
        return self._doubt(claim, now, f"{what}{parts_out(done)}")

    def stamp(self) -> datetime:
        """The clock's now; this host's while the ledger (whose clock it may be) is unreachable."""
        return stamp(self.clock)

    def recover(self, now: datetime) -> list[Outcome]:
        """Settle deliveries left in `sending` by a worker that died, without ever resending blindly.
        Only those this worker took over: another daemon may be settling the same ones."""
        outcomes = []
        self.alerter.send_unsent(now)
        for stale in self.ledger.sends.stale_claims(now, self.worker, self.policy.stale_after):
            claim = self.ledger.sends.take_over(stale, self.worker, now)
            if claim is None:
                continue
            if self.ledger.sends.attempt_outcome(claim.attempt_id) == Attempted.CLAIMED:
                # The crash came before the request was about to leave: nothing went out.
                outcomes.append(
                    self._settle(
                        claim,
                        State.RETRY,
                        now,
                        "interrupted before sending",
                        next_at=now,
                        outcome=Attempted.INTERRUPTED,
                    )
                )
            else:
                outcomes.append(self.settle_doubt(claim, now, "the daemon stopped while sending"))
        return outcomes

    def settle_doubt(self, claim: Claim, now: datetime, reason: str, outcome: Attempted | None = None) -> Outcome:
        """The request may have reached the network: ask it, or resend within its idempotency window."""
        try:
            channel = self.channels.get(claim.channel)
        except CampaignError as exc:
            return self._doubt(claim, now, f"{reason}; cannot check: {exc}")
        post = payload.decode(claim.payload, claim.post, claim.channel)
        if post.parts:
            return self.settle_thread(claim, channel, post, now, reason)
        first = self.ledger.sends.first_attempt(claim.key) or claim.claimed_at
        if channel.can_lookup:
            try:
                receipt = channel.lookup(claim.key, payload.decode(claim.payload, claim.post, claim.channel), first)
            except ChannelError as exc:
                return self._doubt(claim, now, f"{reason}; the lookup failed: {exc.reason}")
            if receipt is not None:
                return self._settle(
                    claim,
                    State.PUBLISHED,
                    now,
                    f"{reason}; found on the network",
                    outcome=Attempted.SETTLED,
                    url=receipt.url,
                    remote_id=receipt.remote_id,
                )
            return self._settle(
                claim,
                State.RETRY,
                now,
                f"{reason}; not on the network, so sent again",
                next_at=now,
                outcome=outcome or Attempted.RETRY,
            )
        if (now - first).total_seconds() < channel.idempotent_for:
            # The resend with the same key is the settlement (the network answers with what it has).
            return self._settle(
                claim,
                State.RETRY,
                now,
                f"{reason}; the network deduplicates this key, so sent again",
                next_at=now,
                outcome=Attempted.RESEND,
            )
        return self._doubt(claim, now, reason)

    def _settle_doubt_later(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        try:
            return self.settle_doubt(claim, now, reason)
        except LedgerUnavailable:
            self._keep(claim, "in doubt", lambda: self.settle_doubt(claim, now, reason))
            return Outcome(
                claim.post, claim.channel, State.SENDING, f"{reason}; settled once the ledger is back", now, claim.due
            )

    def _doubt(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        message = f"{reason}. It may or may not be out: check the account, then `campaign resolve`"
        return self._settle(claim, State.IN_DOUBT, now, message, alert=("in_doubt", message))

    def _release(self, claim: Claim, now: datetime) -> Outcome:
        """The ledger went away before the request left: nothing was sent; it goes back to pending."""
        return self._settle(
            claim, State.PENDING, now, "the ledger was unreachable; nothing sent", outcome=Attempted.INTERRUPTED
        )

    def _retry(self, claim: Claim, now: datetime, reason: str, after: float | None) -> Outcome:
        if claim.attempts >= self.policy.max_attempts:
            message = f"gave up after {claim.attempts} attempts: {reason}"
            return self._settle(claim, State.FAILED, now, message, alert=("failed", message))
        wait = timedelta(seconds=after) if after is not None else self.policy.backoff(claim.attempts)
        log.warning("%s on %s: %s; retrying in %s", claim.post, claim.channel, reason, human(wait))
        return self._settle(claim, State.RETRY, now, reason, next_at=now + wait)

    def _settle(
        self,
        claim: Claim,
        state: State,
        now: datetime,
        detail: str,
        *,
        outcome: Attempted | None = None,
        next_at: datetime | None = None,
        url: str | None = None,
        remote_id: str | None = None,
        alert: tuple[str, str] | None = None,
        settles_doubt: bool = False,
    ) -> Outcome:
        """Record an outcome and its alert together; while the ledger is unreachable, keep them in
        memory (`flush` records them) and send the alert anyway. `settles_doubt`: see Ledger.settle."""
        new_alert = None if alert is None else NewAlert(alert[0], alert[1], self.alerter.has_webhook)
        if alert is not None:
            self.alerter.log(alert[0], claim.post, claim.channel, alert[1])

        def record(new: NewAlert | None = new_alert) -> tuple[bool, int | None]:
            return self.ledger.settle(
                claim,
                state,
                now,
                detail,
                outcome=outcome,
                receipt_url=url,
                remote_id=remote_id,
                next_attempt_at=next_at,
                alert=new,
                settles_doubt=settles_doubt,
            )

        done = Outcome(claim.post, claim.channel, state, detail, now, claim.due, url)
        try:
            held, alert_id = record()
        except LedgerUnavailable:
            if self._replaying:
                raise
            if new_alert is not None:
                self.alerter.send(None, new_alert.kind, claim.post, claim.channel, new_alert.message, now)
                sent = NewAlert(new_alert.kind, new_alert.message, unsent=False)
                self._keep(claim, state, lambda: self._recorded(claim, *record(sent)))
            else:
                self._keep(claim, state, lambda: self._recorded(claim, *record()))
            return done
        self._recorded(claim, held, None)
        if held and new_alert is not None and alert_id is not None:  # None: the ledger found it moot
            self.alerter.send(alert_id, new_alert.kind, claim.post, claim.channel, new_alert.message, now)
        if not held and state == State.PUBLISHED:
            self._second_copy(claim, url, remote_id, now)
        return done

    def _second_copy(self, claim: Claim, url: str | None, remote_id: str | None, now: datetime) -> None:
        """Out once more after another worker took the send over, and not as the post recorded: alerted."""
        rows = self.ledger.views.rows(post=claim.post, channel=claim.channel)
        if not rows or remote_id is None or rows[0].remote_id in (None, remote_id):
            return
        row = rows[0]
        message = (
            f"published twice: {url or remote_id} went out after another worker took the send over and "
            f"recorded {row.receipt_url or row.remote_id}; delete one of them on the network"
        )
        self.alerter.alert("double", claim.post, claim.channel, message, now)

    def _recorded(self, claim: Claim, held: bool, _alert_id: int | None) -> None:
        if not held:
            log.error(
                "%s on %s was taken over by another worker; what this one learnt is an attempt of its own",
                claim.post,
                claim.channel,
            )

    def _keep(self, claim: Claim, state: str, record: Callable[[], object]) -> None:
        log.warning(
            "the ledger is unreachable: %s on %s is %s; kept in memory until it is back",
            claim.post,
            claim.channel,
            state,
        )
        with self._lock:
            self._unrecorded.append((claim, state, record))

    @property
    def unrecorded(self) -> int:
        """Outcomes kept in memory because the ledger was unreachable."""
        with self._lock:
            return len(self._unrecorded)

    def flush(self) -> int:
        """Record the outcomes kept while the ledger was unreachable, oldest first; LedgerUnavailable
        (the rest kept) if it still is. Call it between passes, when no send is under way."""
        self.alerter.flush()
        recorded = 0
        while True:
            with self._lock:
                if not self._unrecorded:
                    return recorded
                claim, state, record = self._unrecorded[0]
            self._replaying = True
            try:
                record()
            finally:
                self._replaying = False
            with self._lock:
                self._unrecorded.pop(0)
            recorded += 1
            log.info("recorded %s on %s as %s now that the ledger is back", claim.post, claim.channel, state)

    def abandon_in_flight(self, now: datetime) -> None:
        """At shutdown: record the sends still under way; the next start settles them."""
        with self._lock:
            left = list(self.in_flight.values())
        for claim in left:
            log.warning(
                "stopping during the send of %s on %s; it will be settled at the next start", claim.post, claim.channel
            )
            with contextlib.suppress(LedgerUnavailable):
                stopped = "stopped during the send"
                self.ledger.alerts.record_alert("interrupted", claim.post, claim.channel, stopped, now)
        with self._lock:
            unrecorded = list(self._unrecorded)
        for claim, state, _ in unrecorded:
            log.error(
                "stopping with %s on %s %s but not recorded (the ledger is unreachable); the next start settles it",
                claim.post,
                claim.channel,
                state,
            )

    def _crash_if(self, point: str) -> None:
        if self._fault == point:  # fault injection for the crash tests (CAMPAIGN_FAULT)
            os.kill(os.getpid(), signal.SIGKILL)


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


def rehearse(publisher: Publisher, clock: SimulatedClock, until: datetime | None = None) -> Iterator[Outcome]:
    """Passes at each moment the ledger next wakes, with `clock` (the publisher's) moved there, until
    nothing is due before `until`: a campaign's run in simulated time."""
    while True:
        wake = publisher.ledger.sends.next_wake()
        if wake is None or (until is not None and wake >= until):
            return
        clock.set(max(clock.now(), wake))
        yield from publisher.make_pass().outcomes
