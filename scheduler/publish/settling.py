"""Settling a send: its outcome recorded with its alert in one step, kept in memory while the
ledger is unreachable and recorded once it is back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler.content.problems import human
from scheduler.errors import LedgerUnavailable
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import Clock, stamp
from scheduler.publish.ledger import Ledger
from scheduler.publish.policy import Outcome, Policy
from scheduler.publish.states import Attempted, State
from scheduler.publish.store.alerts import NewAlert
from scheduler.publish.store.sends import Claim
from scheduler.words import N_, Said

log = logging.getLogger("scheduler.publish.publisher")


class Settler:
    """Records each outcome with its alert; while the ledger is unreachable, keeps them in memory
    (oldest first) until `flush` records them. Thread-safe."""

    def __init__(self, ledger: Ledger, alerter: Alerter, policy: Policy, clock: Clock) -> None:
        self.ledger, self.alerter, self.policy, self.clock = ledger, alerter, policy, clock
        self._lock = threading.Lock()
        # Outcomes that could not be recorded while the ledger was unreachable, oldest first.
        self._unrecorded: list[tuple[Claim, str, Callable[[], object]]] = []
        self._replaying = False

    def stamp(self) -> datetime:
        """The clock's now; this host's while the ledger (whose clock it may be) is unreachable."""
        return stamp(self.clock)

    def doubt(self, claim: Claim, now: datetime, reason: str | Said) -> Outcome:
        said = Said.of(
            N_("{reason}. It may or may not be out: check the account, then `campaign resolve`"), reason=reason
        )
        return self.settle(claim, State.IN_DOUBT, now, str(said), alert=("in_doubt", said))

    def release(self, claim: Claim, now: datetime) -> Outcome:
        """The ledger went away before the request left: nothing was sent; it goes back to pending."""
        return self.settle(
            claim, State.PENDING, now, "the ledger was unreachable; nothing sent", outcome=Attempted.INTERRUPTED
        )

    def retry(self, claim: Claim, now: datetime, reason: str, after: float | None, tell: bool = False) -> Outcome:
        """Try again later. `tell`: the team must fix what stops it, so its first attempt is alerted
        (kind `waiting`) rather than only the give-up or the miss, when it may be too late to fix."""
        if claim.attempts >= self.policy.max_attempts:
            said = Said.of(N_("gave up after attempt {n}: {reason}"), n=claim.attempts, reason=reason)
            return self.settle(claim, State.FAILED, now, str(said), alert=("failed", said))
        wait = timedelta(seconds=after) if after is not None else self.policy.backoff(claim.attempts)
        log.warning("%s on %s: %s; retrying in %s", claim.post, claim.channel, reason, human(wait))
        waiting = Said.of(N_("not sent yet, and tried again until it is fixed or too late: {reason}"), reason=reason)
        alert = ("waiting", waiting) if tell and claim.attempts <= 1 else None
        return self.settle(claim, State.RETRY, now, reason, next_at=now + wait, alert=alert)

    def settle(
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
        alert: tuple[str, str | Said] | None = None,
        settles_doubt: bool = False,
    ) -> Outcome:
        """Record an outcome and its alert together; while the ledger is unreachable, keep them in
        memory (`flush` records them) and send the alert anyway. `settles_doubt`: see store.settle.
        `detail` is the ledger's record (English); the alert is in the campaign's language."""
        new_alert = None if alert is None else NewAlert(alert[0], self.alerter.say(alert[1]), self.alerter.has_webhook)
        if alert is not None:
            self.alerter.log(alert[0], claim.post, claim.channel, str(alert[1]))

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
                self.keep(claim, state, lambda: self._recorded(claim, *record(sent)))
            else:
                self.keep(claim, state, lambda: self._recorded(claim, *record()))
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
        said = Said.of(
            N_(
                "published twice: {url} went out after another worker took the send over and recorded {recorded}; "
                "delete one of them on the network"
            ),
            url=url or remote_id,
            recorded=row.receipt_url or row.remote_id,
        )
        self.alerter.alert("double", claim.post, claim.channel, said, now)

    def _recorded(self, claim: Claim, held: bool, _alert_id: int | None) -> None:
        if not held:
            log.error(
                "%s on %s was taken over by another worker; what this one learnt is an attempt of its own",
                claim.post,
                claim.channel,
            )

    def keep(self, claim: Claim, state: str, record: Callable[[], object]) -> None:
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

    def report_unrecorded(self) -> None:
        """At shutdown: name each outcome still kept in memory (the next start settles its send)."""
        with self._lock:
            unrecorded = list(self._unrecorded)
        for claim, state, _ in unrecorded:
            log.error(
                "stopping with %s on %s %s but not recorded (the ledger is unreachable); the next start settles it",
                claim.post,
                claim.channel,
                state,
            )
