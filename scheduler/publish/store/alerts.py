"""Alerts as recorded (the webhook's outbox), and the broken settings files that were alerted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, text, update

from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import alerts, file_alerts
from scheduler.secrets import redact


@dataclass(frozen=True)
class NewAlert:
    """An alert to record with an outcome, in the same transaction; `unsent`: a webhook will get it."""

    kind: str
    message: str
    unsent: bool
    reply_id: int | None = None


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


class Alerts:
    """Alerts, and the broken settings files already told about."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record_alert(
        self, kind: str, post: str | None, channel: str | None, message: str, now: datetime, *, unsent: bool = False
    ) -> int:
        """Record an alert; `unsent`: the webhook has yet to receive it (see `unsent_alerts`). Its id."""
        with self.db.tx() as conn:
            return insert_alert(conn, NewAlert(kind, message, unsent), post, channel, now)

    def unsent_alerts(self, before: datetime) -> list[Alert]:
        """Alerts recorded for the webhook before `before` that it has not received (a kill came between)."""
        with self.db.tx() as conn:
            query = select(alerts).where(alerts.c.unsent.is_(True), alerts.c.at < before).order_by(alerts.c.id)
            return [Alert(**row._asdict()) for row in conn.execute(query)]

    def alert_sent(self, alert_id: int) -> None:
        with self.db.tx() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(unsent=False))

    def alerted(self, kind: str, channel: str, message: str) -> bool:
        """Whether this very alert was raised before, by any process (for what is said only once)."""
        query = (
            select(alerts.c.id)
            .where(alerts.c.kind == kind, alerts.c.channel == channel, alerts.c.message == message)
            .limit(1)
        )
        with self.db.tx(read=True) as conn:
            return conn.execute(query).first() is not None

    def told(self, kind: str, post: str) -> bool:
        """Whether an alert of `kind` about `post` was raised before, by any process."""
        query = select(alerts.c.id).where(alerts.c.kind == kind, alerts.c.post == post).limit(1)
        with self.db.tx(read=True) as conn:
            return conn.execute(query).first() is not None

    def latest(self, limit: int = 50) -> list[Alert]:
        """The latest alerts, newest first."""
        with self.db.tx() as conn:
            return [
                Alert(**row._asdict()) for row in conn.execute(select(alerts).order_by(alerts.c.id.desc()).limit(limit))
            ]

    def broken_files(
        self, current: dict[str, str], now: datetime, unchecked: Callable[[str], bool] = lambda _: False
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """Record which files are broken (path → what is wrong); returns the newly broken ones (or
        broken differently) and the paths fixed since, each only to the first who asks. A recorded
        path that is `unchecked` now, and not in `current`, is kept as it was: not known to be fixed."""
        with self.db.tx() as conn:
            if not self.db.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(7244)"))
            known = {r.path: r.message for r in conn.execute(select(file_alerts))}
            new = [(path, message) for path, message in sorted(current.items()) if known.get(path) != message]
            fixed = sorted(path for path in set(known) - set(current) if not unchecked(path))
            for path, message in new:
                conn.execute(file_alerts.delete().where(file_alerts.c.path == path))
                conn.execute(file_alerts.insert().values(path=path, message=message, at=now))
            if fixed:
                conn.execute(file_alerts.delete().where(file_alerts.c.path.in_(fixed)))
        return new, fixed

    def broken_files_seen(self) -> list[tuple[str, str]]:
        """The broken settings files as a daemon last found them (path, what is wrong), by path."""
        with self.db.tx() as conn:
            return [(r.path, r.message) for r in conn.execute(select(file_alerts).order_by(file_alerts.c.path))]


def insert_alert(conn: Connection, alert: NewAlert, post: str | None, channel: str | None, now: datetime) -> int:
    """Record `alert` in the transaction of what it is about (a settle, a reply marked alerted)."""
    values = {"at": now, "kind": alert.kind, "post": post, "channel": channel, "message": redact(alert.message)}
    if alert.reply_id is not None:
        values["reply_id"] = alert.reply_id
    new_id: int = conn.execute(alerts.insert().values(unsent=alert.unsent, **values)).inserted_primary_key[0]  # type: ignore[index]
    return new_id
