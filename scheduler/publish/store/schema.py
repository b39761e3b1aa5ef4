"""The ledger's tables, in one place (Alembic's migrations are checked against them), and the type
that keeps every time aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

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
    Column("signoff", Text),  # who must approve its post's exact text first (None: nobody)
    # A hash of the files it was planned from (scheduler.publish.fingerprint); None: not known.
    Column("planned_from", String(64)),
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


media_uploads = Table(  # a file uploaded for one send, until the send no longer needs it: reused by a retry
    "media_uploads",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("key", String(80), primary_key=True),  # the send's (or thread part's) idempotency key
    Column("digest", String(64), primary_key=True),  # SHA-256 of the file's bytes and its alt text
    Column("remote_id", String(300), nullable=False),  # the network's media id
    Column("uploaded_at", UTCDateTime, nullable=False),
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
signoff_requests = Table(  # a link a person approves one post through (scheduler.signoff.tokens)
    "signoff_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post", String(300), nullable=False, index=True),
    Column("person", String(100), nullable=False),  # the name the team typed, nothing more
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token: never the token
    Column("made_at", UTCDateTime, nullable=False),
    Column("made_by", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)
signoff_decisions = Table(  # approved, declined (with the person's note), or voided (what goes out changed)
    "signoff_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("signoff_requests.id"), nullable=False, index=True),
    Column("post", String(300), nullable=False, index=True),
    Column("person", String(100), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # of what the person saw (voided: of what it became)
    Column("note", Text),
    Column("at", UTCDateTime, nullable=False),
    Column("seen", Text),  # an approval: what the person saw, as JSON (channel → text), to show what changed since
)
