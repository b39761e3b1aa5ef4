"""The one clock a publisher reads: the database's in the daemon, a simulated one in `rehearse` and tests.

Every time the publish half records or compares (claims, lateness, retries, the dry-run outbox's
`published_at`) comes from the publisher's clock, so a rehearsal's whole run is in simulated time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from scheduler.errors import LedgerUnavailable

if TYPE_CHECKING:
    from scheduler.publish.ledger import Ledger


class Clock(Protocol):
    def now(self) -> datetime:
        """Now, as an aware UTC datetime."""
        ...


class LedgerClock:
    """The database's clock (shared by every daemon on PostgreSQL; this host's on SQLite).

    LedgerUnavailable while the database cannot be reached."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def now(self) -> datetime:
        return self.ledger.clock()


class SimulatedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = _utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _utc(moment)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def stamp(clock: Clock) -> datetime:
    """`clock`'s now for a time that is only written down (an outbox line, a shutdown alert): this
    host's while the ledger, whose clock it may be, is unreachable, so a send never fails for it."""
    try:
        return clock.now()
    except LedgerUnavailable:
        return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a clock keeps aware datetimes")
    return moment.astimezone(UTC)
