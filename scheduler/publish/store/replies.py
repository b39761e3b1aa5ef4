"""Replies to the campaign's posts (personal data: only what a person needs to answer), when each
post's replies were last read, and their purge."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select, update

from scheduler.channels.base import Reply
from scheduler.publish.states import State
from scheduler.publish.store.alerts import NewAlert, insert_alert
from scheduler.publish.store.db import Database, chunks
from scheduler.publish.store.operators import Actor
from scheduler.publish.store.results import PUBLISHED, Published, published_of
from scheduler.publish.store.schema import alerts, deliveries, replies, reply_polls
from scheduler.secrets import redact


@dataclass(frozen=True)
class Purged:
    """What `purge_replies` erased: replies (and how many no one had handled), their alerts, and
    whether SQLite's write-ahead log was emptied (False: a reader kept it; the next checkpoint will)."""

    replies: int
    unhandled: int
    alerts: int
    log_emptied: bool = True


@dataclass(frozen=True)
class NewReply:
    """A reply as read from the network, with the watch-list phrase it matched (None: none)."""

    reply: Reply
    network: str
    watch: str | None


@dataclass(frozen=True)
class StoredReply:
    """A reply in the ledger, and whether (by whom, when) a person handled it."""

    id: int
    delivery_id: int
    post: str
    channel: str
    network: str
    remote_id: str
    author: str
    at: datetime
    text: str
    url: str | None
    found_at: datetime
    watch: str | None
    alerted_at: datetime | None
    handled_at: datetime | None
    handled_by: str | None
    note: str | None


class Replies:
    """Replies kept, their polls and their purge."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def reply_targets(
        self, now: datetime, window: timedelta, channels: Collection[str]
    ) -> list[tuple[Published, datetime | None]]:
        """The posts on `channels` published within `window` before `now`, each with when its
        replies were last read (None: never), least recently read first."""
        if not channels:
            return []
        query = (
            select(*PUBLISHED, reply_polls.c.polled_at)
            .outerjoin(reply_polls, reply_polls.c.delivery_id == deliveries.c.id)
            .where(
                deliveries.c.state == State.PUBLISHED,
                deliveries.c.remote_id.is_not(None),
                deliveries.c.published_at >= now - window,
                deliveries.c.published_at <= now,
                deliveries.c.channel.in_(tuple(channels)),
            )
            .order_by(reply_polls.c.polled_at.is_not(None), reply_polls.c.polled_at, deliveries.c.published_at)
        )
        with self.db.tx(read=True) as conn:
            return [(published_of(r), r.polled_at) for r in conn.execute(query)]

    def record_replies(self, read: Iterable[tuple[Published, list[NewReply]]], now: datetime) -> list[StoredReply]:
        """Keep the replies of each post read that were not kept before (by channel and remote id)
        and note when each post was read, in one transaction; the new replies."""
        new_ids: list[int] = []
        with self.db.tx() as conn:
            # In one order of posts (their replies come in the network's), so two collectors that read
            # the same posts never deadlock.
            for published, found in sorted(read, key=lambda item: item[0].id):
                new_ids += self._keep_replies(conn, published, found, now)
            if not new_ids:
                return []
            rows = conn.execute(select(replies).where(replies.c.id.in_(new_ids)).order_by(replies.c.id))
            return [StoredReply(**row._asdict()) for row in rows]

    def _keep_replies(self, conn: Connection, published: Published, found: list[NewReply], now: datetime) -> list[int]:
        known = set()
        if found:
            for chunk in chunks([f.reply.remote_id for f in found]):
                query = select(replies.c.remote_id).where(
                    replies.c.channel == published.channel, replies.c.remote_id.in_(chunk)
                )
                known |= {r.remote_id for r in conn.execute(query)}
        new_ids = []
        for item in found:
            if item.reply.remote_id in known:
                continue
            known.add(item.reply.remote_id)
            reply = item.reply
            values = {
                "delivery_id": published.id,
                "post": published.post,
                "channel": published.channel,
                "network": item.network[:40],
                "remote_id": reply.remote_id[:300],
                "author": reply.author[:300],
                "at": reply.at,
                "text": reply.text,
                "url": reply.url,
                "found_at": now,
                "watch": item.watch[:200] if item.watch else None,
            }
            # Kept by another collector meanwhile (one that read the same post): that one stays.
            insert = self.db.insert(replies).values(**values)
            insert = insert.on_conflict_do_nothing(index_elements=["channel", "remote_id"])
            new_id = conn.execute(insert.returning(replies.c.id)).scalar()
            if new_id is not None:
                new_ids.append(new_id)
        polled = self.db.insert(reply_polls).values(delivery_id=published.id, polled_at=now)
        conn.execute(polled.on_conflict_do_update(index_elements=["delivery_id"], set_={"polled_at": now}))
        return new_ids

    def take_reply_poll(self, delivery_id: int, seen: datetime | None, now: datetime) -> bool:
        """Take the reading of a post's replies, as a send is claimed: mark it read at `now` if it is
        still as this collector saw it (`seen`: when it was last read, None: never); False if another
        collector took it since. Give it back with `give_back_reply_poll` if the network did not answer."""
        with self.db.tx() as conn:
            if seen is None:
                taken = self.db.insert(reply_polls).values(delivery_id=delivery_id, polled_at=now)
                taken = taken.on_conflict_do_nothing(index_elements=["delivery_id"])
                # RETURNING tells whether the row was made (the row count does not, on PostgreSQL).
                return conn.execute(taken.returning(reply_polls.c.delivery_id)).first() is not None
            return bool(
                conn.execute(
                    update(reply_polls)
                    .where(reply_polls.c.delivery_id == delivery_id, reply_polls.c.polled_at == seen)
                    .values(polled_at=now)
                ).rowcount
            )

    def give_back_reply_poll(self, delivery_id: int, seen: datetime | None, now: datetime) -> None:
        """Undo `take_reply_poll` (nothing was read): the post is due to be read again as before."""
        with self.db.tx() as conn:
            mine = and_(reply_polls.c.delivery_id == delivery_id, reply_polls.c.polled_at == now)
            if seen is None:
                conn.execute(reply_polls.delete().where(mine))
            else:
                conn.execute(update(reply_polls).where(mine).values(polled_at=seen))

    def stored_replies(self, *, unhandled: bool = False, watched: bool = False) -> list[StoredReply]:
        """The replies kept, oldest first: all, those no one handled, or those matching the watch list
        and not yet alerted (`watched`)."""
        query = select(replies).order_by(replies.c.at, replies.c.id)
        if unhandled:
            query = query.where(replies.c.handled_at.is_(None))
        if watched:
            query = query.where(replies.c.watch.is_not(None), replies.c.alerted_at.is_(None))
        with self.db.tx(read=True) as conn:
            return [StoredReply(**row._asdict()) for row in conn.execute(query)]

    def alert_reply(self, reply: StoredReply, message: str, now: datetime, *, unsent: bool) -> int | None:
        """Mark a watched reply alerted and record its alert in one transaction: the id of the alert
        to send, or None if it was alerted before (by this daemon or another)."""
        with self.db.tx() as conn:
            marked = conn.execute(
                update(replies).where(replies.c.id == reply.id, replies.c.alerted_at.is_(None)).values(alerted_at=now)
            ).rowcount
            if not marked:
                return None
            alert = NewAlert("reply", message, unsent, reply_id=reply.id)
            return insert_alert(conn, alert, reply.post, reply.channel, now)

    def published_url(self, delivery_id: int) -> str | None:
        """The link to a published send (its receipt), if the network gave one."""
        with self.db.tx(read=True) as conn:
            url: str | None = conn.execute(
                select(deliveries.c.receipt_url).where(deliveries.c.id == delivery_id)
            ).scalar_one_or_none()
            return url

    def handle_reply(self, reply_id: int, by: Actor, now: datetime, note: str | None = None) -> StoredReply | None:
        """Mark a reply handled by `by` (a second time keeps the first); None if there is no such reply."""
        with self.db.tx() as conn:
            conn.execute(
                update(replies)
                .where(replies.c.id == reply_id, replies.c.handled_at.is_(None))
                .values(handled_at=now, handled_by=str(by)[:200], note=redact(note) if note else None)
            )
            row = conn.execute(select(replies).where(replies.c.id == reply_id)).first()
            return None if row is None else StoredReply(**row._asdict())

    def purge_replies(self, before: datetime) -> Purged:
        """Erase every reply written before `before`, handled or not, and the alerts about them.

        Erased, not only deleted: on SQLite every connection runs with `secure_delete` (freed
        space is overwritten with zeros), and the write-ahead log, which still holds the pages as
        they were written, is checkpointed into the file and truncated. On PostgreSQL the rows are
        deleted at once; their bytes stay in the table's file until new rows overwrite them, and no
        VACUUM is run here (docs/results.md, "Personal data and retention")."""
        with self.db.tx() as conn:
            old = replies.c.at < before
            unhandled = conn.execute(
                select(func.count()).select_from(replies).where(old, replies.c.handled_at.is_(None))
            ).scalar_one()
            about = select(replies.c.id).where(old)
            # Alerts recorded before reply_id existed name no reply: those of the same age go too.
            gone = conn.execute(
                alerts.delete().where(
                    alerts.c.kind == "reply",
                    or_(alerts.c.reply_id.in_(about), and_(alerts.c.reply_id.is_(None), alerts.c.at < before)),
                )
            ).rowcount
            deleted = conn.execute(replies.delete().where(old)).rowcount
        emptied = self.db.empty_wal() if self.db.is_sqlite else True
        return Purged(deleted, unhandled, gone, emptied)
