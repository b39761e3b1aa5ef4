"""Recovery: a send that a stopped worker left, or whose request may have reached the network,
settled without ever resending blindly."""

from __future__ import annotations

from datetime import datetime

from scheduler.errors import CampaignError, ChannelError, LedgerUnavailable
from scheduler.publish import payload
from scheduler.publish.adapters import Channels
from scheduler.publish.alerts import Alerter
from scheduler.publish.ledger import Ledger
from scheduler.publish.policy import Outcome, Policy
from scheduler.publish.settling import Settler
from scheduler.publish.states import Attempted, State
from scheduler.publish.store.sends import Claim
from scheduler.publish.threads import ThreadSender
from scheduler.words import N_, Said


class Recovery:
    """Settles the sends other workers left in `sending` (a crash, a kill, a lost host) and those in
    doubt: by asking the network, by a resend within its idempotency window, or by a person."""

    def __init__(
        self,
        ledger: Ledger,
        channels: Channels,
        alerter: Alerter,
        settler: Settler,
        threads: ThreadSender,
        policy: Policy,
        worker: str,
    ) -> None:
        self.ledger, self.channels, self.alerter, self.settler, self.threads = (
            ledger,
            channels,
            alerter,
            settler,
            threads,
        )
        self.policy, self.worker = policy, worker

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
                    self.settler.settle(
                        claim,
                        State.RETRY,
                        now,
                        "interrupted before sending",
                        next_at=now,
                        outcome=Attempted.INTERRUPTED,
                    )
                )
            else:
                outcomes.append(self.settle_doubt(claim, now, Said.of(N_("the daemon stopped while sending"))))
        return outcomes

    def settle_doubt(self, claim: Claim, now: datetime, why: str | Said, outcome: Attempted | None = None) -> Outcome:
        """The request may have reached the network: ask it, or resend within its idempotency window.
        `why`: in the alert, if a person must decide, in the campaign's language."""
        reason = str(why)
        try:
            channel = self.channels.get(claim.channel)
        except CampaignError as exc:
            return self.settler.doubt(
                claim, now, Said.of(N_("{reason}; cannot check: {error}"), reason=why, error=str(exc))
            )
        post = payload.decode(claim.payload, claim.post, claim.channel)
        if post.parts:
            return self.threads.settle(claim, channel, post, now, reason)
        first = self.ledger.sends.first_attempt(claim.key) or claim.claimed_at
        if channel.can_lookup:
            try:
                receipt = channel.lookup(claim.key, payload.decode(claim.payload, claim.post, claim.channel), first)
            except ChannelError as exc:
                failed = Said.of(N_("{reason}; the lookup failed: {error}"), reason=why, error=exc.reason)
                return self.settler.doubt(claim, now, failed)
            if receipt is not None:
                return self.settler.settle(
                    claim,
                    State.PUBLISHED,
                    now,
                    f"{reason}; found on the network",
                    outcome=Attempted.SETTLED,
                    url=receipt.url,
                    remote_id=receipt.remote_id,
                )
            return self.settler.settle(
                claim,
                State.RETRY,
                now,
                f"{reason}; not on the network, so sent again",
                next_at=now,
                outcome=outcome or Attempted.RETRY,
            )
        if (now - first).total_seconds() < channel.idempotent_for:
            # The resend with the same key is the settlement (the network answers with what it has).
            return self.settler.settle(
                claim,
                State.RETRY,
                now,
                f"{reason}; the network deduplicates this key, so sent again",
                next_at=now,
                outcome=Attempted.RESEND,
            )
        return self.settler.doubt(claim, now, why)

    def settle_doubt_later(self, claim: Claim, now: datetime, reason: str) -> Outcome:
        try:
            return self.settle_doubt(claim, now, reason)
        except LedgerUnavailable:
            self.settler.keep(claim, "in doubt", lambda: self.settle_doubt(claim, now, reason))
            return Outcome(
                claim.post, claim.channel, State.SENDING, f"{reason}; settled once the ledger is back", now, claim.due
            )
