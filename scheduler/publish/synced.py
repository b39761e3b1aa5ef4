"""What this process last synced to the ledger, so that the next sync looks only at what changed.

The ledger is still the source of truth: a full sync happens at the first sync, after a sync or
an outage that failed, and as a safety net once FULL_EVERY has passed (other daemons may share
the ledger), and whenever an error in a settings file came or went (it can hold or release sends
that no post change names).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from scheduler.publish import holds
from scheduler.publish.store.wanted import Wanted

FULL_EVERY = timedelta(minutes=5)
Key = tuple[str, str]  # (post, channel)


@dataclass(frozen=True)
class Changes:
    """For WantedSends.sync: the sends added or changed (and every send of the post files in `paths`),
    the (post, channel) of those gone, and the post files whose reading changed."""

    wanted: list[Wanted]
    gone: set[Key]
    paths: set[str]


class Synced:
    """The wanted sends and the reading of the files of the last sync. Not thread-safe: the
    daemon syncs under its pass lock.

    Rows are first compared by identity: the publisher hands out the same Wanted object for an
    entry that a cached build handed out unchanged (see publisher.wanted_from), so after one edit
    only the few rows that are new objects are compared by value, not all of them."""

    def __init__(self, full_every: timedelta = FULL_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_every, self.clock = full_every, clock
        self._rows: dict[int, Wanted] | None = None  # by id(): holding them keeps each id theirs
        self._by_key: dict[Key, Wanted] = {}
        self._reading: holds.Reading | None = None
        self._full_at = 0.0

    def forget(self) -> None:
        """The next sync is a full one."""
        self._rows = self._reading = None
        self._by_key = {}

    def changes(self, wanted: list[Wanted], reading: holds.Reading) -> Changes | None:
        """What changed since the last sync, or None when this sync must be a full one."""
        last, before = self._rows, self._reading
        if last is None or before is None or self.clock() - self._full_at >= self.full_every.total_seconds():
            return None
        if (before.everything, before.folders, before.channels) != (
            reading.everything,
            reading.folders,
            reading.channels,
        ):
            return None
        rows = dict(zip(map(id, wanted), wanted, strict=True))
        new = sorted((rows[i] for i in rows.keys() - last.keys()), key=lambda w: (w.due, w.channel, w.post))
        gone = {(w.post, w.channel) for w in (last[i] for i in last.keys() - rows.keys())}
        gone -= {(w.post, w.channel) for w in new}
        paths = _paths_read_differently(before, reading)
        changed = [w for w in new if w.path in paths or self._by_key.get((w.post, w.channel)) != w]
        if paths:  # every send of a file read differently, changed or not
            changed += [w for w in wanted if w.path in paths and id(w) in last]
        return Changes(changed, gone, paths)

    def remember(self, wanted: list[Wanted], reading: holds.Reading, full: bool, busy: set[Key]) -> None:
        """The sync of `wanted` went through; `busy` sends were not looked at (see WantedSends.sync), so
        the next sync looks at them again."""
        rows = dict(zip(map(id, wanted), wanted, strict=True))
        if full or self._rows is None:
            by_key = {(w.post, w.channel): w for w in wanted}
        else:  # what changed since the last sync, applied to what it left
            by_key = self._by_key
            for i in self._rows.keys() - rows.keys():
                gone = self._rows[i]
                if by_key.get((gone.post, gone.channel)) is gone:
                    del by_key[(gone.post, gone.channel)]
            for i in rows.keys() - self._rows.keys():
                w = rows[i]
                by_key[(w.post, w.channel)] = w
        for key in busy:
            left = by_key.pop(key, None)
            if left is not None:
                rows.pop(id(left), None)
        self._rows, self._by_key, self._reading = rows, by_key, reading
        if full:
            self._full_at = self.clock()


def _paths_read_differently(before: holds.Reading, after: holds.Reading) -> set[str]:
    """Post files whose errors, or the posts read from them, differ between two readings."""

    def by_path(reading: holds.Reading) -> dict[str, list[tuple[str, holds.Known]]]:
        found: dict[str, list[tuple[str, holds.Known]]] = {}
        for post, known in reading.posts.items():
            found.setdefault(known.path, []).append((post, known))
        return found

    if before.posts == after.posts:  # the usual case (an edit of a text), decided in C
        paths: set[str] = set()
    else:
        old, new = by_path(before), by_path(after)
        paths = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
    errors = before.errors_at.keys() | after.errors_at.keys()
    paths |= {p for p in errors if before.errors_at.get(p) != after.errors_at.get(p)}
    return paths
