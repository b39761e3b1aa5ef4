"""The dashboard's logins: the throttle shared by every `serve` process, and the sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import login_attempts, web_sessions


class Logins:
    """Login attempts counted per key, and web sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def count_login_attempt(self, keys: Sequence[str], now: datetime, window: timedelta) -> list[tuple[int, datetime]]:
        """Count one login attempt against each of `keys`, in one transaction and before the password is
        checked, so attempts made at the same moment each count. Per key: the attempts in its window so
        far (this one included) and when that window began; a window older than `window` starts afresh."""
        cutoff = now - window
        stale = login_attempts.c.started_at <= cutoff
        counted = []
        with self.db.tx() as conn:
            for key in keys:  # always in the same order, so two attempts never wait on each other in a circle
                insert = self.db.insert(login_attempts).values(key=key, started_at=now, count=1)
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
            if not self.db.is_sqlite:
                old = old.with_for_update(skip_locked=True)
            conn.execute(login_attempts.delete().where(login_attempts.c.key.in_(old.scalar_subquery())))
        return counted

    def forgive_login_attempt(self, forget: Sequence[str], refund: Sequence[str]) -> None:
        """After a right password: the windows of `forget` end; `refund` gets back the attempt it was counted."""
        with self.db.tx() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.key.in_(forget)))
            conn.execute(
                update(login_attempts)
                .where(login_attempts.c.key.in_(refund), login_attempts.c.count > 0)
                .values(count=login_attempts.c.count - 1)
            )

    def start_web_session(self, session_id: str, account: str, now: datetime, expires: datetime) -> None:
        """Record a login (`session_id`: a digest, never what the cookie carries); ended ones are forgotten."""
        with self.db.tx() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))
            conn.execute(
                web_sessions.insert().values(id=session_id, account=account, started_at=now, expires_at=expires)
            )

    def web_session_account(self, session_id: str, now: datetime) -> str | None:
        """The account of a live session: recorded, not logged out, not expired; None otherwise."""
        live = (web_sessions.c.id == session_id, web_sessions.c.ended_at.is_(None), web_sessions.c.expires_at > now)
        with self.db.tx(read=True) as conn:
            account: str | None = conn.execute(select(web_sessions.c.account).where(*live)).scalar()
        return account

    def end_web_session(self, session_id: str, now: datetime) -> None:
        with self.db.tx() as conn:
            conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(ended_at=now))
