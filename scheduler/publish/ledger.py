"""The ledger: what did happen. `Ledger` is the entry object; each noun's queries and row types live
in a module of their own under scheduler.publish.store, the only package that opens database sessions.

One row per delivery (a post on a channel) and its state:

    pending ──claim──▶ sending ──▶ published
       ▲                  ├──▶ retry ──(next_attempt_at)──▶ sending
       │                  ├──▶ failed     (rejected, or out of attempts)
       │                  ├──▶ in_doubt   (may be out: settled by lookup or by a person)
       │                  └──▶ missed     (later than its max_late)
    held (its file has errors, or its text already went out; or, from sending, a dead link)
    cancelled (deleted, or made a draft)

A claim is committed, with its attempt row, before any request leaves; every outcome is
committed after, over the claim only while it still stands (see `store.sends.holding`): a worker whose send
another took over (it was stopped) records what it learnt as an attempt row of its own. Claims
use one UPDATE … RETURNING of the next due row (FOR UPDATE SKIP LOCKED on PostgreSQL; BEGIN
IMMEDIATE on SQLite), so two workers never hold the same delivery.

A caller reaches a noun through the entry object (`ledger.sends.claim(...)`, `ledger.replies.purge_replies(...)`)
and imports its row types from the noun's module. `settle` stays on `Ledger` itself: its one transaction
spans three nouns (the send, its thread parts, its alert), so it belongs to none of them.
"""

from __future__ import annotations

from scheduler.publish.store.alerts import Alert, Alerts, NewAlert
from scheduler.publish.store.db import Database, database_url, published_sends
from scheduler.publish.store.logins import Logins
from scheduler.publish.store.operators import Action, Actor, Operators, Pause
from scheduler.publish.store.replies import NewReply, Purged, Replies, StoredReply
from scheduler.publish.store.results import Published, Results, Snapshot, SnapshotsDue
from scheduler.publish.store.schema import UTCDateTime, deliveries, metadata
from scheduler.publish.store.sends import TAKEN_OVER, Attempt, Claim, Delivery, Sends
from scheduler.publish.store.settle import settle as settle_claim
from scheduler.publish.store.threads import Part, Threads, parts_out
from scheduler.publish.store.uploads import Uploads
from scheduler.publish.store.views import Views
from scheduler.publish.store.wanted import Wanted, WantedSends
from scheduler.publish.store.workers import Workers

# The names other packages (and Alembic's migrations: UTCDateTime, metadata) import from here.
__all__ = [
    "TAKEN_OVER",
    "Action",
    "Actor",
    "Alert",
    "Attempt",
    "Claim",
    "Delivery",
    "Ledger",
    "NewAlert",
    "NewReply",
    "Part",
    "Pause",
    "Published",
    "Purged",
    "Snapshot",
    "SnapshotsDue",
    "StoredReply",
    "UTCDateTime",
    "Wanted",
    "database_url",
    "deliveries",
    "metadata",
    "parts_out",
    "published_sends",
]


class Ledger(Database):
    """One ledger database and a store per noun. Safe to share between threads."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.wanted = WantedSends(self)  # files → ledger
        self.sends = Sends(self)  # claims, takeovers, recovery's reads
        self.threads = Threads(self)
        self.uploads = Uploads(self)  # media a send uploaded, reused by its retry
        self.operators = Operators(self)  # pauses and actions by hand
        self.workers = Workers(self)
        self.alerts = Alerts(self)  # and the broken files told about
        self.results = Results(self)
        self.replies = Replies(self)
        self.logins = Logins(self)  # the dashboard's throttle and sessions
        self.views = Views(self)  # what people read: status, history, the dashboard

    # Its one transaction spans three nouns (the send, its thread parts, its alert), so it is the
    # ledger's own: `ledger.settle(claim, ...)` (see scheduler.publish.store.settle).
    settle = settle_claim
