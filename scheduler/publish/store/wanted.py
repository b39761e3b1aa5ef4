"""Files → ledger: the sends the files want, made the open deliveries (never what is sending or settled)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update

from scheduler.publish.holds import (
    UNPLANNED,
    Fate,
    keeps_retry_time,
    present,
    repeat_hold,
    unplanned,
)
from scheduler.publish.states import OPEN, State
from scheduler.publish.store.db import Database, chunks
from scheduler.publish.store.schema import deliveries
from scheduler.words import SOURCE


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
    signoff: str | None = None  # who must approve it first (scheduler.signoff.fingerprint.encode_needs)
    planned_from: str | None = None  # the files it was planned from (scheduler.publish.fingerprint); None: unknown


class WantedSends:
    """The files' wanted sends, synced into the ledger."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sync(
        self,
        wanted: Iterable[Wanted],
        absent: Callable[[str, str, str], Fate],
        now: datetime,
        *,
        gone: Collection[tuple[str, str]] | None = None,
        paths: Collection[str] = (),
        busy: set[tuple[str, str]] | None = None,
        language: str = SOURCE,
    ) -> dict[str, int]:
        """Make open deliveries match the files; never touch what is sending or settled.

        `absent(post, channel, path)`: the fate of an open delivery the files no longer plan
        (scheduler.publish.holds decides: cancelled only when valid files say it is gone).
        Without `gone`, `wanted` is every send the files plan and every delivery is looked at.
        With it, only part is: `wanted` holds the sends added or changed since the last sync,
        `gone` the (post, channel) of those the files no longer plan, and `paths` post files read
        differently now, whose open deliveries not in `wanted` go through `absent` too.
        `busy` gets the (post, channel) of wanted sends left as they are because they are being
        sent or in doubt (a later sync is to look at them again). `language`: the campaign's, in which a
        repeat's hold is written.
        """
        counts = {"added": 0, "updated": 0, "held": 0, "cancelled": 0, "changed_after_publishing": 0}
        wanted = list(wanted)
        with self.db.tx() as conn:
            if not self.db.is_sqlite:  # daemons syncing at once take turns (SQLite's BEGIN IMMEDIATE does this)
                conn.execute(text("SELECT pg_advisory_xact_lock(7243)"))
            if gone is None:
                rows = {(r.post, r.channel): r for r in conn.execute(select(deliveries))}
                published_texts = {
                    (r.channel, r.text_hash): r.post for r in rows.values() if r.state == State.PUBLISHED
                }
            else:
                keys = {(w.post, w.channel) for w in wanted} | set(gone)
                rows = {}
                for chunk in chunks(sorted({post for post, _ in keys})):
                    for r in conn.execute(select(deliveries).where(deliveries.c.post.in_(chunk))):
                        if (r.post, r.channel) in keys:
                            rows[(r.post, r.channel)] = r
                for chunk in chunks(sorted(paths)):
                    open_here = (
                        deliveries.c.path.in_(chunk),
                        deliveries.c.state.in_((State.PENDING, State.RETRY, State.HELD, State.FAILED)),
                    )
                    rows.update(((r.post, r.channel), r) for r in conn.execute(select(deliveries).where(*open_here)))
                published_texts = {}
                for chunk in chunks(sorted({w.text_hash for w in wanted})):
                    found = select(deliveries.c.channel, deliveries.c.text_hash, deliveries.c.post).where(
                        deliveries.c.state == State.PUBLISHED, deliveries.c.text_hash.in_(chunk)
                    )
                    published_texts.update(
                        ((r.channel, r.text_hash), r.post) for r in conn.execute(found.order_by(deliveries.c.id))
                    )
            seen = set()
            writes = _Writes()
            for item in wanted:
                seen.add((item.post, item.channel))
                repeat = published_texts.get((item.channel, item.text_hash))
                hold = item.hold or repeat_hold(item.channel, item.post, repeat, item.allow_repeat, language)
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
                    "signoff": item.signoff,
                    "planned_from": item.planned_from,
                    "updated_at": now,
                }
                if row is None:
                    writes.insert(
                        post=item.post,
                        channel=item.channel,
                        state=State.HELD if hold else State.PENDING,
                        reason=hold,
                        attempts=0,
                        changed_after_publishing=False,
                        hold_alerted_at=None,
                        **values,
                    )
                    counts["held" if hold else "added"] += 1
                elif row.state == State.PUBLISHED:
                    if item.version == UNPLANNED:
                        continue  # its file broke after it went out: a broken file changes nothing that is out
                    changed = item.version != row.published_version
                    if changed != row.changed_after_publishing:
                        writes.update(row, None, changed_after_publishing=changed, updated_at=now)
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
                        writes.update(row, row.state, state=state, reason=reason, **values)
                        counts["held" if state == State.HELD else "updated"] += 1
            for key, row in rows.items():
                if key in seen:
                    continue
                if (
                    row.state == State.PUBLISHED
                    and not row.changed_after_publishing
                    and absent(row.post, row.channel, row.path).state == State.CANCELLED
                ):  # only what valid files say is gone; a broken file changes nothing that went out
                    writes.update(
                        row,
                        None,
                        changed_after_publishing=True,
                        reason="removed from the files after publishing",
                        updated_at=now,
                    )
                    counts["changed_after_publishing"] += 1
                elif row.state in (State.PENDING, State.RETRY, State.HELD, State.FAILED):
                    fate = unplanned(row.state, row.reason, absent(row.post, row.channel, row.path))
                    state, reason = fate.state, fate.reason
                    if (state, reason) != (row.state, row.reason):
                        extra = {} if state == State.HELD else {"hold_alerted_at": None}
                        writes.update(row, row.state, state=state, reason=reason, updated_at=now, **extra)
                        counts["held" if state == State.HELD else "cancelled"] += 1
            writes.flush(conn)
        return counts


class _Writes:
    """The rows one sync adds and changes, written together at its end: one statement per kind of
    change with all its rows (executemany), not one compiled statement per row (a new ledger's first
    sync of 40,000 sends spent most of its time building those)."""

    def __init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []
        self.updates: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}

    def insert(self, **values: Any) -> None:
        self.inserts.append(values)

    def update(self, row: Any, while_in: str | None, **values: Any) -> None:
        """Set `values` on `row`, only while it is still in state `while_in` (None: whatever its state)."""
        params = {f"v_{k}": v for k, v in values.items()} | {"w_id": row.id, "w_state": while_in}
        self.updates.setdefault((while_in is not None, tuple(sorted(values))), []).append(params)

    def flush(self, conn: Connection) -> None:
        if self.inserts:
            conn.execute(deliveries.insert(), self.inserts)
        for (guarded, names), params in self.updates.items():
            where = [deliveries.c.id == bindparam("w_id")]
            if guarded:  # a claim may have taken it meanwhile: then it is left to the claim
                where.append(deliveries.c.state == bindparam("w_state"))
            conn.execute(update(deliveries).where(*where).values({n: bindparam(f"v_{n}") for n in names}), params)
        self.inserts, self.updates = [], {}
