"""The ledger's vocabulary: the states of a delivery and the outcomes of an attempt.

Stored as these exact strings (StrEnum values compare equal to them), so no migration is needed.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a delivery is (see the diagram in scheduler.publish.ledger)."""

    PENDING = "pending"
    SENDING = "sending"
    RETRY = "retry"
    PUBLISHED = "published"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    MISSED = "missed"
    HELD = "held"
    CANCELLED = "cancelled"


#: States a sync of the files may change.
OPEN = frozenset({State.PENDING, State.RETRY, State.HELD, State.CANCELLED, State.FAILED, State.MISSED})
#: States that wait for a person (`retry`, `resolve`) rather than for the files.
FOR_A_PERSON = frozenset({State.FAILED, State.MISSED})


class Attempted(StrEnum):
    """What became of one attempt: the states it settled in, and the steps before and beside them."""

    CLAIMED = "claimed"  # taken; the request has not left
    SENDING = "sending"  # about to leave: it may have reached the network
    PUBLISHED = "published"
    RETRY = "retry"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    MISSED = "missed"
    PAUSED = "paused"  # a pause stopped it before it left
    HELD = "held"  # the link check held it before it left
    INTERRUPTED = "interrupted"  # stopped before it left (a crash, the ledger away)
    SETTLED = "settled"  # an interrupted send found on the network
    RESEND = "resend"  # it may be out, so sent again with the same key to settle it
    LATE = "late"  # answered after another worker had taken the send over: what it got is in its detail
