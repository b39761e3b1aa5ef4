"""Sign-offs: the links a person approves a post through (only a hash of each token is kept), their
decisions (approved, declined with a note, voided when what goes out changed), and the check a send
passes just before it leaves (`state_of`, called by Sends.about_to_send in its transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy import Connection, select, update

from scheduler.publish.holds import is_signoff_hold
from scheduler.publish.states import State
from scheduler.publish.store.alerts import NewAlert, insert_alert
from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import UTCDateTime, deliveries, signoff_decisions, signoff_requests
from scheduler.signoff.fingerprint import ANYONE, decode_needs, fingerprint, short
from scheduler.signoff.state import CHANGED, TEAM, WAITING, Person
from scheduler.signoff.state import State as SignoffState
from scheduler.signoff.tokens import new_token, token_hash
from scheduler.words import Said

APPROVED, DECLINED, VOIDED = "approved", "declined", "voided"


@dataclass(frozen=True)
class Request:
    """A link asked for one person to approve one post."""

    id: int
    post: str
    person: str
    made_at: datetime
    made_by: str
    expires_at: datetime
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class Decision:
    id: int
    request_id: int
    post: str
    person: str
    decision: str
    fingerprint: str
    note: str | None
    at: datetime
    seen: str | None = None  # an approval: what the person saw, as JSON (channel → text)


@dataclass(frozen=True)
class Standing:
    """Where one post that needs sign-off stands now: `reason` None when it may go out."""

    post: str
    path: str
    due: datetime
    needs: tuple[str, ...]
    fingerprint: str
    reason: str | None  # as recorded for a held send (English, after SIGNOFF_HELD)
    approved_by: tuple[str, ...]
    state: SignoffState  # the same as data, for views in the campaign's language


class Signoffs:
    """Sign-off links, decisions, and where each post that needs one stands."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def request(self, post: str, person: str, now: datetime, expires_at: datetime, by: str) -> tuple[str, Request]:
        """A new link for `person` to approve `post`: the token (shown once, never stored) and its row."""
        token = new_token()
        values = {
            "post": post,
            "person": person,
            "token_hash": token_hash(token),
            "made_at": now,
            "made_by": by,
            "expires_at": expires_at,
        }
        with self.db.tx() as conn:
            new_id = conn.execute(signoff_requests.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
            _refresh(conn, post, now)
        return token, Request(new_id, post, person, now, by, expires_at, None)

    def by_token(self, token: str, now: datetime) -> Request | None:
        """The request of a link that still works (not revoked, not expired), or None."""
        with self.db.tx(read=True) as conn:
            row = conn.execute(
                select(signoff_requests).where(signoff_requests.c.token_hash == token_hash(token))
            ).first()
        request = None if row is None else _request(row, self.db)
        return request if request is not None and request.usable(now) else None

    def revoke(self, post: str, person: str | None, now: datetime) -> int:
        """End the working links of `post` (for `person`, or everyone's); how many were ended."""
        where = [
            signoff_requests.c.post == post,
            signoff_requests.c.revoked_at.is_(None),
            signoff_requests.c.expires_at > now,
        ]
        if person is not None:
            where.append(signoff_requests.c.person == person)
        with self.db.tx() as conn:
            return conn.execute(update(signoff_requests).where(*where).values(revoked_at=now)).rowcount

    def decide(
        self, request: Request, decision: str, seen: str, note: str | None, now: datetime, texts: str | None = None
    ) -> Decision:
        """Record `person`'s decision on what they saw (`seen`: its fingerprint). An approval of what
        goes out now releases the post's sends held for it; one of an older text is recorded and changes
        nothing (the page shows the new text)."""
        with self.db.tx() as conn:
            new_id = conn.execute(
                signoff_decisions.insert().values(
                    request_id=request.id,
                    post=request.post,
                    person=request.person,
                    decision=decision,
                    fingerprint=seen,
                    note=note,
                    at=now,
                    seen=texts,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            _refresh(conn, request.post, now)
            if decision == DECLINED:  # the team is told (a daemon with a webhook delivers what is unsent)
                message = f"{request.person} declined it: {note or '(no note)'}; it is not sent until approved"
                insert_alert(conn, NewAlert("signoff", message, unsent=True), request.post, None, now)
        return Decision(new_id, request.id, request.post, request.person, decision, seen, note, now, texts)

    def current(self, post: str) -> tuple[tuple[str, ...], str, list[tuple[str, str]]]:
        """What `post` needs, its fingerprint now, and its sends as (channel, payload), by channel."""
        with self.db.tx(read=True) as conn:
            rows = _rows(conn, post)
        needs = decode_needs(next((r.signoff for r in rows if r.signoff), None))
        return needs, _fingerprint_of(rows), sorted((r.channel, r.payload) for r in rows)

    def standings(self, post: str | None = None, now: datetime | None = None) -> list[Standing]:
        """Every post that needs sign-off and has a send still to go (or only `post`), by time. `now`: which
        links are still open (default: this host's clock)."""
        query = select(deliveries).where(deliveries.c.signoff.is_not(None), deliveries.c.state != State.CANCELLED)
        if post is not None:
            query = query.where(deliveries.c.post == post)
        with self.db.tx(read=True) as conn:
            by_post: dict[str, list[object]] = {}
            for row in conn.execute(query):
                by_post.setdefault(row.post, []).append(row)
            found = []
            for name, rows in by_post.items():
                if all(r.state == State.PUBLISHED for r in rows) and post is None:  # type: ignore[attr-defined]
                    continue
                all_rows = _rows(conn, name)
                needs = decode_needs(next(r.signoff for r in all_rows if r.signoff))
                now_print = _fingerprint_of(all_rows)
                state = state_of(conn, name, needs, now_print, now)
                held = state.held(UTC, name)
                found.append(
                    Standing(
                        post=name,
                        path=all_rows[0].path,
                        due=min(_utc(self.db, r.due) for r in all_rows),
                        needs=needs,
                        fingerprint=now_print,
                        reason=None if held is None else str(held),
                        approved_by=tuple(p.name for p in state.people if p.state == APPROVED),
                        state=state,
                    )
                )
        return sorted(found, key=lambda s: (s.due, s.post))

    def states(self, now: datetime | None = None) -> dict[str, SignoffState]:
        """Post → where its sign-off stands, for every post that needs one and has a send still to go."""
        return {s.post: s.state for s in self.standings(now=now)}

    def state(self, post: str, now: datetime | None = None) -> SignoffState | None:
        """Where `post`'s sign-off stands (None: the ledger has no send of it that needs one)."""
        found = self.standings(post, now)
        return found[0].state if found else None

    def held_said(self, post: str, zone: tzinfo = UTC, now: datetime | None = None) -> Said | None:
        """Why `post` is held for sign-off now, as words for people in any language (the recorded reason is
        their English); None when it may go out, or the ledger has no send of it that needs sign-off."""
        state = self.state(post, now)
        return None if state is None else state.held(zone, post)

    def void_changed(self, now: datetime) -> list[tuple[str, str]]:
        """Record a void for every approval whose post changed since: (post, person) of each, once."""
        voided = []
        with self.db.tx() as conn:
            posts = {
                r.post
                for r in conn.execute(
                    select(deliveries.c.post).where(
                        deliveries.c.signoff.is_not(None),
                        deliveries.c.state.in_((State.PENDING, State.RETRY, State.HELD)),
                    )
                )
            }
            for post in sorted(posts):
                now_print = _fingerprint_of(_rows(conn, post))
                for person, last in _latest(conn, post).items():
                    if last.decision == APPROVED and last.fingerprint != now_print:
                        conn.execute(
                            signoff_decisions.insert().values(
                                request_id=last.request_id,
                                post=post,
                                person=person,
                                decision=VOIDED,
                                fingerprint=now_print,
                                note=f"approved {short(last.fingerprint)}, now {short(now_print)}",
                                at=now,
                            )
                        )
                        voided.append((post, person))
        return voided

    def requests_of(self, post: str | None = None) -> list[Request]:
        query = select(signoff_requests).order_by(signoff_requests.c.id)
        if post is not None:
            query = query.where(signoff_requests.c.post == post)
        with self.db.tx(read=True) as conn:
            return [_request(r, self.db) for r in conn.execute(query)]

    def decisions_of(self, post: str | None = None) -> list[Decision]:
        query = select(signoff_decisions).order_by(signoff_decisions.c.id)
        if post is not None:
            query = query.where(signoff_decisions.c.post == post)
        with self.db.tx(read=True) as conn:
            return [Decision(**(r._asdict() | {"at": _utc(self.db, r.at)})) for r in conn.execute(query)]


def _refresh(conn: Connection, post: str, now: datetime) -> None:
    """The sends of `post` held for sign-off, after a request or a decision: released if it may go out
    now, else their reason made current (status and the dashboard read it)."""
    rows = _rows(conn, post)
    needs = decode_needs(next((r.signoff for r in rows if r.signoff), None))
    held = [r for r in rows if r.state == State.HELD and is_signoff_hold(r.reason)]
    if not needs or not held:
        return
    reason = hold_reason(conn, post, needs, _fingerprint_of(rows), now)
    ids = [r.id for r in held]
    if reason is None:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), deliveries.c.state == State.HELD)
            .values(state=State.PENDING, reason=None, hold_alerted_at=None, updated_at=now)
        )
    elif any(r.reason != reason for r in held):
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), deliveries.c.state == State.HELD)
            .values(reason=reason, updated_at=now)
        )


def hold_reason(
    conn: Connection, post: str, needs: tuple[str, ...], now_print: str, now: datetime | None = None
) -> str | None:
    """Why `post` must not go out now for want of sign-off, or None: every person it names (for `signoff:
    team`, anyone) approved exactly `now_print`. Recorded in English, beginning with SIGNOFF_HELD, by which
    the ledger finds these holds; people read the same words in the campaign's language (Signoffs.held_said)."""
    said = state_of(conn, post, needs, now_print, now).held(UTC, post)
    return None if said is None else str(said)


def state_of(
    conn: Connection, post: str, needs: tuple[str, ...], now_print: str, now: datetime | None = None
) -> SignoffState:
    """Where `post`'s sign-off stands (`needs` as the ledger keeps them): each person's last answer on what
    goes out now (`now_print`); one waiting is waiting since their oldest link still open at `now`."""
    shown_needs = (TEAM,) if needs == (ANYONE,) else needs
    if not needs:
        return SignoffState((), ())
    latest = _latest(conn, post, answers=True)
    if needs == (ANYONE,):
        approved = [d for d in latest.values() if d.decision == APPROVED and d.fingerprint == now_print]
        if approved:
            return SignoffState(shown_needs, (Person(approved[-1].person, APPROVED, approved[-1].at),))
        answered = sorted(latest.values(), key=lambda d: d.id)
        return SignoffState(shown_needs, (_person(ANYONE, answered[-1] if answered else None, conn, post, now),))
    people = []
    for person in needs:
        last = latest.get(person)
        if last is not None and last.decision == APPROVED and last.fingerprint == now_print:
            people.append(Person(person, APPROVED, last.at))
        else:
            people.append(_person(person, last, conn, post, now))
    return SignoffState(shown_needs, tuple(people))


def _person(who: str, last: Decision | None, conn: Connection, post: str, now: datetime | None) -> Person:
    """One who has not approved what goes out now: declined, approved an older text, or not answered."""
    if last is not None and last.decision == DECLINED:
        return Person(last.person, DECLINED, last.at, last.note)
    if last is not None:  # an approval of another text than goes out now
        return Person(last.person, CHANGED, last.at)
    at = datetime.now(UTC) if now is None else now
    open_ = [signoff_requests.c.post == post, signoff_requests.c.revoked_at.is_(None)]
    if who != ANYONE:
        open_.append(signoff_requests.c.person == who)
    asked = [
        made
        for made, expires in conn.execute(
            select(signoff_requests.c.made_at, signoff_requests.c.expires_at)
            .where(*open_)
            .order_by(signoff_requests.c.id)
        )
        if _at(expires, conn) > at
    ]
    return Person(who, WAITING, _at(asked[0], conn) if asked else None)


def _at(value: datetime, conn: Connection) -> datetime:
    found = UTCDateTime().process_result_value(value, conn.dialect)
    assert found is not None
    return found


def _latest(conn: Connection, post: str, *, answers: bool = False) -> dict[str, Decision]:
    """Each person's last decision on `post`; `answers`: their last approval or decline (a void only
    records that the text changed: an approval of the text as it is again still counts)."""
    found: dict[str, Decision] = {}
    query = select(signoff_decisions).where(signoff_decisions.c.post == post).order_by(signoff_decisions.c.id)
    if answers:
        query = query.where(signoff_decisions.c.decision != VOIDED)
    for r in conn.execute(query):
        at = UTCDateTime().process_result_value(r.at, conn.dialect)
        assert at is not None
        found[r.person] = Decision(**(r._asdict() | {"at": at}))
    return found


def _rows(conn: Connection, post: str) -> list:  # type: ignore[type-arg]
    """The post's sends that are to go out or went out (not cancelled), by channel."""
    query = (
        select(deliveries)
        .where(deliveries.c.post == post, deliveries.c.state != State.CANCELLED)
        .order_by(deliveries.c.channel)
    )
    return list(conn.execute(query))


def _fingerprint_of(rows: list) -> str:  # type: ignore[type-arg]
    return fingerprint((r.channel, r.version) for r in rows)


def fingerprint_in(conn: Connection, post: str) -> str:
    """The fingerprint of what `post` sends now, as the ledger has it."""
    return _fingerprint_of(_rows(conn, post))


def _request(row: object, db: Database) -> Request:
    values = row._asdict()  # type: ignore[attr-defined]
    for key in ("made_at", "expires_at", "revoked_at"):
        values[key] = _utc(db, values[key]) if values[key] is not None else None
    return Request(**{k: values[k] for k in Request.__dataclass_fields__})


def _utc(db: Database, value: datetime) -> datetime:
    found = UTCDateTime().process_result_value(value, db.engine.dialect)
    assert found is not None
    return found
