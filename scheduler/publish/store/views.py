"""What people read: the rows for `status`, `history` and the dashboard's pages, and the mark the
dashboard polls to know when to redraw. Reads only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from scheduler.publish.states import State
from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import actions, attempts, deliveries, pauses
from scheduler.publish.store.sends import Attempt, Delivery


class Views:
    """Reads for people (the CLI and the dashboard)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(
        self,
        *,
        post: str | None = None,
        channel: str | None = None,
        states: Iterable[State] | None = None,
        due_between: tuple[datetime, datetime] | None = None,
    ) -> list[Delivery]:
        """Deliveries by due time; `due_between`: from the first time, before the second."""
        query = select(deliveries).order_by(deliveries.c.due, deliveries.c.channel, deliveries.c.post)
        if due_between is not None:
            query = query.where(deliveries.c.due >= due_between[0], deliveries.c.due < due_between[1])
        if post is not None:
            query = query.where(deliveries.c.post == post)
        if channel is not None:
            query = query.where(deliveries.c.channel == channel)
        if states is not None:
            query = query.where(deliveries.c.state.in_(tuple(states)))
        with self.db.tx() as conn:
            return [Delivery.of(row) for row in conn.execute(query)]

    def first_due(self, states: Iterable[State], limit: int) -> list[Delivery]:
        """At most `limit` deliveries in `states`, soonest due first (a page's list). One query per state,
        each read in the order of the (state, due) index, so 40,000 pending rows are never sorted."""
        found: list[Delivery] = []
        with self.db.tx() as conn:
            for state in states:
                query = select(deliveries).where(deliveries.c.state == state).order_by(deliveries.c.due).limit(limit)
                found += [Delivery.of(row) for row in conn.execute(query)]
        return sorted(found, key=lambda d: (d.due, d.channel, d.post))[:limit]

    def published_since(self, since: datetime, limit: int) -> list[Delivery]:
        """At most `limit` deliveries published at or after `since`, newest first."""
        query = (
            select(deliveries)
            .where(deliveries.c.state == State.PUBLISHED, deliveries.c.published_at >= since)
            .order_by(deliveries.c.published_at.desc(), deliveries.c.channel)
            .limit(limit)
        )
        with self.db.tx() as conn:
            return [Delivery.of(row) for row in conn.execute(query)]

    def changed_after_publishing(self, limit: int) -> list[Delivery]:
        """At most `limit` published deliveries whose post was edited or deleted since, latest due first
        (read along the (state, due) index: only published rows are looked at)."""
        query = (
            select(deliveries)
            .where(deliveries.c.state == State.PUBLISHED, deliveries.c.changed_after_publishing.is_(True))
            .order_by(deliveries.c.due.desc())
            .limit(limit)
        )
        with self.db.tx() as conn:
            return [Delivery.of(row) for row in conn.execute(query)]

    def state_counts(self) -> dict[State, int]:
        """How many deliveries are in each state (states with none are left out)."""
        query = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
        with self.db.tx() as conn:
            return {State(state): count for state, count in conn.execute(query)}

    def change_mark(self) -> str:
        """A short value that changes when a delivery changes state, an attempt starts, or a pause or an
        action by hand is made (the web dashboard polls it to know when to redraw). Read from indexes
        only: the counts per state, the newest attempt and action, the pauses."""
        with self.db.tx() as conn:
            counts = sorted(conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state)).all())
            last_attempt = conn.execute(select(func.max(attempts.c.id))).scalar()
            last_action = conn.execute(select(func.max(actions.c.id))).scalar()
            paused = sorted(conn.execute(select(pauses.c.scope, pauses.c.since)).all())
        return f"{counts}|{last_attempt}|{last_action}|{paused}"

    def history(self, post: str | None = None) -> list[Attempt]:
        """Every attempt, oldest first: all of them, or one post's."""
        query = select(attempts).order_by(attempts.c.id)
        if post is not None:
            query = query.where(attempts.c.post == post)
        with self.db.tx() as conn:
            return [Attempt.of(row) for row in conn.execute(query)]
