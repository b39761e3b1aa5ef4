"""What the team is told of sign-offs: an approval the files voided, and a post still waiting near its time."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from scheduler.publish import wording
from scheduler.publish.alerts import Alerter
from scheduler.publish.ledger import Ledger
from scheduler.words import N_, Said

WARNINGS = (timedelta(hours=48), timedelta(hours=4))  # a post still waiting for sign-off is alerted then


def alert(ledger: Ledger, alerter: Alerter, now: datetime) -> None:
    """Alert each approval that what goes out changed since (once), and each post still waiting for
    sign-off 48 and 4 hours before its time (once each)."""
    for post, person in ledger.signoffs.void_changed(now):
        changed = Said.of(
            N_(
                "what goes out changed since {person} approved it, so it is held until {person} approves "
                "the new text: `campaign signoff request {post} --for {person}` makes a new link"
            ),
            person=person,
            post=post,
        )
        alerter.alert("signoff", post, None, changed, now)
    for standing in ledger.signoffs.standings():
        left = standing.due - now
        if standing.reason is None or left <= timedelta(0) or left > WARNINGS[0]:
            continue
        kind = "signoff-4h" if left <= WARNINGS[1] else "signoff-48h"
        if not ledger.alerts.told(kind, standing.post):
            waiting = Said.of(
                N_("due in {left} but not sent until then unless it is approved: {reason}"),
                left=wording.said_by(partial(_duration, left)),
                reason=standing.reason,
            )
            alerter.alert(kind, standing.post, None, waiting, now)


def _duration(delta: timedelta, language: str) -> str:
    return wording.duration(delta, language)
