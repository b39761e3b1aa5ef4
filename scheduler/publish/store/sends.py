"""Sends: the delivery rows (a post on a channel) and their attempts; claims, takeovers and the
reads recovery needs. A claim is committed, with its attempt row, before any request leaves."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from scheduler.publish.states import Attempted, State
from scheduler.publish.store.db import Database
from scheduler.publish.store.operators import pause_over, paused_scopes
from scheduler.publish.store.schema import UTCDateTime, attempts, deliveries
from scheduler.publish.store.signoffs import fingerprint_in
from scheduler.publish.store.signoffs import state_of as signoff_state
from scheduler.publish.store.workers import alive, process_ended
from scheduler.signoff.fingerprint import decode_needs
from scheduler.words import Said

TAKEN_OVER = "another worker took the send over before its request left; nothing sent"


class SignoffHold(str):
    """Why a send must not leave for want of sign-off (Sends.about_to_send): it is held, not paused. The
    string is the reason as recorded (English); `said`, the same words for the campaign's language."""

    said: Said

    @classmethod
    def of(cls, said: Said) -> SignoffHold:
        hold = cls(str(said))
        hold.said = said
        return hold


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds in state `sending`, and its open attempt."""

    id: int
    attempt_id: int
    post: str
    channel: str
    key: str
    version: str
    payload: str
    due: datetime
    max_late: timedelta
    attempts: int
    text_hash: str
    allow_repeat: bool
    claimed_at: datetime
    claimed_by: str
    reason: str | None = None  # the row's reason when claimed (RETRY_REQUESTED: a person made it due)
    signoff: str | None = None  # who must approve its post first (scheduler.signoff.fingerprint.encode_needs)


@dataclass(frozen=True)
class Delivery:
    """One row of the ledger: a post on a channel, and where it is."""

    id: int
    post: str
    channel: str
    path: str
    due: datetime
    max_late: timedelta
    version: str
    key: str
    text_hash: str
    allow_repeat: bool
    payload: str
    state: State
    reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None
    receipt_url: str | None
    remote_id: str | None
    published_at: datetime | None
    published_version: str | None
    changed_after_publishing: bool
    updated_at: datetime
    hold_alerted_at: datetime | None
    signoff: str | None = None
    planned_from: str | None = None  # see scheduler.publish.fingerprint

    @classmethod
    def of(cls, row: Any) -> Delivery:
        values = row._asdict()
        values["max_late"] = timedelta(seconds=values.pop("max_late_s"))
        values["state"] = State(values["state"])
        return cls(**values)


@dataclass(frozen=True)
class Attempt:
    """One try of a delivery: when, by whom, with which key, and what became of it."""

    id: int
    delivery_id: int
    post: str
    channel: str
    key: str
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: Attempted
    detail: str | None

    @classmethod
    def of(cls, row: Any) -> Attempt:
        return cls(**(row._asdict() | {"outcome": Attempted(row.outcome)}))


class Sends:
    """Claims of due sends, takeovers of abandoned ones, and what recovery reads."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, worker: str, now: datetime, only: Collection[int] | None = None) -> Claim | None:
        """Take the next due delivery on a channel that is not paused, or None; `only`: of these ids."""
        with self.db.tx() as conn:
            paused = paused_scopes(conn)
            if "*" in paused:
                return None
            candidate = (
                select(deliveries.c.id)
                .where(
                    deliveries.c.state.in_((State.PENDING, State.RETRY)),
                    deliveries.c.due <= now,
                    or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
                    deliveries.c.channel.not_in(paused),
                    *(() if only is None else (deliveries.c.id.in_(list(only)),)),
                )
                .order_by(deliveries.c.due, deliveries.c.id)
                .limit(1)
            )
            if not self.db.is_sqlite:
                candidate = candidate.with_for_update(skip_locked=True)
            row = conn.execute(
                update(deliveries)
                .where(deliveries.c.id == candidate.scalar_subquery())
                .values(
                    state=State.SENDING,
                    claimed_by=worker,
                    claimed_at=now,
                    attempts=deliveries.c.attempts + 1,
                    updated_at=now,
                )
                .returning(deliveries)
            ).first()
            if row is None:
                return None
            attempt_id = conn.execute(
                attempts.insert().values(
                    delivery_id=row.id,
                    post=row.post,
                    channel=row.channel,
                    key=row.key,
                    worker=worker,
                    started_at=now,
                    outcome=Attempted.CLAIMED,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            return claim_of(row, attempt_id)

    def due_as_planned(self, now: datetime) -> list[Delivery]:
        """Deliveries due now (pending, or a retry whose time came) that carry what they were planned
        from: what a daemon may send at its start before it plans (scheduler.publish.daemon)."""
        with self.db.tx() as conn:
            query = select(deliveries).where(
                deliveries.c.state.in_((State.PENDING, State.RETRY)),
                deliveries.c.due <= now,
                or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
                deliveries.c.planned_from.is_not(None),
            )
            return [Delivery.of(row) for row in conn.execute(query.order_by(deliveries.c.due, deliveries.c.id))]

    def take_over(self, claim: Claim, worker: str, now: datetime) -> Claim | None:
        """Make an abandoned claim this worker's before settling it; None if another worker was first."""
        holder = (
            deliveries.c.claimed_by.is_(None)
            if claim.claimed_by is None
            else deliveries.c.claimed_by == claim.claimed_by
        )
        with self.db.tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(deliveries.c.id == claim.id, deliveries.c.state == State.SENDING, holder)
                .values(claimed_by=worker, updated_at=now)
            ).rowcount
            if not done:
                return None
            taken = replace(claim, claimed_by=worker)
            still_open = select(attempts.c.id).where(
                attempts.c.id == claim.attempt_id, attempts.c.finished_at.is_(None)
            )
            if conn.execute(still_open).first() is None:
                # No open attempt to settle (never so, but a send must not stay `sending` for want of
                # one): one of this worker's own, as one whose request may have left.
                attempt_id = conn.execute(
                    attempts.insert().values(
                        delivery_id=claim.id,
                        post=claim.post,
                        channel=claim.channel,
                        key=claim.key,
                        worker=worker,
                        started_at=claim.claimed_at,
                        outcome=Attempted.SENDING,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                taken = replace(taken, attempt_id=attempt_id)
        return taken

    def may_be_out(self, claim: Claim) -> bool:
        """Whether an earlier request with this claim's key may have reached the network and was sent
        again to settle it: then this send is that settlement, not a new send."""
        with self.db.tx() as conn:
            found = conn.execute(
                select(attempts.c.id)
                .where(
                    attempts.c.delivery_id == claim.id,
                    attempts.c.key == claim.key,
                    attempts.c.id != claim.attempt_id,
                    attempts.c.outcome.in_((Attempted.RESEND, Attempted.SENDING)),
                )
                .limit(1)
            ).first()
        return found is not None

    def about_to_send(self, claim: Claim, *, signoff: bool = True) -> str | None:
        """Right before the request leaves: None and the attempt marked `sending`, or why not to send.

        Checked in one transaction with the pause, so a pause committed before this point always
        stops the send; a crash before it leaves an attempt that provably sent nothing. TAKEN_OVER
        if another worker took the claim over meanwhile (this one was stopped): it must not send.
        A SignoffHold if its post needs sign-off (`signoff`: checked; not for a send that may be out
        or a thread begun) and not every person named approved exactly what goes out now.
        """
        with self.db.tx() as conn:
            pause = pause_over(conn, claim.channel)
            if not held(conn, claim):
                return TAKEN_OVER
            if pause is not None:
                # No time here: it is shown to people, in the campaign's zone, by `status` and `history`.
                return f"{pause.what} is paused: {pause.reason}"
            if signoff and claim.signoff:
                needs = decode_needs(claim.signoff)
                state = signoff_state(conn, claim.post, needs, fingerprint_in(conn, claim.post))
                said = state.held(UTC, claim.post)
                if said is not None:
                    return SignoffHold.of(said)
            conn.execute(update(attempts).where(attempts.c.id == claim.attempt_id).values(outcome=Attempted.SENDING))
        return None

    def paused(self, channel: str) -> str | None:
        """Why sends on `channel` are paused now, or None (scheduler.channels.base.PauseWatch)."""
        with self.db.tx() as conn:
            pause = pause_over(conn, channel)
        return None if pause is None else f"{pause.what} is paused: {pause.reason}"

    def attempt_outcome(self, attempt_id: int) -> Attempted | None:
        with self.db.tx() as conn:
            found = conn.execute(select(attempts.c.outcome).where(attempts.c.id == attempt_id)).scalar_one_or_none()
        return None if found is None else Attempted(found)

    def first_attempt(self, key: str) -> datetime | None:
        """When a request with this key may first have reached the network."""
        with self.db.tx() as conn:
            value = conn.execute(
                select(func.min(attempts.c.started_at)).where(
                    attempts.c.key == key,
                    attempts.c.outcome.not_in((Attempted.CLAIMED, Attempted.PAUSED, Attempted.MISSED, Attempted.HELD)),
                )
            ).scalar_one()
        return UTCDateTime().process_result_value(value, self.db.engine.dialect)

    def stale_claims(self, now: datetime, me: str, stale_after: timedelta) -> list[Claim]:
        """Deliveries left in `sending` by a worker that is gone (crash, kill, lost host); `me` (the
        worker asking) is alive, others as `Workers.live` says."""
        with self.db.tx() as conn:
            rows = list(conn.execute(select(deliveries).where(deliveries.c.state == State.SENDING)))
            live = {me, *alive(conn, now, stale_after)} if rows else set()
            found = []
            for row in rows:
                # A claim younger than stale_after may be a worker that has not heartbeated yet (a
                # `run --once` on another host): only a process known to have ended gives it up sooner.
                fresh = row.claimed_at is not None and row.claimed_at > now - stale_after
                if row.claimed_by in live or (fresh and process_ended(row.claimed_by or "") is not True):
                    continue
                # Its open attempt: not a row a worker that was taken over added of its own (closed).
                attempt_id = conn.execute(
                    select(func.max(attempts.c.id)).where(
                        attempts.c.delivery_id == row.id, attempts.c.finished_at.is_(None)
                    )
                ).scalar_one()
                found.append(claim_of(row, attempt_id if attempt_id is not None else 0))
            return found

    def next_wake(self, *, unpaused: bool = False, held: bool = True) -> datetime | None:
        """The earliest time a pending or waiting delivery becomes due; `unpaused`: only those on
        channels that no pause holds (what a daemon can send next); `held`: or a held one, to alert."""
        with self.db.tx() as conn:
            paused = paused_scopes(conn) if unpaused else []
            due = retry = None
            if "*" not in paused:
                free = deliveries.c.channel.not_in(paused)
                due = conn.execute(
                    select(func.min(deliveries.c.due)).where(deliveries.c.state == State.PENDING, free)
                ).scalar_one()
                retry = conn.execute(
                    select(func.min(deliveries.c.next_attempt_at)).where(deliveries.c.state == State.RETRY, free)
                ).scalar_one()
            alert = (
                conn.execute(
                    select(func.min(deliveries.c.due)).where(
                        deliveries.c.state == State.HELD, deliveries.c.hold_alerted_at.is_(None)
                    )
                ).scalar_one()
                if held
                else None
            )
        found = (UTCDateTime().process_result_value(t, self.db.engine.dialect) for t in (due, retry, alert) if t)
        return min((t for t in found if t is not None), default=None)

    def held_now_due(self, now: datetime) -> list[Delivery]:
        """Held deliveries whose time has come and that were not alerted yet, marked alerted.

        One UPDATE … RETURNING: of several daemons (or a restart), exactly one gets each row.
        """
        with self.db.tx() as conn:
            return [
                Delivery.of(row)
                for row in conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.state == State.HELD,
                        deliveries.c.due <= now,
                        deliveries.c.hold_alerted_at.is_(None),
                    )
                    .values(hold_alerted_at=now)
                    .returning(deliveries)
                )
            ]


def holding(claim: Claim) -> tuple[Any, ...]:
    """The claim still stands: its delivery is sending for its worker, and its attempt is open (not
    closed by a worker that took it over, nor an earlier claim of the same worker that came back)."""
    open_attempt = (
        select(attempts.c.id).where(attempts.c.id == claim.attempt_id, attempts.c.finished_at.is_(None)).exists()
    )
    return (
        deliveries.c.id == claim.id,
        deliveries.c.state == State.SENDING,
        deliveries.c.claimed_by == claim.claimed_by,
        open_attempt,
    )


def held(conn: Connection, claim: Claim) -> bool:
    """Whether this worker's claim still stands (see `holding`)."""
    return conn.execute(select(deliveries.c.id).where(*holding(claim))).first() is not None


def claim_of(row: Any, attempt_id: int) -> Claim:
    return Claim(
        id=row.id,
        attempt_id=attempt_id,
        post=row.post,
        channel=row.channel,
        key=row.key,
        version=row.version,
        payload=row.payload,
        due=row.due,
        max_late=timedelta(seconds=row.max_late_s),
        attempts=row.attempts,
        text_hash=row.text_hash,
        allow_repeat=row.allow_repeat,
        claimed_at=row.claimed_at,
        claimed_by=row.claimed_by,
        reason=row.reason,
        signoff=row.signoff,
    )
