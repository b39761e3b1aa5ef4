"""Thread parts: each part marked before its request leaves and filled after, so a thread resumes
with the next part after a stop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import thread_parts
from scheduler.publish.store.sends import Claim, held
from scheduler.secrets import redact


@dataclass(frozen=True)
class Part:
    """One part of a thread in the ledger; `published_at` None while its send is not settled."""

    part: int
    key: str
    started_at: datetime
    remote_id: str | None
    cid: str | None
    url: str | None
    published_at: datetime | None


class Threads:
    """The parts of threads as they go out."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def thread_parts(self, delivery_id: int) -> list[Part]:
        """The parts of a delivery's thread recorded so far, in order."""
        with self.db.tx() as conn:
            return parts(conn, delivery_id)

    def part_sending(self, claim: Claim, part: int, key: str, now: datetime) -> bool:
        """Mark part `part` as about to leave (committed before its request); False if this worker
        no longer holds the delivery. A mark left from an earlier attempt keeps its first start."""
        with self.db.tx() as conn:
            if not held(conn, claim):
                return False
            found = conn.execute(
                select(thread_parts.c.part).where(thread_parts.c.delivery_id == claim.id, thread_parts.c.part == part)
            ).first()
            if found is None:
                conn.execute(thread_parts.insert().values(delivery_id=claim.id, part=part, key=key, started_at=now))
        return True

    def part_published(
        self, claim: Claim, part: int, now: datetime, *, remote_id: str | None, cid: str | None, url: str | None
    ) -> bool:
        """Record that part `part` is out (committed before the next part is sent), also when another
        worker took the send over meanwhile: it is out. A part already recorded out stays as it was
        recorded. Whether this worker still holds the delivery."""
        values = {"remote_id": remote_id, "cid": cid, "url": redact(url) if url else None, "published_at": now}
        with self.db.tx() as conn:
            filled = conn.execute(
                update(thread_parts)
                .where(
                    thread_parts.c.delivery_id == claim.id,
                    thread_parts.c.part == part,
                    thread_parts.c.published_at.is_(None),
                )
                .values(**values)
            ).rowcount
            if not filled:
                known = select(thread_parts.c.part).where(
                    thread_parts.c.delivery_id == claim.id, thread_parts.c.part == part
                )
                if conn.execute(known).first() is None:  # its mark was taken away: it is out all the same
                    key = f"{claim.key}-{part}"
                    conn.execute(
                        thread_parts.insert().values(delivery_id=claim.id, part=part, key=key, started_at=now, **values)
                    )
            return held(conn, claim)

    def part_not_sent(self, claim: Claim, part: int) -> None:
        """Forget the mark of a part that certainly did not go out; only while this worker holds the
        delivery (the mark may be another's, who took the send over and sent that part again)."""
        with self.db.tx() as conn:
            if not held(conn, claim):
                return
            conn.execute(
                thread_parts.delete().where(
                    thread_parts.c.delivery_id == claim.id,
                    thread_parts.c.part == part,
                    thread_parts.c.published_at.is_(None),
                )
            )


def parts_out(done: Sequence[Part]) -> str:
    """What a reason says of a thread's parts out, with their links (how the parts table has them)."""
    if not done:
        return "; no part is out"
    return f"; parts out: {', '.join(f'{p.part} ({p.url or p.remote_id})' for p in done)}"


def parts(conn: Connection, delivery_id: int) -> list[Part]:
    rows = conn.execute(
        select(thread_parts).where(thread_parts.c.delivery_id == delivery_id).order_by(thread_parts.c.part)
    ).all()
    return [
        Part(r.part, r.key, r.started_at, r.remote_id, r.cid, r.url, r.published_at)
        for r in rows  # UTCDateTime gives aware times
    ]


def doubt_over(conn: Connection, delivery_id: int) -> list[Part]:
    """The parts of a thread none of which is in doubt (every part marked is recorded out); []
    for a thread with a part in doubt, or a single send."""
    found = parts(conn, delivery_id)
    return found if found and all(p.published_at is not None for p in found) else []


def open_part(conn: Connection, delivery_id: int) -> int | None:
    """A part of the thread marked but not recorded out (in doubt), if any."""
    row = conn.execute(
        select(thread_parts.c.part)
        .where(thread_parts.c.delivery_id == delivery_id, thread_parts.c.published_at.is_(None))
        .limit(1)
    ).first()
    return None if row is None else int(row.part)
