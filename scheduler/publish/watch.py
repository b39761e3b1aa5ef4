"""Noticing changes to a campaign's files while the daemon runs.

Two watchers: `posts/` recursively, and the campaign root itself (not recursively) for
`channels.yml` and `hashtags.yml`, because editors and git replace those files instead of rewriting
them, and a watch on a replaced file goes deaf. A fingerprint of names, sizes and modification times
is compared once the watchers are live, then every minute: it catches what they cannot see, such as
an edit made while the daemon was starting, or a file system without change notification.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfiles import Change

log = logging.getLogger("scheduler.publish.watch")
ROOT_FILES = frozenset({"channels.yml", "hashtags.yml"})
CHECK_EVERY = 60.0  # seconds between fingerprint checks; costs ~40 ms for 10,000 posts
DEBOUNCE_MS = 500  # a git checkout of many files becomes one planning
# How often the watchers look for changes and at the stop event. A change is handed on once a step
# passes without another: 100-200 ms after it (the default 50 ms wakes 20 times a second).
STEP_MS = 100


def fingerprint(root: Path) -> int:
    """A number that changes when any file the plan reads is added, removed or modified."""
    return hash(frozenset(_stats(root)))


def _stats(root: Path) -> Iterator[tuple[str, int, int]]:
    for name in ROOT_FILES:
        try:
            st = (root / name).stat()
        except OSError:
            continue
        yield name, st.st_mtime_ns, st.st_size
    for folder, _dirs, files in os.walk(root / "posts"):
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:  # removed while we looked: the next check sees it
                continue
            yield path, st.st_mtime_ns, st.st_size


class Watcher:
    """Calls `on_change` (from a watcher thread) whenever the campaign's files change.

    The baseline fingerprint is taken when the watcher is made: make it before the first planning,
    so that nothing changed between the two goes unnoticed.
    """

    def __init__(self, root: Path, stop: threading.Event, on_change: Callable[[str], None]) -> None:
        self.root, self.stop, self.on_change = root, stop, on_change
        self._seen = fingerprint(root)
        self._lock = threading.Lock()

    def start(self) -> None:
        only_root_files = lambda _change, path: os.path.basename(path) in ROOT_FILES  # noqa: E731
        threading.Thread(target=self._watch, args=(self.root, False, only_root_files, True), daemon=True).start()
        if (self.root / "posts").is_dir():
            threading.Thread(target=self._watch, args=(self.root / "posts", True, None, False), daemon=True).start()

    def _watch(self, path: Path, recursive: bool, only: Callable[[Change, str], bool] | None, periodic: bool) -> None:
        from watchfiles import DefaultFilter, watch

        checked = float("-inf")  # the first timeout comes once this watcher is live: check then
        for changes in watch(
            path,
            recursive=recursive,
            watch_filter=only or DefaultFilter(),
            stop_event=self.stop,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            rust_timeout=1000,
            yield_on_timeout=True,
        ):
            if changes:
                names = sorted({os.path.relpath(p, self.root) for _, p in changes})
                self._changed(f"{len(changes)} change(s): {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}")
            elif time.monotonic() - checked >= CHECK_EVERY and (periodic or checked < 0):
                checked = time.monotonic()
                self._check()

    def _changed(self, what: str) -> None:
        with self._lock:
            self._seen = fingerprint(self.root)
        log.info("files changed (%s); planning again", what)
        self.on_change(what)

    def _check(self) -> None:
        with self._lock:
            now = fingerprint(self.root)
            if now == self._seen:
                return
            self._seen = now
        log.info("files changed without a notification; planning again")
        self.on_change("fingerprint")
