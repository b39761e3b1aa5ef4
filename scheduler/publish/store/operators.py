"""What people do by hand: pauses, retries, resolves, and the record of each (who, from where, why)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from scheduler.publish.holds import (
    LINK_HELD,
    RETRY_REQUESTED,
)
from scheduler.publish.states import FOR_A_PERSON, State
from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import actions, deliveries, pauses
from scheduler.secrets import redact


@dataclass(frozen=True)
class Actor:
    """The person acting by hand, and the host they typed on."""

    who: str
    host: str

    def __str__(self) -> str:
        return f"{self.who}@{self.host}"


@dataclass(frozen=True)
class Pause:
    scope: str  # a channel name, or "*" for everything
    reason: str
    since: datetime

    @property
    def what(self) -> str:
        return "everything" if self.scope == "*" else self.scope


@dataclass(frozen=True)
class Action:
    """One thing a person did by hand, as the ledger recorded it."""

    id: int
    at: datetime
    action: str  # pause, resume, retry, resolve
    who: str
    host: str
    post: str | None
    channel: str | None
    reason: str | None
    detail: str | None

    def summary(self) -> str:
        """In a person's words, e.g. "paused mastodon by anna@laptop: news calls for silence"."""
        by = f"by {self.who}@{self.host}"
        where = f" on {self.channel}" if self.channel else ""
        if self.action == "pause":
            text = f"paused {self.channel + ' ' if self.channel else ''}{by}"
        elif self.action == "resume":
            text = f"resumed {self.detail or 'nothing'} {by}"
        elif self.action == "retry":
            text = f"retry of {self.post}{where} {by} ({self.detail})"
        else:
            text = f"resolved {self.post}{where} as {self.detail} {by}"
        return f"{text}: {self.reason}" if self.reason else text


class Operators:
    """Pauses and actions by hand, each recorded in the transaction that does it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def pause(self, scope: str, reason: str, now: datetime, by: Actor) -> None:
        """Pause a channel, or "*" for everything, and record who did it."""
        with self.db.tx() as conn:
            conn.execute(pauses.delete().where(pauses.c.scope == scope))
            conn.execute(pauses.insert().values(scope=scope, reason=reason, since=now))
            record(conn, "pause", by, now, channel=None if scope == "*" else scope, reason=reason)

    def resume(self, scope: str | None, now: datetime, by: Actor, reason: str | None = None) -> list[Pause]:
        """Lift the pause of one scope, or every pause (None); the pauses lifted, recorded if any."""
        with self.db.tx() as conn:
            query = select(pauses).order_by(pauses.c.scope)
            if scope is not None:
                query = query.where(pauses.c.scope == scope)
            lifted = [Pause(r.scope, r.reason, r.since) for r in conn.execute(query)]
            if lifted:
                conn.execute(pauses.delete().where(pauses.c.scope.in_([p.scope for p in lifted])))
                record(
                    conn,
                    "resume",
                    by,
                    now,
                    channel=scope if scope not in (None, "*") else None,
                    reason=reason,
                    detail=", ".join(p.what for p in lifted),
                )
        return lifted

    def pauses(self) -> list[Pause]:
        with self.db.tx() as conn:
            return [Pause(r.scope, r.reason, r.since) for r in conn.execute(select(pauses).order_by(pauses.c.scope))]

    def retry_now(
        self, post: str, channel: str | None, now: datetime, by: Actor, reason: str | None = None
    ) -> list[str]:
        """Make failed or missed deliveries, and those the link check held, due now (a person decided
        so); the channels they are on."""
        query = update(deliveries).where(
            deliveries.c.post == post,
            or_(
                deliveries.c.state.in_(FOR_A_PERSON),
                and_(deliveries.c.state == State.HELD, deliveries.c.reason.startswith(LINK_HELD, autoescape=True)),
            ),
        )
        if channel is not None:
            query = query.where(deliveries.c.channel == channel)
        with self.db.tx() as conn:
            channels = sorted(
                conn.execute(
                    query.values(
                        state=State.PENDING,
                        due=now,
                        max_late_s=3600,
                        attempts=0,
                        next_attempt_at=None,
                        reason=RETRY_REQUESTED,
                        updated_at=now,
                    ).returning(deliveries.c.channel)
                ).scalars()
            )
            if channels:
                detail = f"{len(channels)} send{'s' if len(channels) != 1 else ''} due now: {', '.join(channels)}"
                record(conn, "retry", by, now, post=post, channel=channel, reason=reason, detail=detail)
        return channels

    def resolve(
        self, post: str, channel: str, published_url: str | None, now: datetime, by: Actor, reason: str | None = None
    ) -> int:
        """Settle a post in doubt: published (with its URL) or not published (then failed, retryable)."""
        values: dict[str, Any] = {"updated_at": now, "claimed_by": None}
        if published_url is not None:
            values.update(
                state=State.PUBLISHED,
                receipt_url=published_url,
                published_at=now,
                reason=None,
                published_version=deliveries.c.version,
            )
        else:
            values.update(state=State.FAILED, reason="resolved as not published; `campaign retry` sends it")
        with self.db.tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(deliveries.c.post == post, deliveries.c.channel == channel, deliveries.c.state == State.IN_DOUBT)
                .values(**values)
            ).rowcount
            if done:
                detail = f"published ({published_url})" if published_url is not None else "not published"
                record(conn, "resolve", by, now, post=post, channel=channel, reason=reason, detail=detail)
        return done

    def actions(self, post: str | None = None, after: int = 0) -> list[Action]:
        """What people did by hand, oldest first: all of it, or the retries and resolves of one post."""
        query = select(actions).where(actions.c.id > after).order_by(actions.c.id)
        if post is not None:
            query = query.where(actions.c.post == post)
        with self.db.tx() as conn:
            return [Action(**row._asdict()) for row in conn.execute(query)]


def record(
    conn: Connection,
    action: str,
    by: Actor,
    now: datetime,
    *,
    post: str | None = None,
    channel: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """Keep an action by hand, in the transaction that does it."""
    conn.execute(
        actions.insert().values(
            at=now,
            action=action,
            who=by.who[:200],
            host=by.host[:200],
            post=post,
            channel=channel,
            reason=redact(reason) if reason else None,
            detail=redact(detail) if detail else None,
        )
    )


def paused_scopes(conn: Connection) -> list[str]:
    """The scopes paused now (a channel, or "*" for everything)."""
    return [r.scope for r in conn.execute(select(pauses.c.scope))]


def pause_over(conn: Connection, channel: str) -> Pause | None:
    """The pause that stops a send on `channel` now ("*" first), if any."""
    row = conn.execute(select(pauses).where(pauses.c.scope.in_(("*", channel))).order_by(pauses.c.scope)).first()
    return None if row is None else Pause(row.scope, row.reason, row.since)
