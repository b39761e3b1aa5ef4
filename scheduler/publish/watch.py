"""Noticing changes to a campaign's files while the daemon runs.

Two watchers: `posts/` recursively, and the campaign root itself (not recursively) for
`channels.yml`, `hashtags.yml` and `watchlist.yml`, because editors and git replace those files instead of rewriting
them, and a watch on a replaced file goes deaf. Once the watchers are live, and then every
CHECK_EVERY, the daemon is asked to plan again even without a notification: its plan cache
looks at every file's stat and reads only what changed, so this catches what notifications cannot
see (an edit made while the daemon was starting, a media file, a file system without change
notification) by the same rule that decides what a build reads, at the cost of a cached build.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfiles import Change

log = logging.getLogger("scheduler.publish.watch")
ROOT_FILES = frozenset({"channels.yml", "hashtags.yml", "watchlist.yml"})
CHECK = "check"  # what on_change is given for a plan without a notification
CHECK_EVERY = 60.0  # seconds between plans without a notification: a cached build (~0.15 s for 10,000 posts)
DEBOUNCE_MS = 500  # a git checkout of many files becomes one planning
# How often the watchers look for changes and at the stop event. A change is handed on once a step
# passes without another: 50-100 ms after it. Each watcher then wakes 20 times a second, about
# 0.1 % of a core in all (bench/daemon.py idle).
STEP_MS = 50


class Watcher:
    """Calls `on_change(what)` (from a watcher thread) whenever the campaign's files change, and
    with `what` = CHECK once the watchers are live and every CHECK_EVERY after that."""

    def __init__(self, root: Path, stop: threading.Event, on_change: Callable[[str], None]) -> None:
        self.root, self.stop, self.on_change = root, stop, on_change

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
                self.on_change(CHECK)

    def _changed(self, what: str) -> None:
        log.info("files changed (%s); planning again", what)
        self.on_change(what)
