"""The outcome of a claim: recorded with its alert in one transaction (a kill never leaves one
without the other), over the claim only while it still stands; a worker whose send another took
over records what it learnt as an attempt row of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from scheduler.publish.states import Attempted, State
from scheduler.publish.store.alerts import NewAlert, insert_alert
from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import attempts, deliveries
from scheduler.publish.store.sends import Claim, holding
from scheduler.publish.store.threads import doubt_over, open_part, parts_out
from scheduler.secrets import redact


def settle(
    db: Database,
    claim: Claim,
    state: State,
    now: datetime,
    detail: str,
    *,
    outcome: Attempted | None = None,
    receipt_url: str | None = None,
    remote_id: str | None = None,
    next_attempt_at: datetime | None = None,
    alert: NewAlert | None = None,
    settles_doubt: bool = False,
) -> tuple[bool, int | None]:
    """Record the outcome of a claim, and its alert in the same transaction (so a kill never
    leaves one without the other). (False, None) if this worker no longer held it: then its
    outcome is an attempt row of its own (see `_late`); else (True, the alert's id)."""
    detail = redact(detail)[:2000]
    values: dict[str, Any] = {
        "state": state,
        "reason": None if state == State.PUBLISHED else detail,
        "updated_at": now,
        "claimed_by": None,
        "next_attempt_at": next_attempt_at,
    }
    if state == State.PUBLISHED:
        values.update(
            receipt_url=receipt_url,
            remote_id=remote_id,
            published_at=now,
            published_version=claim.version,
            changed_after_publishing=False,
        )
    if state in (State.PENDING, State.HELD):  # released or held without sending: this attempt does not count
        values["attempts"] = deliveries.c.attempts - 1
    if state == State.HELD:  # held at its time (the link check): alerted with this outcome
        values["hold_alerted_at"] = now
    with db.tx() as conn:
        if state == State.IN_DOUBT and (out := doubt_over(conn, claim.id)):
            # The part in doubt was recorded out meanwhile (by the worker that sent it, back from a
            # stop): nothing is in doubt, and the reason says what the parts table has.
            detail = f"in doubt no more: part {out[-1].part} was recorded out meanwhile{parts_out(out)}"
            values.update(state=State.RETRY, reason=detail, next_attempt_at=now)
            outcome, alert = Attempted.SETTLED, None
        done = conn.execute(update(deliveries).where(*holding(claim)).values(**values)).rowcount
        if not done:
            # Another worker took the send over (this one was stopped, or cut off): its record stands.
            _late(db, conn, claim, state, now, detail, receipt_url, remote_id, next_attempt_at, settles_doubt)
            return False, None
        conn.execute(
            update(attempts)
            .where(attempts.c.id == claim.attempt_id)
            .values(finished_at=now, outcome=outcome or Attempted(state.value), detail=detail)
        )
        alert_id = None if alert is None else insert_alert(conn, alert, claim.post, claim.channel, now)
    return True, alert_id


def _late(
    db: Database,
    conn: Connection,
    claim: Claim,
    state: State,
    now: datetime,
    detail: str,
    receipt_url: str | None,
    remote_id: str | None,
    next_attempt_at: datetime | None,
    settles_doubt: bool,
) -> None:
    """The outcome of a claim another worker took over, recorded as this worker's own attempt row
    (the other's rows are never touched). What went out is the truth of the delivery: a post out
    is published with its URL (the other's `in_doubt` or retry was a guess); a thread part out
    settles a doubt about it (`settles_doubt`): the thread resumes with the next part."""
    query = select(deliveries).where(deliveries.c.id == claim.id)
    row = conn.execute(query if db.is_sqlite else query.with_for_update()).first()
    if row is None:
        return
    answered = "answered after another worker took the send over"
    outcome, note = Attempted.LATE, f"{answered} ({row.state} then): {detail}"
    if state == State.PUBLISHED:
        where = receipt_url or remote_id or "no URL given"
        if row.state == State.PUBLISHED:
            if (remote_id or receipt_url) == (row.remote_id if remote_id else row.receipt_url):
                note = f"{answered}: published {where}, the post already recorded as published"
            else:
                outcome = Attempted.PUBLISHED  # a second copy on the network: both are recorded
                other = row.receipt_url or row.remote_id
                note = f"{answered}: published {where}, a second copy of {other}: delete one on the network"
        else:
            gone = row.state == State.CANCELLED
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id, deliveries.c.state == row.state)
                .values(
                    state=State.PUBLISHED,
                    reason="removed from the files after publishing" if gone else None,
                    receipt_url=receipt_url,
                    remote_id=remote_id,
                    published_at=now,
                    published_version=claim.version,
                    changed_after_publishing=gone or row.version != claim.version,
                    claimed_by=None,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            outcome = Attempted.PUBLISHED
            note = f"{where} ({answered}, which had it as {row.state})"
            if row.state == State.SENDING:  # the taker had not settled this worker's own attempt yet
                own = conn.execute(
                    update(attempts)
                    .where(
                        attempts.c.id == claim.attempt_id,
                        attempts.c.worker == claim.claimed_by,
                        attempts.c.finished_at.is_(None),
                    )
                    .values(finished_at=now, outcome=outcome, detail=note[:2000])
                ).rowcount
                if own:
                    return
    elif (
        settles_doubt
        and row.state in (State.IN_DOUBT, State.RETRY, State.PENDING)
        and row.claimed_by is None
        and open_part(conn, row.id) is None
    ):  # nothing left in doubt: what the parts table says is the reason
        values: dict[str, Any] = {"reason": detail, "updated_at": now}
        if row.state == State.IN_DOUBT:
            values.update(state=state, next_attempt_at=next_attempt_at)
        same = (deliveries.c.id == row.id, deliveries.c.state == row.state)
        conn.execute(update(deliveries).where(*same).values(**values))
    conn.execute(
        attempts.insert().values(
            delivery_id=claim.id,
            post=claim.post,
            channel=claim.channel,
            key=claim.key,
            worker=claim.claimed_by,
            started_at=claim.claimed_at,
            finished_at=now,
            outcome=outcome,
            detail=note[:2000],
        )
    )
