"""The ledger: what did happen. The only module that opens database sessions.

One row per delivery (a post on a channel) and its state:

    pending ──claim──▶ sending ──▶ published
       ▲                  ├──▶ retry ──(next_attempt_at)──▶ sending
       │                  ├──▶ failed     (rejected, or out of attempts)
       │                  ├──▶ in_doubt   (may be out: settled by lookup or by a person)
       │                  └──▶ missed     (later than its max_late)
    held (its file has errors, or its text already went out; or, from sending, a dead link)
    cancelled (deleted, or made a draft)

A claim is committed, with its attempt row, before any request leaves; every outcome is
committed after, over the claim only while it still stands (see `_holding`): a worker whose send
another took over (it was stopped) records what it learnt as an attempt row of its own. Claims
use one UPDATE … RETURNING of the next due row (FOR UPDATE SKIP LOCKED on PostgreSQL; BEGIN
IMMEDIATE on SQLite), so two workers never hold the same delivery.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from scheduler.channels.base import Counts, Reply
from scheduler.errors import LedgerError, LedgerUnavailable
from scheduler.publish.holds import (
    LINK_HELD,
    RETRY_REQUESTED,
    UNPLANNED,
    Fate,
    keeps_retry_time,
    present,
    repeat_hold,
    unplanned,
)
from scheduler.publish.states import FOR_A_PERSON, OPEN, Attempted, State
from scheduler.secrets import redact

MIN_SQLITE = (3, 35, 0)  # UPDATE … RETURNING
BUSY_TIMEOUT_MS = 30_000  # how long a SQLite statement waits for another connection's lock
CHECKPOINT_WAIT_MS = 5000  # how long a purge waits for readers to let go of SQLite's write-ahead log
ERASING_REVISION = "0010"  # purged replies are erased from here on (secure_delete); older ones are rewritten once
TAKEN_OVER = "another worker took the send over before its request left; nothing sent"
COUNT_NAMES = ("likes", "reposts", "replies", "quotes", "views")  # the fields of Counts, as columns


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite (which keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post", String(300), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("path", String(500), nullable=False),
    Column("due", UTCDateTime, nullable=False),
    Column("max_late_s", Integer, nullable=False),
    Column("version", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("allow_repeat", Boolean, nullable=False, default=False),
    Column("payload", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_by", String(200)),
    Column("claimed_at", UTCDateTime),
    Column("receipt_url", Text),
    Column("remote_id", String(300)),
    Column("published_at", UTCDateTime),
    Column("published_version", String(64)),
    Column("changed_after_publishing", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("hold_alerted_at", UTCDateTime),  # a held send whose time came was alerted (once)
    UniqueConstraint("post", "channel", name="uq_deliveries_post_channel"),
    Index("ix_deliveries_state_due", "state", "due"),
)
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("post", String(300), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("key", String(64), nullable=False),
    Column("worker", String(200), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(20), nullable=False),
    Column("detail", Text),
)
pauses = Table(
    "pauses",
    metadata,
    Column("scope", String(100), primary_key=True),  # a channel name, or "*" for everything
    Column("reason", Text, nullable=False),
    Column("since", UTCDateTime, nullable=False),
)
workers = Table(
    "workers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
)
file_alerts = Table(  # the broken settings files that were alerted, with what was said
    "file_alerts",
    metadata,
    Column("path", String(500), primary_key=True),
    Column("message", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("post", String(300)),
    Column("channel", String(100)),
    Column("message", Text, nullable=False),
    Column("unsent", Boolean, nullable=False, default=False),  # the webhook has yet to receive it
    Column("reply_id", Integer),  # a watch-list alert's reply: purged with it (no foreign key: the reply goes first)
)
actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(20), nullable=False),  # pause, resume, retry, resolve
    Column("who", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("post", String(300), index=True),
    Column("channel", String(100)),  # None: every channel
    Column("reason", Text),  # the person's own words
    Column("detail", Text),  # what the action did
)
thread_parts = Table(  # each part of a thread as it goes out: marked before its request leaves, filled after
    "thread_parts",
    metadata,
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    Column("part", Integer, primary_key=True),  # from 1
    Column("key", String(80), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),  # when its request may first have left
    Column("remote_id", String(300)),
    Column("cid", String(300)),  # what a reply to it needs besides its id (Bluesky's content hash)
    Column("url", Text),
    Column("published_at", UTCDateTime),  # None: its request may have left, its answer is not recorded
)

# What the collector needs of a published send (Published).
_PUBLISHED = (
    deliveries.c.id,
    deliveries.c.post,
    deliveries.c.channel,
    deliveries.c.remote_id,
    deliveries.c.receipt_url,
    deliveries.c.published_at,
)

snapshots = Table(  # a published post's public counts at one age after publishing: taken once, never again
    "snapshots",
    metadata,
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    Column("age_s", Integer, primary_key=True),  # seconds after publishing it was due at
    Column("taken_at", UTCDateTime, nullable=False),
    Column("likes", Integer),  # None: the network does not count that (or nothing was measured)
    Column("reposts", Integer),
    Column("replies", Integer),
    Column("quotes", Integer),
    Column("views", Integer),
    Column("note", String(200)),  # why there are no counts: "not found", "skipped: measured at 7 days"
)
replies = Table(  # replies to the campaign's posts: personal data, only what a person needs to answer
    "replies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("post", String(300), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("network", String(40), nullable=False),
    Column("remote_id", String(300), nullable=False),
    Column("author", String(300), nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("url", Text),
    Column("found_at", UTCDateTime, nullable=False),
    Column("watch", String(200)),  # the watch-list phrase it matched, if any
    Column("alerted_at", UTCDateTime),  # a match was alerted (once)
    Column("handled_at", UTCDateTime),
    Column("handled_by", String(200)),
    Column("note", Text),  # the person's own words when handling it
    # A network's ids are unique per instance or account, so per channel.
    UniqueConstraint("channel", "remote_id", name="uq_replies_channel_remote"),
)
reply_polls = Table(  # when the replies of a published post were last read
    "reply_polls",
    metadata,
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    Column("polled_at", UTCDateTime, nullable=False),
)
login_attempts = Table(  # the dashboard's login throttle, shared by every `serve` process on this ledger
    "login_attempts",
    metadata,
    Column("key", String(300), primary_key=True),  # "pair:NAME|ADDRESS" or "address:ADDRESS"
    Column("started_at", UTCDateTime, nullable=False, index=True),  # when this key's window began
    Column("count", Integer, nullable=False),  # attempts in the window, counted before the password check
)
web_sessions = Table(  # the dashboard's logins: a session lives while its row does and has not ended
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the session id the signed cookie carries
    Column("account", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("ended_at", UTCDateTime),  # logged out
)


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


@dataclass(frozen=True)
class Wanted:
    """What the files say about one delivery (built from the plan by scheduler.publish.publisher)."""

    post: str
    channel: str
    path: str
    due: datetime
    max_late: timedelta
    version: str
    key: str
    text_hash: str
    allow_repeat: bool
    payload: str  # JSON of the rendered post
    hold: str | None = None  # why it must not go out now


@dataclass(frozen=True)
class NewAlert:
    """An alert to record with an outcome, in the same transaction; `unsent`: a webhook will get it."""

    kind: str
    message: str
    unsent: bool
    reply_id: int | None = None


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


@dataclass(frozen=True)
class Alert:
    """An alert as recorded; `unsent`: the webhook has yet to receive it."""

    id: int
    at: datetime
    kind: str
    post: str | None
    channel: str | None
    message: str
    unsent: bool
    reply_id: int | None = None  # the reply a watch-list alert is about


@dataclass(frozen=True)
class Purged:
    """What `purge_replies` erased: replies (and how many no one had handled), their alerts, and
    whether SQLite's write-ahead log was emptied (False: a reader kept it; the next checkpoint will)."""

    replies: int
    unhandled: int
    alerts: int
    log_emptied: bool = True


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


@dataclass(frozen=True)
class Published:
    """A published delivery whose results can be read from its network."""

    id: int
    post: str
    channel: str
    remote_id: str
    url: str | None
    published_at: datetime


def _published(row: Any) -> Published:
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


def database_url(given: str | None, root: Path) -> str:
    """DATABASE_URL as SQLAlchemy needs it; default: campaign.db in the campaign root."""
    url = given or f"sqlite:///{root / 'campaign.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Ledger:
    """All reads and writes of delivery state. Safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # Long reads (the results collector's) take no write lock on SQLite, so a claim never waits for them.
        self._reader = _engine(url, deferred=True) if self.is_sqlite else self.engine

    @contextmanager
    def _tx(self, *, read: bool = False) -> Iterator[Connection]:
        """One transaction (`read`: one that only reads). The one place where the database's own
        errors become this project's."""
        try:
            with (self._reader if read else self.engine).begin() as conn:
                yield conn
        except DBAPIError as exc:
            if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
                raise LedgerUnavailable(
                    redact(f"the database cannot be reached: {_first_line(exc.orig or exc)}")
                ) from None
            raise

    def close(self) -> None:
        self.engine.dispose()
        self._reader.dispose()

    # ------------------------------------------------------------------ schema

    def upgrade(self) -> None:
        """Bring the schema to the newest revision (Alembic)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._tx() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        if before is not None:
            applied = ScriptDirectory.from_config(config).iterate_revisions("head", before)
            if ERASING_REVISION in {script.revision for script in applied}:
                self._rewrite_reply_tables()

    def _rewrite_reply_tables(self) -> None:
        """Once, on the upgrade that brings secure_delete: rewrite what holds replies, so that those
        purged before (without it) leave nothing in the free space of the files."""
        try:
            if self.is_sqlite:
                connection = self.engine.raw_connection()
                try:
                    connection.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
                finally:
                    connection.close()
                self._empty_wal()
                return
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM FULL replies, alerts")  # not in a transaction; a moment's lock
        except (sqlite3.Error, DBAPIError) as exc:
            reason = _first_line(exc.orig or exc) if isinstance(exc, DBAPIError) else _first_line(exc)
            command = (
                "`sqlite3 campaign.db VACUUM` with the daemon stopped"
                if self.is_sqlite
                else "`VACUUM FULL replies, alerts`"
            )
            raise LedgerUnavailable(
                redact(
                    f"the schema is upgraded, but clearing the replies purged before failed ({reason}):"
                    f" they may linger in free space until you run {command}"
                )
            ) from None

    def check_schema(self) -> None:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(Path(__file__).parent / "migrations")).get_current_head()
        with self._tx() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current != head:
            raise LedgerError(
                f"the database schema is at {current or 'nothing'}, not {head}: run `campaign db upgrade`"
            )

    def clock(self) -> datetime:
        """Now, by the database's clock on PostgreSQL (shared by every daemon), else this host's."""
        if self.is_sqlite:
            return datetime.now(UTC)
        with self._tx() as conn:
            value = conn.execute(select(func.now())).scalar_one()
        moment: datetime = value.astimezone(UTC)
        return moment

    # ------------------------------------------------------------------ files → ledger

    def sync(
        self,
        wanted: Iterable[Wanted],
        absent: Callable[[str, str, str], Fate],
        now: datetime,
        *,
        gone: Collection[tuple[str, str]] | None = None,
        paths: Collection[str] = (),
        busy: set[tuple[str, str]] | None = None,
    ) -> dict[str, int]:
        """Make open deliveries match the files; never touch what is sending or settled.

        `absent(post, channel, path)`: the fate of an open delivery the files no longer plan
        (scheduler.publish.holds decides: cancelled only when valid files say it is gone).
        Without `gone`, `wanted` is every send the files plan and every delivery is looked at.
        With it, only part is: `wanted` holds the sends added or changed since the last sync,
        `gone` the (post, channel) of those the files no longer plan, and `paths` post files read
        differently now, whose open deliveries not in `wanted` go through `absent` too.
        `busy` gets the (post, channel) of wanted sends left as they are because they are being
        sent or in doubt (a later sync is to look at them again).
        """
        counts = {"added": 0, "updated": 0, "held": 0, "cancelled": 0, "changed_after_publishing": 0}
        wanted = list(wanted)
        with self._tx() as conn:
            if not self.is_sqlite:  # daemons syncing at once take turns (SQLite's BEGIN IMMEDIATE does this)
                conn.execute(text("SELECT pg_advisory_xact_lock(7243)"))
            if gone is None:
                rows = {(r.post, r.channel): r for r in conn.execute(select(deliveries))}
                published_texts = {
                    (r.channel, r.text_hash): r.post for r in rows.values() if r.state == State.PUBLISHED
                }
            else:
                keys = {(w.post, w.channel) for w in wanted} | set(gone)
                rows = {}
                for chunk in _chunks(sorted({post for post, _ in keys})):
                    for r in conn.execute(select(deliveries).where(deliveries.c.post.in_(chunk))):
                        if (r.post, r.channel) in keys:
                            rows[(r.post, r.channel)] = r
                for chunk in _chunks(sorted(paths)):
                    open_here = (
                        deliveries.c.path.in_(chunk),
                        deliveries.c.state.in_((State.PENDING, State.RETRY, State.HELD, State.FAILED)),
                    )
                    rows.update(((r.post, r.channel), r) for r in conn.execute(select(deliveries).where(*open_here)))
                published_texts = {}
                for chunk in _chunks(sorted({w.text_hash for w in wanted})):
                    found = select(deliveries.c.channel, deliveries.c.text_hash, deliveries.c.post).where(
                        deliveries.c.state == State.PUBLISHED, deliveries.c.text_hash.in_(chunk)
                    )
                    published_texts.update(
                        ((r.channel, r.text_hash), r.post) for r in conn.execute(found.order_by(deliveries.c.id))
                    )
            seen = set()
            for item in wanted:
                seen.add((item.post, item.channel))
                repeat = published_texts.get((item.channel, item.text_hash))
                hold = item.hold or repeat_hold(item.channel, item.post, repeat, item.allow_repeat)
                row = rows.get((item.post, item.channel))
                if busy is not None and row is not None and row.state not in OPEN and row.state != "published":
                    busy.add((item.post, item.channel))
                values = {
                    "path": item.path,
                    "due": item.due,
                    "max_late_s": int(item.max_late.total_seconds()),
                    "version": item.version,
                    "key": item.key,
                    "text_hash": item.text_hash,
                    "allow_repeat": item.allow_repeat,
                    "payload": item.payload,
                    "updated_at": now,
                }
                if row is None:
                    conn.execute(
                        deliveries.insert().values(
                            post=item.post,
                            channel=item.channel,
                            state=State.HELD if hold else State.PENDING,
                            reason=hold,
                            attempts=0,
                            changed_after_publishing=False,
                            **values,
                        )
                    )
                    counts["held" if hold else "added"] += 1
                elif row.state == State.PUBLISHED:
                    if item.version == UNPLANNED:
                        continue  # its file broke after it went out: a broken file changes nothing that is out
                    changed = item.version != row.published_version
                    if changed != row.changed_after_publishing:
                        conn.execute(
                            update(deliveries)
                            .where(deliveries.c.id == row.id)
                            .values(changed_after_publishing=changed, updated_at=now)
                        )
                        counts["changed_after_publishing"] += changed
                elif row.state in OPEN:
                    changed = item.version != row.version or item.due != row.due
                    if row.state == State.HELD and item.payload != row.payload:
                        changed = True  # only a setting it carries changed (link_check): a held send looks again
                    fate = present(row.state, row.reason, changed, hold)
                    state, reason = fate.state, fate.reason
                    if item.hold and row.version != UNPLANNED:
                        # Held by a broken file: keep the last good text and time until it is fixed.
                        values = {k: getattr(row, k) for k in values if k != "updated_at"} | {"updated_at": now}
                    elif item.version == UNPLANNED and item.due != row.due:
                        values["hold_alerted_at"] = None  # never planned, and its time moved: told again then
                    if state != State.HELD:
                        values["hold_alerted_at"] = None
                    if keeps_retry_time(row.reason, item.version == row.version, state == row.state):
                        # A person asked for it to go out now: the files' time does not undo that.
                        values.update(due=row.due, max_late_s=row.max_late_s)
                    if (
                        state != row.state
                        or reason != row.reason
                        or any(getattr(row, k) != v for k, v in values.items() if k != "updated_at")
                    ):
                        if values["version"] != row.version:
                            values["attempts"] = 0
                        conn.execute(
                            update(deliveries)
                            .where(deliveries.c.id == row.id, deliveries.c.state == row.state)
                            .values(state=state, reason=reason, **values)
                        )
                        counts["held" if state == State.HELD else "updated"] += 1
            for key, row in rows.items():
                if key in seen:
                    continue
                if (
                    row.state == State.PUBLISHED
                    and not row.changed_after_publishing
                    and absent(row.post, row.channel, row.path).state == State.CANCELLED
                ):  # only what valid files say is gone; a broken file changes nothing that went out
                    conn.execute(
                        update(deliveries)
                        .where(deliveries.c.id == row.id)
                        .values(
                            changed_after_publishing=True,
                            reason="removed from the files after publishing",
                            updated_at=now,
                        )
                    )
                    counts["changed_after_publishing"] += 1
                elif row.state in (State.PENDING, State.RETRY, State.HELD, State.FAILED):
                    fate = unplanned(row.state, row.reason, absent(row.post, row.channel, row.path))
                    state, reason = fate.state, fate.reason
                    if (state, reason) != (row.state, row.reason):
                        extra = {} if state == State.HELD else {"hold_alerted_at": None}
                        conn.execute(
                            update(deliveries)
                            .where(deliveries.c.id == row.id, deliveries.c.state == row.state)
                            .values(state=state, reason=reason, updated_at=now, **extra)
                        )
                        counts["held" if state == State.HELD else "cancelled"] += 1
        return counts

    # ------------------------------------------------------------------ claims and outcomes

    def claim(self, worker: str, now: datetime) -> Claim | None:
        """Take the next due delivery on a channel that is not paused, or None."""
        with self._tx() as conn:
            paused = [r.scope for r in conn.execute(select(pauses.c.scope))]
            if "*" in paused:
                return None
            candidate = (
                select(deliveries.c.id)
                .where(
                    deliveries.c.state.in_((State.PENDING, State.RETRY)),
                    deliveries.c.due <= now,
                    or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
                    deliveries.c.channel.not_in(paused),
                )
                .order_by(deliveries.c.due, deliveries.c.id)
                .limit(1)
            )
            if not self.is_sqlite:
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
            return _claim(row, attempt_id)

    def settle(
        self,
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
        with self._tx() as conn:
            if state == State.IN_DOUBT and (out := self._doubt_over(conn, claim.id)):
                # The part in doubt was recorded out meanwhile (by the worker that sent it, back from a
                # stop): nothing is in doubt, and the reason says what the parts table has.
                detail = f"in doubt no more: part {out[-1].part} was recorded out meanwhile{parts_out(out)}"
                values.update(state=State.RETRY, reason=detail, next_attempt_at=now)
                outcome, alert = Attempted.SETTLED, None
            done = conn.execute(update(deliveries).where(*_holding(claim)).values(**values)).rowcount
            if not done:
                # Another worker took the send over (this one was stopped, or cut off): its record stands.
                self._late(conn, claim, state, now, detail, receipt_url, remote_id, next_attempt_at, settles_doubt)
                return False, None
            conn.execute(
                update(attempts)
                .where(attempts.c.id == claim.attempt_id)
                .values(finished_at=now, outcome=outcome or Attempted(state.value), detail=detail)
            )
            alert_id = None if alert is None else self._insert_alert(conn, alert, claim.post, claim.channel, now)
        return True, alert_id

    def _late(
        self,
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
        row = conn.execute(query if self.is_sqlite else query.with_for_update()).first()
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
        elif settles_doubt and row.state in (State.IN_DOUBT, State.RETRY, State.PENDING) and row.claimed_by is None:
            open_part = conn.execute(
                select(thread_parts.c.part)
                .where(thread_parts.c.delivery_id == row.id, thread_parts.c.published_at.is_(None))
                .limit(1)
            ).first()
            if open_part is None:  # nothing left in doubt: what the parts table says is the reason
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

    def thread_parts(self, delivery_id: int) -> list[Part]:
        """The parts of a delivery's thread recorded so far, in order."""
        with self._tx() as conn:
            return _parts(conn, delivery_id)

    def _doubt_over(self, conn: Connection, delivery_id: int) -> list[Part]:
        """The parts of a thread none of which is in doubt (every part marked is recorded out); []
        for a thread with a part in doubt, or a single send."""
        parts = _parts(conn, delivery_id)
        return parts if parts and all(p.published_at is not None for p in parts) else []

    def _held(self, conn: Connection, claim: Claim) -> bool:
        return conn.execute(select(deliveries.c.id).where(*_holding(claim))).first() is not None

    def part_sending(self, claim: Claim, part: int, key: str, now: datetime) -> bool:
        """Mark part `part` as about to leave (committed before its request); False if this worker
        no longer holds the delivery. A mark left from an earlier attempt keeps its first start."""
        with self._tx() as conn:
            if not self._held(conn, claim):
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
        with self._tx() as conn:
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
            return self._held(conn, claim)

    def part_not_sent(self, claim: Claim, part: int) -> None:
        """Forget the mark of a part that certainly did not go out; only while this worker holds the
        delivery (the mark may be another's, who took the send over and sent that part again)."""
        with self._tx() as conn:
            if not self._held(conn, claim):
                return
            conn.execute(
                thread_parts.delete().where(
                    thread_parts.c.delivery_id == claim.id,
                    thread_parts.c.part == part,
                    thread_parts.c.published_at.is_(None),
                )
            )

    def take_over(self, claim: Claim, worker: str, now: datetime) -> Claim | None:
        """Make an abandoned claim this worker's before settling it; None if another worker was first."""
        holder = (
            deliveries.c.claimed_by.is_(None)
            if claim.claimed_by is None
            else deliveries.c.claimed_by == claim.claimed_by
        )
        with self._tx() as conn:
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
        with self._tx() as conn:
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

    def about_to_send(self, claim: Claim) -> str | None:
        """Right before the request leaves: None and the attempt marked `sending`, or why not to send.

        Checked in one transaction with the pause, so a pause committed before this point always
        stops the send; a crash before it leaves an attempt that provably sent nothing. TAKEN_OVER
        if another worker took the claim over meanwhile (this one was stopped): it must not send.
        """
        with self._tx() as conn:
            row = conn.execute(
                select(pauses).where(pauses.c.scope.in_(("*", claim.channel))).order_by(pauses.c.scope)
            ).first()
            if not self._held(conn, claim):
                return TAKEN_OVER
            if row is not None:
                # No time here: it is shown to people, in the campaign's zone, by `status` and `history`.
                return f"{Pause(row.scope, row.reason, row.since).what} is paused: {row.reason}"
            conn.execute(update(attempts).where(attempts.c.id == claim.attempt_id).values(outcome=Attempted.SENDING))
        return None

    def attempt_outcome(self, attempt_id: int) -> Attempted | None:
        with self._tx() as conn:
            found = conn.execute(select(attempts.c.outcome).where(attempts.c.id == attempt_id)).scalar_one_or_none()
        return None if found is None else Attempted(found)

    def first_attempt(self, key: str) -> datetime | None:
        """When a request with this key may first have reached the network."""
        with self._tx() as conn:
            value = conn.execute(
                select(func.min(attempts.c.started_at)).where(
                    attempts.c.key == key,
                    attempts.c.outcome.not_in((Attempted.CLAIMED, Attempted.PAUSED, Attempted.MISSED, Attempted.HELD)),
                )
            ).scalar_one()
        return UTCDateTime().process_result_value(value, self.engine.dialect)

    def stale_claims(self, now: datetime, me: str, stale_after: timedelta) -> list[Claim]:
        """Deliveries left in `sending` by a worker that is gone (crash, kill, lost host); `me` (the
        worker asking) is alive, others as `live_workers` says."""
        with self._tx() as conn:
            rows = list(conn.execute(select(deliveries).where(deliveries.c.state == State.SENDING)))
            alive = {me, *_alive(conn, now, stale_after)} if rows else set()
            found = []
            for row in rows:
                # A claim younger than stale_after may be a worker that has not heartbeated yet (a
                # `run --once` on another host): only a process known to have ended gives it up sooner.
                fresh = row.claimed_at is not None and row.claimed_at > now - stale_after
                if row.claimed_by in alive or (fresh and process_ended(row.claimed_by or "") is not True):
                    continue
                # Its open attempt: not a row a worker that was taken over added of its own (closed).
                attempt_id = conn.execute(
                    select(func.max(attempts.c.id)).where(
                        attempts.c.delivery_id == row.id, attempts.c.finished_at.is_(None)
                    )
                ).scalar_one()
                found.append(_claim(row, attempt_id if attempt_id is not None else 0))
            return found

    def next_wake(self, *, unpaused: bool = False, held: bool = True) -> datetime | None:
        """The earliest time a pending or waiting delivery becomes due; `unpaused`: only those on
        channels that no pause holds (what a daemon can send next); `held`: or a held one, to alert."""
        with self._tx() as conn:
            paused = [r.scope for r in conn.execute(select(pauses.c.scope))] if unpaused else []
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
        found = (UTCDateTime().process_result_value(t, self.engine.dialect) for t in (due, retry, alert) if t)
        return min((t for t in found if t is not None), default=None)

    # ------------------------------------------------------------------ holds that need a person

    def held_now_due(self, now: datetime) -> list[Delivery]:
        """Held deliveries whose time has come and that were not alerted yet, marked alerted.

        One UPDATE … RETURNING: of several daemons (or a restart), exactly one gets each row.
        """
        with self._tx() as conn:
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

    def broken_files(self, current: dict[str, str], now: datetime) -> tuple[list[tuple[str, str]], list[str]]:
        """Record which settings files are broken (path → what is wrong); returns the newly broken
        ones (or broken differently) and the paths fixed since, each only to the first who asks."""
        with self._tx() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(7244)"))
            known = {r.path: r.message for r in conn.execute(select(file_alerts))}
            new = [(path, message) for path, message in sorted(current.items()) if known.get(path) != message]
            fixed = sorted(set(known) - set(current))
            for path, message in new:
                conn.execute(file_alerts.delete().where(file_alerts.c.path == path))
                conn.execute(file_alerts.insert().values(path=path, message=message, at=now))
            if fixed:
                conn.execute(file_alerts.delete().where(file_alerts.c.path.in_(fixed)))
        return new, fixed

    def broken_files_seen(self) -> list[tuple[str, str]]:
        """The broken settings files as a daemon last found them (path, what is wrong), by path."""
        with self._tx() as conn:
            return [(r.path, r.message) for r in conn.execute(select(file_alerts).order_by(file_alerts.c.path))]

    # ------------------------------------------------------------------ pauses, workers, alerts

    def pause(self, scope: str, reason: str, now: datetime, by: Actor) -> None:
        """Pause a channel, or "*" for everything, and record who did it."""
        with self._tx() as conn:
            conn.execute(pauses.delete().where(pauses.c.scope == scope))
            conn.execute(pauses.insert().values(scope=scope, reason=reason, since=now))
            _record(conn, "pause", by, now, channel=None if scope == "*" else scope, reason=reason)

    def resume(self, scope: str | None, now: datetime, by: Actor, reason: str | None = None) -> list[Pause]:
        """Lift the pause of one scope, or every pause (None); the pauses lifted, recorded if any."""
        with self._tx() as conn:
            query = select(pauses).order_by(pauses.c.scope)
            if scope is not None:
                query = query.where(pauses.c.scope == scope)
            lifted = [Pause(r.scope, r.reason, r.since) for r in conn.execute(query)]
            if lifted:
                conn.execute(pauses.delete().where(pauses.c.scope.in_([p.scope for p in lifted])))
                _record(
                    conn,
                    "resume",
                    by,
                    now,
                    channel=scope if scope not in (None, "*") else None,
                    reason=reason,
                    detail=", ".join(p.what for p in lifted),
                )
        return lifted

    def heartbeat(self, worker: str, now: datetime) -> None:
        with self._tx() as conn:
            if not conn.execute(update(workers).where(workers.c.id == worker).values(seen_at=now)).rowcount:
                conn.execute(workers.insert().values(id=worker, started_at=now, seen_at=now))

    def leave(self, worker: str) -> None:
        with self._tx() as conn:
            conn.execute(workers.delete().where(workers.c.id == worker))

    def record_alert(
        self, kind: str, post: str | None, channel: str | None, message: str, now: datetime, *, unsent: bool = False
    ) -> int:
        """Record an alert; `unsent`: the webhook has yet to receive it (see `unsent_alerts`). Its id."""
        with self._tx() as conn:
            return self._insert_alert(conn, NewAlert(kind, message, unsent), post, channel, now)

    def _insert_alert(
        self, conn: Connection, alert: NewAlert, post: str | None, channel: str | None, now: datetime
    ) -> int:
        values = {"at": now, "kind": alert.kind, "post": post, "channel": channel, "message": redact(alert.message)}
        if alert.reply_id is not None:
            values["reply_id"] = alert.reply_id
        new_id: int = conn.execute(alerts.insert().values(unsent=alert.unsent, **values)).inserted_primary_key[0]  # type: ignore[index]
        return new_id

    def unsent_alerts(self, before: datetime) -> list[Alert]:
        """Alerts recorded for the webhook before `before` that it has not received (a kill came between)."""
        with self._tx() as conn:
            query = select(alerts).where(alerts.c.unsent.is_(True), alerts.c.at < before).order_by(alerts.c.id)
            return [Alert(**row._asdict()) for row in conn.execute(query)]

    def alert_sent(self, alert_id: int) -> None:
        with self._tx() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(unsent=False))

    # ------------------------------------------------------------------ results (scheduler.results)

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
            select(*_PUBLISHED)
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
        with self._tx(read=True) as conn:
            rows = list(conn.execute(query))
            done: dict[int, set[int]] = {}
            for chunk in _chunks([str(row.id) for row in rows]):
                query_taken = select(snapshots.c.delivery_id, snapshots.c.age_s).where(
                    snapshots.c.delivery_id.in_([int(i) for i in chunk])
                )
                for taken_row in conn.execute(query_taken):
                    done.setdefault(taken_row.delivery_id, set()).add(taken_row.age_s)
        for row in rows:
            age_now = (now - row.published_at).total_seconds()
            due = tuple(a for a in wanted if a <= age_now and a not in done.get(row.id, set()))
            if due:
                published = _published(row)
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
            with self._tx() as conn:
                conn.execute(snapshots.insert(), values)
            return len(values)
        except IntegrityError:
            new = 0
            for value in values:
                try:
                    with self._tx() as conn:
                        conn.execute(snapshots.insert().values(**value))
                    new += 1
                except IntegrityError:
                    pass
            return new

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, by delivery and age."""
        with self._tx(read=True) as conn:
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

    def reply_targets(
        self, now: datetime, window: timedelta, channels: Collection[str]
    ) -> list[tuple[Published, datetime | None]]:
        """The posts on `channels` published within `window` before `now`, each with when its
        replies were last read (None: never), least recently read first."""
        if not channels:
            return []
        query = (
            select(*_PUBLISHED, reply_polls.c.polled_at)
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
        with self._tx(read=True) as conn:
            return [(_published(r), r.polled_at) for r in conn.execute(query)]

    def record_replies(self, read: Iterable[tuple[Published, list[NewReply]]], now: datetime) -> list[StoredReply]:
        """Keep the replies of each post read that were not kept before (by channel and remote id)
        and note when each post was read, in one transaction; the new replies."""
        new_ids: list[int] = []
        with self._tx() as conn:
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
            for chunk in _chunks([f.reply.remote_id for f in found]):
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
            insert = self._insert(replies).values(**values)
            insert = insert.on_conflict_do_nothing(index_elements=["channel", "remote_id"])
            new_id = conn.execute(insert.returning(replies.c.id)).scalar()
            if new_id is not None:
                new_ids.append(new_id)
        polled = self._insert(reply_polls).values(delivery_id=published.id, polled_at=now)
        conn.execute(polled.on_conflict_do_update(index_elements=["delivery_id"], set_={"polled_at": now}))
        return new_ids

    def take_reply_poll(self, delivery_id: int, seen: datetime | None, now: datetime) -> bool:
        """Take the reading of a post's replies, as a send is claimed: mark it read at `now` if it is
        still as this collector saw it (`seen`: when it was last read, None: never); False if another
        collector took it since. Give it back with `give_back_reply_poll` if the network did not answer."""
        with self._tx() as conn:
            if seen is None:
                taken = self._insert(reply_polls).values(delivery_id=delivery_id, polled_at=now)
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
        with self._tx() as conn:
            mine = and_(reply_polls.c.delivery_id == delivery_id, reply_polls.c.polled_at == now)
            if seen is None:
                conn.execute(reply_polls.delete().where(mine))
            else:
                conn.execute(update(reply_polls).where(mine).values(polled_at=seen))

    def _insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT, in the ledger's dialect."""
        return (sqlite_insert if self.is_sqlite else postgresql_insert)(table)

    def stored_replies(self, *, unhandled: bool = False, watched: bool = False) -> list[StoredReply]:
        """The replies kept, oldest first: all, those no one handled, or those matching the watch list
        and not yet alerted (`watched`)."""
        query = select(replies).order_by(replies.c.at, replies.c.id)
        if unhandled:
            query = query.where(replies.c.handled_at.is_(None))
        if watched:
            query = query.where(replies.c.watch.is_not(None), replies.c.alerted_at.is_(None))
        with self._tx(read=True) as conn:
            return [StoredReply(**row._asdict()) for row in conn.execute(query)]

    def alert_reply(self, reply: StoredReply, message: str, now: datetime, *, unsent: bool) -> int | None:
        """Mark a watched reply alerted and record its alert in one transaction: the id of the alert
        to send, or None if it was alerted before (by this daemon or another)."""
        with self._tx() as conn:
            marked = conn.execute(
                update(replies).where(replies.c.id == reply.id, replies.c.alerted_at.is_(None)).values(alerted_at=now)
            ).rowcount
            if not marked:
                return None
            alert = NewAlert("reply", message, unsent, reply_id=reply.id)
            return self._insert_alert(conn, alert, reply.post, reply.channel, now)

    def published_url(self, delivery_id: int) -> str | None:
        """The link to a published send (its receipt), if the network gave one."""
        with self._tx(read=True) as conn:
            url: str | None = conn.execute(
                select(deliveries.c.receipt_url).where(deliveries.c.id == delivery_id)
            ).scalar_one_or_none()
            return url

    def handle_reply(self, reply_id: int, by: Actor, now: datetime, note: str | None = None) -> StoredReply | None:
        """Mark a reply handled by `by` (a second time keeps the first); None if there is no such reply."""
        with self._tx() as conn:
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
        VACUUM is run here (README, "Personal data and retention")."""
        with self._tx() as conn:
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
        emptied = self._empty_wal() if self.is_sqlite else True
        return Purged(deleted, unhandled, gone, emptied)

    def _empty_wal(self) -> bool:
        """Copy SQLite's write-ahead log into the file and truncate it to nothing: the log keeps
        every page as it was written (a deleted reply's text too) until a checkpoint reuses it.
        False if a reader held on to it for the whole busy timeout."""
        # On the driver's own connection: a checkpoint cannot run inside the transaction SQLAlchemy would begin.
        connection = self.engine.raw_connection()
        driver: Any = connection.driver_connection
        try:
            # While it waits for readers it holds off new writers (a daemon's claims): wait briefly, not 30 s.
            driver.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise LedgerUnavailable(redact(f"the database cannot be reached: {_first_line(exc)}")) from None
        finally:
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.close()
        return not busy

    # ------------------------------------------------------------------ operators

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
        with self._tx() as conn:
            return [Delivery.of(row) for row in conn.execute(query)]

    def first_due(self, states: Iterable[State], limit: int) -> list[Delivery]:
        """At most `limit` deliveries in `states`, soonest due first (a page's list). One query per state,
        each read in the order of the (state, due) index, so 40,000 pending rows are never sorted."""
        found: list[Delivery] = []
        with self._tx() as conn:
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
        with self._tx() as conn:
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
        with self._tx() as conn:
            return [Delivery.of(row) for row in conn.execute(query)]

    def state_counts(self) -> dict[State, int]:
        """How many deliveries are in each state (states with none are left out)."""
        query = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
        with self._tx() as conn:
            return {State(state): count for state, count in conn.execute(query)}

    def change_mark(self) -> str:
        """A short value that changes when a delivery changes state, an attempt starts, or a pause or an
        action by hand is made (the web dashboard polls it to know when to redraw). Read from indexes
        only: the counts per state, the newest attempt and action, the pauses."""
        with self._tx() as conn:
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
        with self._tx() as conn:
            return [Attempt.of(row) for row in conn.execute(query)]

    def actions(self, post: str | None = None, after: int = 0) -> list[Action]:
        """What people did by hand, oldest first: all of it, or the retries and resolves of one post."""
        query = select(actions).where(actions.c.id > after).order_by(actions.c.id)
        if post is not None:
            query = query.where(actions.c.post == post)
        with self._tx() as conn:
            return [Action(**row._asdict()) for row in conn.execute(query)]

    def live_workers(self, now: datetime, stale_after: timedelta) -> list[str]:
        """The workers (daemons, `run --once`) that are alive: on this host, those whose process still
        runs; on another, those with a heartbeat within `stale_after` of `now`."""
        with self._tx() as conn:
            return sorted(_alive(conn, now, stale_after))

    def pauses(self) -> list[Pause]:
        with self._tx() as conn:
            return [Pause(r.scope, r.reason, r.since) for r in conn.execute(select(pauses).order_by(pauses.c.scope))]

    def alerted(self, kind: str, channel: str, message: str) -> bool:
        """Whether this very alert was raised before, by any process (for what is said only once)."""
        query = (
            select(alerts.c.id)
            .where(alerts.c.kind == kind, alerts.c.channel == channel, alerts.c.message == message)
            .limit(1)
        )
        with self._tx(read=True) as conn:
            return conn.execute(query).first() is not None

    def alerts(self, limit: int = 50) -> list[Alert]:
        """The latest alerts, newest first."""
        with self._tx() as conn:
            return [
                Alert(**row._asdict()) for row in conn.execute(select(alerts).order_by(alerts.c.id.desc()).limit(limit))
            ]

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
        with self._tx() as conn:
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
                _record(conn, "retry", by, now, post=post, channel=channel, reason=reason, detail=detail)
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
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(deliveries.c.post == post, deliveries.c.channel == channel, deliveries.c.state == State.IN_DOUBT)
                .values(**values)
            ).rowcount
            if done:
                detail = f"published ({published_url})" if published_url is not None else "not published"
                _record(conn, "resolve", by, now, post=post, channel=channel, reason=reason, detail=detail)
        return done

    # ------------------------------------------------------------------ the dashboard's logins

    def count_login_attempt(self, keys: Sequence[str], now: datetime, window: timedelta) -> list[tuple[int, datetime]]:
        """Count one login attempt against each of `keys`, in one transaction and before the password is
        checked, so attempts made at the same moment each count. Per key: the attempts in its window so
        far (this one included) and when that window began; a window older than `window` starts afresh."""
        upsert = sqlite_insert if self.is_sqlite else postgresql_insert
        cutoff = now - window
        stale = login_attempts.c.started_at <= cutoff
        counted = []
        with self._tx() as conn:
            for key in keys:  # always in the same order, so two attempts never wait on each other in a circle
                insert = upsert(login_attempts).values(key=key, started_at=now, count=1)
                statement = insert.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "count": case((stale, 1), else_=login_attempts.c.count + 1),
                        "started_at": case((stale, insert.excluded.started_at), else_=login_attempts.c.started_at),
                    },
                ).returning(login_attempts.c.count, login_attempts.c.started_at)
                count, started = conn.execute(statement).one()
                counted.append((int(count), started))
            # Windows long over go; rows another attempt holds are left to a later one (never waited for).
            old = select(login_attempts.c.key).where(stale)
            if not self.is_sqlite:
                old = old.with_for_update(skip_locked=True)
            conn.execute(login_attempts.delete().where(login_attempts.c.key.in_(old.scalar_subquery())))
        return counted

    def forgive_login_attempt(self, forget: Sequence[str], refund: Sequence[str]) -> None:
        """After a right password: the windows of `forget` end; `refund` gets back the attempt it was counted."""
        with self._tx() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.key.in_(forget)))
            conn.execute(
                update(login_attempts)
                .where(login_attempts.c.key.in_(refund), login_attempts.c.count > 0)
                .values(count=login_attempts.c.count - 1)
            )

    def start_web_session(self, session_id: str, account: str, now: datetime, expires: datetime) -> None:
        """Record a login (`session_id`: a digest, never what the cookie carries); ended ones are forgotten."""
        with self._tx() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))
            conn.execute(
                web_sessions.insert().values(id=session_id, account=account, started_at=now, expires_at=expires)
            )

    def web_session_account(self, session_id: str, now: datetime) -> str | None:
        """The account of a live session: recorded, not logged out, not expired; None otherwise."""
        live = (web_sessions.c.id == session_id, web_sessions.c.ended_at.is_(None), web_sessions.c.expires_at > now)
        with self._tx(read=True) as conn:
            account: str | None = conn.execute(select(web_sessions.c.account).where(*live)).scalar()
        return account

    def end_web_session(self, session_id: str, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(ended_at=now))


def _record(
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


def _alive(conn: Connection, now: datetime, stale_after: timedelta) -> set[str]:
    """The live workers, by the rule of `Ledger.live_workers`."""
    found = set()
    for row in conn.execute(select(workers.c.id, workers.c.seen_at)):
        ended = process_ended(row.id)
        if (row.seen_at >= now - stale_after) if ended is None else not ended:
            found.add(row.id)
    return found


def process_ended(worker: str) -> bool | None:
    """Whether the process of a worker of this host (id `host:pid:…`) has ended; None when the
    worker is another host's (or its id names no process), so only its heartbeat can tell."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it runs
        pass
    return False


def parts_out(done: Sequence[Part]) -> str:
    """What a reason says of a thread's parts out, with their links (how the parts table has them)."""
    if not done:
        return "; no part is out"
    return f"; parts out: {', '.join(f'{p.part} ({p.url or p.remote_id})' for p in done)}"


def _holding(claim: Claim) -> tuple[Any, ...]:
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


def _parts(conn: Connection, delivery_id: int) -> list[Part]:
    rows = conn.execute(
        select(thread_parts).where(thread_parts.c.delivery_id == delivery_id).order_by(thread_parts.c.part)
    ).all()
    return [
        Part(r.part, r.key, r.started_at, r.remote_id, r.cid, r.url, r.published_at)
        for r in rows  # UTCDateTime gives aware times
    ]


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [error.__class__.__name__])[0]


def _claim(row: Any, attempt_id: int) -> Claim:
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
    )


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    """`values` in lists small enough for one IN (...) on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=FULL",
    "foreign_keys=ON",
    # What is deleted (a purged reply) is overwritten with zeros, not left in free space. Debian
    # builds SQLite with this on; other builds (macOS, python.org, Windows) leave it off.
    "secure_delete=ON",
)


def _engine(url: str, *, deferred: bool = False) -> Engine:
    if url.startswith("sqlite"):
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise LedgerError(
                f"SQLite {sqlite3.sqlite_version} is too old: the ledger needs {'.'.join(map(str, MIN_SQLITE))}+"
            )
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below decides
            for pragma in _SQLITE_PRAGMAS:
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # Take the write lock up front (no upgrade deadlocks); a reader's engine reads a WAL snapshot.
            connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=10)
    except (SQLAlchemyError, ImportError) as exc:
        raise LedgerError(redact(f"cannot use DATABASE_URL: {exc}")) from None


def published_sends(url: str) -> set[tuple[str, str]]:
    """(post, channel) of every delivery the ledger at `url` has as published, read without writing:
    SQLite opened read-only (no WAL switch, no lock taken), PostgreSQL in a read-only transaction.
    A SQLite file that does not exist has published nothing. LedgerError if it cannot be read."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return set()
        engine = create_engine(f"sqlite:///file:{Path(path).resolve().as_posix()}?mode=ro&uri=true")
    else:
        try:
            engine = create_engine(
                url, connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 5}
            )
        except (SQLAlchemyError, ImportError) as exc:
            raise LedgerError(redact(f"cannot use DATABASE_URL: {exc}")) from None
    try:
        with engine.connect() as conn:
            query = select(deliveries.c.post, deliveries.c.channel).where(deliveries.c.state == State.PUBLISHED)
            return {(row.post, row.channel) for row in conn.execute(query)}
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise LedgerError(redact(f"cannot read the ledger: {reason}")) from None
    finally:
        engine.dispose()
