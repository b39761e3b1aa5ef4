"""Workers (daemons, `run --once`) and whether they are alive: by their process on this host, by
their heartbeat on another."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import workers


class Workers:
    """The workers' heartbeats."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def heartbeat(self, worker: str, now: datetime) -> None:
        with self.db.tx() as conn:
            if not conn.execute(update(workers).where(workers.c.id == worker).values(seen_at=now)).rowcount:
                conn.execute(workers.insert().values(id=worker, started_at=now, seen_at=now))

    def leave(self, worker: str) -> None:
        with self.db.tx() as conn:
            conn.execute(workers.delete().where(workers.c.id == worker))

    def live(self, now: datetime, stale_after: timedelta) -> list[str]:
        """The workers (daemons, `run --once`) that are alive: on this host, those whose process still
        runs; on another, those with a heartbeat within `stale_after` of `now`."""
        with self.db.tx() as conn:
            return sorted(alive(conn, now, stale_after))


def alive(conn: Connection, now: datetime, stale_after: timedelta) -> set[str]:
    """The live workers, by the rule of `Workers.live`."""
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
