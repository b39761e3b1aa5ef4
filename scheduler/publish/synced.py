"""What this process last synced to the ledger, so that the next sync looks only at what changed.

The ledger is still the source of truth: a full sync happens at the first sync, after a sync or
an outage that failed, and as a safety net once FULL_EVERY has passed (other daemons may share
the ledger), and whenever an error in a settings file came or went (it can hold or release sends
that no post change names).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from scheduler.publish import holds
from scheduler.publish.ledger import Wanted

FULL_EVERY = timedelta(minutes=5)
Key = tuple[str, str]  # (post, channel)


@dataclass(frozen=True)
class Changes:
    """For Ledger.sync: the sends added or changed (and every send of the post files in `paths`),
    the (post, channel) of those gone, and the post files whose reading changed."""

    wanted: list[Wanted]
    gone: set[Key]
    paths: set[str]


class Synced:
    """The wanted sends and the reading of the files of the last sync. Not thread-safe: the
    daemon syncs under its pass lock."""

    def __init__(self, full_every: timedelta = FULL_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_every, self.clock = full_every, clock
        self._wanted: dict[Key, Wanted] | None = None
        self._reading: holds.Reading | None = None
        self._full_at = 0.0

    def forget(self) -> None:
        """The next sync is a full one."""
        self._wanted = self._reading = None

    def changes(self, wanted: list[Wanted], reading: holds.Reading) -> Changes | None:
        """What changed since the last sync, or None when this sync must be a full one."""
        last, before = self._wanted, self._reading
        if last is None or before is None or self.clock() - self._full_at >= self.full_every.total_seconds():
            return None
        if (before.everything, before.folders, before.channels) != (
            reading.everything,
            reading.folders,
            reading.channels,
        ):
            return None
        now = {(w.post, w.channel): w for w in wanted}
        paths = _paths_read_differently(before, reading)
        changed = [w for key, w in now.items() if ((was := last.get(key)) is not w and was != w) or w.path in paths]
        return Changes(changed, set(last) - set(now), paths)

    def remember(self, wanted: Iterable[Wanted], reading: holds.Reading, full: bool, busy: set[Key]) -> None:
        """The sync of `wanted` went through; `busy` sends were not looked at (see Ledger.sync)."""
        self._wanted = {(w.post, w.channel): w for w in wanted if (w.post, w.channel) not in busy}
        self._reading = reading
        if full:
            self._full_at = self.clock()


def _paths_read_differently(before: holds.Reading, after: holds.Reading) -> set[str]:
    """Post files whose errors, or the posts read from them, differ between two readings."""

    def by_path(reading: holds.Reading) -> dict[str, list[tuple[str, holds.Known]]]:
        found: dict[str, list[tuple[str, holds.Known]]] = {}
        for post, known in reading.posts.items():
            found.setdefault(known.path, []).append((post, known))
        return found

    old, new = by_path(before), by_path(after)
    paths = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
    errors = before.errors_at.keys() | after.errors_at.keys()
    paths |= {p for p in errors if before.errors_at.get(p) != after.errors_at.get(p)}
    return paths
