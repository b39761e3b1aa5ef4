"""Results: a published post's public counts, taken once at each age after publishing."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from scheduler.channels.base import Counts
from scheduler.publish.states import State
from scheduler.publish.store.db import Database, chunks
from scheduler.publish.store.schema import COUNT_NAMES, deliveries, snapshots

# What the collector needs of a published send (Published).
PUBLISHED = (
    deliveries.c.id,
    deliveries.c.post,
    deliveries.c.channel,
    deliveries.c.remote_id,
    deliveries.c.receipt_url,
    deliveries.c.published_at,
)


@dataclass(frozen=True)
class Published:
    """A published delivery whose results can be read from its network."""

    id: int
    post: str
    channel: str
    remote_id: str
    url: str | None
    published_at: datetime


def published_of(row: Any) -> Published:
    return Published(row.id, row.post, row.channel, row.remote_id, row.receipt_url, row.published_at)


@dataclass(frozen=True)
class SnapshotsDue:
    """A published post and the ages (seconds after publishing) whose counts are due and not taken."""

    published: Published
    ages: tuple[int, ...]


@dataclass(frozen=True)
class Snapshot:
    """A post's counts at one age; `counts` None with a `note` when there were none to take."""

    delivery_id: int
    age: timedelta
    taken_at: datetime
    counts: Counts | None
    note: str | None


class Results:
    """The snapshots of published posts' counts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def snapshots_due(
        self, now: datetime, ages: Sequence[timedelta], channels: Collection[str], limit: int | None = None
    ) -> list[SnapshotsDue]:
        """The published posts on `channels` with counts due at one of `ages` and not yet taken,
        longest waiting first (at most `limit`)."""
        wanted = sorted({int(age.total_seconds()) for age in ages})
        if not wanted or not channels:
            return []
        taken = (
            select(snapshots.c.delivery_id, func.count().label("n"))
            .where(snapshots.c.age_s.in_(wanted))
            .group_by(snapshots.c.delivery_id)
            .subquery()
        )
        query = (
            select(*PUBLISHED)
            .outerjoin(taken, taken.c.delivery_id == deliveries.c.id)
            .where(
                deliveries.c.state == State.PUBLISHED,
                deliveries.c.remote_id.is_not(None),
                deliveries.c.published_at <= now - timedelta(seconds=wanted[0]),
                deliveries.c.channel.in_(tuple(channels)),
                func.coalesce(taken.c.n, 0) < len(wanted),
            )
            .order_by(deliveries.c.published_at, deliveries.c.id)
        )
        found: list[SnapshotsDue] = []
        with self.db.tx(read=True) as conn:
            rows = list(conn.execute(query))
            done: dict[int, set[int]] = {}
            for chunk in chunks([str(row.id) for row in rows]):
                query_taken = select(snapshots.c.delivery_id, snapshots.c.age_s).where(
                    snapshots.c.delivery_id.in_([int(i) for i in chunk])
                )
                for taken_row in conn.execute(query_taken):
                    done.setdefault(taken_row.delivery_id, set()).add(taken_row.age_s)
        for row in rows:
            age_now = (now - row.published_at).total_seconds()
            due = tuple(a for a in wanted if a <= age_now and a not in done.get(row.id, set()))
            if due:
                published = published_of(row)
                found.append(SnapshotsDue(published, due))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def record_snapshots(self, taken: Iterable[Snapshot]) -> int:
        """Keep counts, each (delivery, age) once: one taken meanwhile by another daemon stays as it is.
        How many were new."""
        values = [
            {
                "delivery_id": snap.delivery_id,
                "age_s": int(snap.age.total_seconds()),
                "taken_at": snap.taken_at,
                "note": snap.note[:200] if snap.note else None,
                **{name: getattr(snap.counts, name) if snap.counts else None for name in COUNT_NAMES},
            }
            for snap in taken
        ]
        if not values:
            return 0
        try:
            with self.db.tx() as conn:
                conn.execute(snapshots.insert(), values)
            return len(values)
        except IntegrityError:
            new = 0
            for value in values:
                try:
                    with self.db.tx() as conn:
                        conn.execute(snapshots.insert().values(**value))
                    new += 1
                except IntegrityError:
                    pass
            return new

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, by delivery and age."""
        with self.db.tx(read=True) as conn:
            rows = list(conn.execute(select(snapshots).order_by(snapshots.c.delivery_id, snapshots.c.age_s)))
        return [
            Snapshot(
                row.delivery_id,
                timedelta(seconds=row.age_s),
                row.taken_at,
                None
                if all(getattr(row, n) is None for n in COUNT_NAMES)
                else Counts(**{n: getattr(row, n) for n in COUNT_NAMES}),
                row.note,
            )
            for row in rows
        ]
