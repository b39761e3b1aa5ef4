"""One pass of publishing: what is due now → claim → send → record. It has no timer of its own:
`now` is an argument, so the daemon, `run --once`, `rehearse` and the tests run the same code.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler import secrets, settings
from scheduler.channels.base import Channel, LinkCard, MediaItem, RenderedPost
from scheduler.channels.registry import adapter_class, adapters
from scheduler.content.campaign import Campaign
from scheduler.content.plan import Entry, Plan
from scheduler.errors import CampaignError, ChannelError, InDoubt, LedgerUnavailable, Rejected, RetryLater
from scheduler.publish import holds
from scheduler.publish.alerts import Alerter
from scheduler.publish.ledger import RESEND, Claim, Ledger, NewAlert, Wanted, payload_json
from scheduler.publish.synced import Synced

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
    state: str  # published, retry, failed, in_doubt, missed, pending (released), ...
    detail: str
    at: datetime
    due: datetime
    url: str | None = None


class Channels:
    """Adapter instances by channel name, made on first use (secrets resolved then, not before)."""

    def __init__(self, campaign: Campaign, dry_run_dir: Path | None = None) -> None:
        self.campaign = campaign
        self.dry_run_dir = dry_run_dir  # every channel replaced by dry-run, writing here
        self._made: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def update(self, campaign: Campaign) -> None:
        """Take a newly read channels.yml; adapters whose settings changed are made again.

        A channel whose entry is now broken keeps its last good settings: its sends are held, but
        one left mid-send can still be settled through it."""
        with self._lock:
            kept = {
                name: config
                for name, config in self.campaign.channels.items()
                if name in campaign.broken_channels and name not in campaign.channels
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
            like = config.settings.get("like", config.type) if config.type == "dryrun" else config.type
            return DryRunChannel(name, {"outbox": str(self.dry_run_dir / "outbox.jsonl"), "like": like})
        cls = adapter_class(config.type)
        resolved = dict(secrets.resolve(dict(config.settings)))
        if config.type == "dryrun":
            outbox = Path(resolved.get("outbox") or "dryrun-outbox.jsonl")
            resolved["outbox"] = str(outbox if outbox.is_absolute() else self.campaign.root / outbox)
        return cls(name, resolved)

    def cannot_publish(self, name: str) -> str | None:
        """Why `name`'s sends must be held rather than tried: its type has no installed adapter."""
        config = self.campaign.channels.get(name)
        if self.dry_run_dir is not None or config is None or config.type in adapters():
            return None
        return f"channel {name} has type {config.type!r}, which no installed adapter can publish"

    def close(self) -> None:
        for channel in self._made.values():
            channel.close()


def wanted_from(
    plan: Plan,
    policy: Policy,
    reading: holds.Reading | None = None,
    memo: dict[int, tuple[Entry, Wanted]] | None = None,
) -> list[Wanted]:
    """The plan as ledger rows: publishable entries, and held ones (their errors, or a broken
    settings file that touches them, as the reason).

    `memo`: the row of each entry, kept between calls: a plan built with a cache
    (scheduler.content.cache) hands out the same entry until its text, time or media change."""
    reading = reading or holds.read(plan)
    quiet = not (reading.everything or reading.channels or reading.folders)  # no settings file holds anything
    wanted = []
    digests: dict[Path, str] = {}
    remembered: dict[int, tuple[Entry, Wanted]] = {}
    for entry in plan.entries:
        if entry.draft.draft:
            continue
        post = entry.post
        errors = [p for p in entry.problems if p.is_error]
        hold = None if quiet and not errors else holds.hold_for(reading, entry.draft.path, entry.channel.name, errors)
        if hold is None and post is None:
            hold = f"{entry.draft.path} could not be rendered for {entry.channel.name}"
        known = memo.get(id(entry)) if memo is not None else None
        if known is not None and known[0] is entry:
            row = known[1] if known[1].hold == hold else replace(known[1], hold=hold)
        else:
            row = _wanted(entry, policy, hold, digests)
        remembered[id(entry)] = (entry, row)
        wanted.append(row)
    if memo is not None:
        memo.clear()
        memo.update(remembered)
    return wanted


def _wanted(entry: Entry, policy: Policy, hold: str | None, digests: dict[Path, str]) -> Wanted:
    post = entry.post
    payload, version, text = "{}", "unrenderable", ""
    if post is not None:
        media = [{"path": str(m.path), "alt": m.alt} for m in post.media]
        card = None if post.card is None else {"title": post.card.title, "description": post.card.description}
        payload = payload_json(post.text, media, post.language, card, post.title)
        files = "".join(_digest(m.path, digests) for m in post.media)
        version = hashlib.sha256((payload + files).encode()).hexdigest()
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
        payload=payload,
        hold=hold,
    )


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


def rendered_post(claim: Claim) -> RenderedPost:
    data: dict[str, Any] = json.loads(claim.payload)
    card = data.get("card")
    return RenderedPost(
        post=claim.post,
        channel=claim.channel,
        text=data["text"],
        media=tuple(MediaItem(Path(m["path"]), m["alt"]) for m in data.get("media", [])),
        language=data.get("language", "nl"),
        card=LinkCard(**card) if card else None,
        title=data.get("title"),
    )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Publisher:
    """Sends due deliveries. Thread-safe: several threads may call `drain` at once."""

    def __init__(
        self, ledger: Ledger, channels: Channels, alerter: Alerter, policy: Policy, worker: str | None = None
    ) -> None:
        self.ledger, self.channels, self.alerter, self.policy = ledger, channels, alerter, policy
        self.worker = worker or worker_id()
        self.in_flight: dict[int, Claim] = {}
        self._lock = threading.Lock()
        # Outcomes that could not be recorded while the ledger was unreachable, oldest first.
        self._unrecorded: list[tuple[Claim, str, Callable[[], object]]] = []
        self._replaying = False
        self._fault = settings.get("CAMPAIGN_FAULT")
        self.synced = Synced()  # what the last sync gave the ledger
        self._rendered: dict[int, tuple[Entry, Wanted]] = {}  # see wanted_from

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

        unpublishable = {name: self.channels.cannot_publish(name) for name in plan.campaign.channels}
        wanted = [
            w if w.hold or not unpublishable.get(w.channel) else replace(w, hold=unpublishable[w.channel])
            for w in wanted_from(plan, self.policy, reading, self._rendered)
        ]
        changes = self.synced.changes(wanted, reading)
        busy: set[tuple[str, str]] = set()
        try:
            if changes is None:
                counts = self.ledger.sync(wanted, absent, now, busy=busy)
            else:
                counts = self.ledger.sync(
                    changes.wanted, absent, now, gone=changes.gone, paths=changes.paths, busy=busy
                )
        except BaseException:
            self.synced.forget()
            raise
        self.synced.remember(wanted, reading, changes is None, busy)
        self.alert_files(reading, now)
        return counts

    def alert_files(self, reading: holds.Reading, now: datetime) -> None:
        """One alert per settings file that became broken (or broken differently); a log line when fixed."""
        by_file: dict[str, list[str]] = {}
        for problem in reading.settings_problems():
            by_file.setdefault(problem.path, []).append(str(problem))
        current = {path: "; ".join(lines) for path, lines in by_file.items()}
        new, fixed = self.ledger.broken_files(current, now)
        for _path, message in new:
            self.alerter.alert(
                "broken_file", None, None, f"{message}; the sends it touches are held, nothing is cancelled", now
            )
        for path in fixed:
            log.info("%s is fixed; the sends it held follow the files again", path)

    def alert_held(self, now: datetime) -> list[Outcome]:
        """Alert, once, every held send whose time has come (its reason names the file and line)."""
        outcomes = []
        for row in self.ledger.held_now_due(now):
            message = f"its time has come but it is not sent: {row.reason or 'held'}"
            self.alerter.alert("held", row.post, row.channel, message, now)
            outcomes.append(Outcome(row.post, row.channel, "held", message, now, row.due))
        return outcomes

    def run_once(self, now: datetime | None = None, workers: int = 1) -> list[Outcome]:
        """Settle interrupted sends, then send everything due at `now` (default: the ledger's clock),
        `workers` at a time."""
        now = now or self.ledger.clock()
        outcomes = self.recover(now) + self.alert_held(now)
        if workers <= 1:
            return outcomes + self.drain(now, fixed=True)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
            futures = [pool.submit(self.drain, now, None, True) for _ in range(workers)]
        sent = [outcome for future in futures for outcome in future.result()]
        return outcomes + sorted(sent, key=lambda o: (o.due, o.post, o.channel))

    def drain(
        self, now: datetime | None = None, stop: threading.Event | None = None, fixed: bool = False
    ) -> list[Outcome]:
        """Claim and send until nothing is due. `fixed`: keep `now` (a simulated clock)."""
        outcomes = []
        while stop is None or not stop.is_set():
            at = now if (fixed and now is not None) else self.ledger.clock()
            claim = self.ledger.claim(self.worker, at)
            if claim is None:
                break
            outcomes.append(self.deliver(claim, at, fixed))
        return outcomes

    def deliver(self, claim: Claim, now: datetime, fixed: bool = False) -> Outcome:
        """Send one claimed delivery and record what happened. Never raises for the network."""
        self._crash_if("after-claim")
        try:
            # Settling a send that may be out is not a new send: max_late never applies to it.
            if now - claim.due > claim.max_late and not self.ledger.may_be_out(claim):
                late = now - claim.due
                message = f"{human(late)} late, more than its max_late of {human(claim.max_late)}; not sent"
                return self._settle(claim, "missed", now, message, alert=("missed", message))
        except LedgerUnavailable:
            return self._release(claim, now)
        with self._lock:
            self.in_flight[claim.id] = claim
        try:
            try:
                reason = self.ledger.about_to_send(claim)
            except LedgerUnavailable:
                return self._release(claim, now)
            if reason is not None:
                log.info("not sending %s on %s: %s", claim.post, claim.channel, reason)
                return self._settle(claim, "pending", now, reason, outcome="paused")
            try:
                channel = self.channels.get(claim.channel)
                log.info("sending %s on %s (attempt %d, key %s)", claim.post, claim.channel, claim.attempts, claim.key)
                receipt = channel.publish(rendered_post(claim), claim.key)
            except RetryLater as exc:
                return self._retry(claim, now, exc.reason, exc.after)
            except Rejected as exc:
                return self._settle(claim, "failed", now, exc.reason, alert=("failed", exc.reason))
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
                "published",
                now if fixed else self.clock(),
                receipt.url or "",
                url=receipt.url,
                remote_id=receipt.remote_id,
            )
            log.info("published %s on %s: %s", claim.post, claim.channel, receipt.url)
            return done
        finally:
            with self._lock:
                self.in_flight.pop(claim.id, None)

    def clock(self) -> datetime:
        """The ledger's clock; this host's while the ledger is unreachable."""
        try:
            return self.ledger.clock()
        except LedgerUnavailable:
            return datetime.now(UTC)

    def recover(self, now: datetime) -> list[Outcome]:
        """Settle deliveries left in `sending` by a worker that died, without ever resending blindly.
        Only those this worker took over: another daemon may be settling the same ones."""
        outcomes = []
        self.alerter.send_unsent(now)
        for stale in self.ledger.stale_claims(now, self._is_alive):
            claim = self.ledger.take_over(stale, self.worker, now)
            if claim is None:
                continue
            if self.ledger.attempt_outcome(claim.attempt_id) == "claimed":
                # The crash came before the request was about to leave: nothing went out.
                outcomes.append(
                    self._settle(claim, "retry", now, "interrupted before sending", next_at=now, outcome="interrupted")
                )
            else:
                outcomes.append(self.settle_doubt(claim, now, "the daemon stopped while sending"))
        return outcomes

    def settle_doubt(self, claim: Claim, now: datetime, reason: str, outcome: str | None = None) -> Outcome:
        """The request may have reached the network: ask it, or resend within its idempotency window."""
        try:
            channel = self.channels.get(claim.channel)
        except CampaignError as exc:
            return self._doubt(claim, now, f"{reason}; cannot check: {exc}")
        first = self.ledger.first_attempt(claim.key) or claim.claimed_at
        if channel.can_lookup:
            try:
                receipt = channel.lookup(claim.key, rendered_post(claim), first)
            except ChannelError as exc:
                return self._doubt(claim, now, f"{reason}; the lookup failed: {exc.reason}")
            if receipt is not None:
                return self._settle(
                    claim,
                    "published",
                    now,
                    f"{reason}; found on the network",
                    outcome="settled",
                    url=receipt.url,
                    remote_id=receipt.remote_id,
                )
            return self._settle(
                claim,
                "retry",
                now,
                f"{reason}; not on the network, so sent again",
                next_at=now,
                outcome=outcome or "retry",
            )
        if (now - first).total_seconds() < channel.idempotent_for:
            # The resend with the same key is the settlement (the network answers with what it has).
            return self._settle(
                claim,
                "retry",
                now,
                f"{reason}; the network deduplicates this key, so sent again",
                next_at=now,
                outcome=RESEND,
            )
        return self._doubt(claim, now, reason)

    def _settle_doubt_later(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        try:
            return self.settle_doubt(claim, now, reason)
        except LedgerUnavailable:
            self._keep(claim, "in doubt", lambda: self.settle_doubt(claim, now, reason))
            return Outcome(
                claim.post, claim.channel, "sending", f"{reason}; settled once the ledger is back", now, claim.due
            )

    def _doubt(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        message = f"{reason}. It may or may not be out: check the account, then `campaign resolve`"
        return self._settle(claim, "in_doubt", now, message, alert=("in_doubt", message))

    def _release(self, claim: Claim, now: datetime) -> Outcome:
        """The ledger went away before the request left: nothing was sent; it goes back to pending."""
        return self._settle(claim, "pending", now, "the ledger was unreachable; nothing sent", outcome="interrupted")

    def _retry(self, claim: Claim, now: datetime, reason: str, after: float | None) -> Outcome:
        if claim.attempts >= self.policy.max_attempts:
            message = f"gave up after {claim.attempts} attempts: {reason}"
            return self._settle(claim, "failed", now, message, alert=("failed", message))
        wait = timedelta(seconds=after) if after is not None else self.policy.backoff(claim.attempts)
        log.warning("%s on %s: %s; retrying in %s", claim.post, claim.channel, reason, human(wait))
        return self._settle(claim, "retry", now, reason, next_at=now + wait)

    def _settle(
        self,
        claim: Claim,
        state: str,
        now: datetime,
        detail: str,
        *,
        outcome: str | None = None,
        next_at: datetime | None = None,
        url: str | None = None,
        remote_id: str | None = None,
        alert: tuple[str, str] | None = None,
    ) -> Outcome:
        """Record an outcome and its alert together; while the ledger is unreachable, keep them in
        memory (`flush` records them) and send the alert anyway."""
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
        if held and new_alert is not None:
            self.alerter.send(alert_id, new_alert.kind, claim.post, claim.channel, new_alert.message, now)
        return done

    def _recorded(self, claim: Claim, held: bool, _alert_id: int | None) -> None:
        if not held:
            log.error("%s on %s was taken over by another worker; recorded the attempt only", claim.post, claim.channel)

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

    def _is_alive(self, worker: str | None, conn: Any) -> bool:
        from sqlalchemy import select

        from scheduler.publish.ledger import workers

        if worker is None:
            return False
        host, _, rest = worker.partition(":")
        pid = rest.partition(":")[0]
        row = conn.execute(select(workers.c.seen_at).where(workers.c.id == worker)).first()
        if host == socket.gethostname() and pid.isdigit():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
            return row is not None or worker == self.worker
        return row is not None and row.seen_at >= self.ledger.clock() - self.policy.stale_after

    def abandon_in_flight(self, now: datetime) -> None:
        """At shutdown: record the sends still under way; the next start settles them."""
        with self._lock:
            left = list(self.in_flight.values())
        for claim in left:
            log.warning(
                "stopping during the send of %s on %s; it will be settled at the next start", claim.post, claim.channel
            )
            with contextlib.suppress(LedgerUnavailable):
                self.ledger.record_alert("interrupted", claim.post, claim.channel, "stopped during the send", now)
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


def human(delta: timedelta) -> str:
    """'3 hours', '1 minute', '12 seconds': the largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            value = seconds // size
            return f"{value} {unit}{'s' if value != 1 else ''}"
    return f"{seconds} seconds"
