"""What a send was planned from, as one hash: so that a restarted daemon can send a due send from the
ledger before it plans again, when none of those files changed (scheduler.publish.daemon).

A send's fingerprint covers what can change its text or its time:

- its post file's bytes;
- every `_defaults.yml` from posts/ down to the post's folder (bytes; "missing" counts too);
- the campaign's settings files: posts/_defaults.yml, channels.yml, hashtags.yml, watchlist.yml
  (what scheduler.content.campaign and hashtags read, the same files the plan cache watches);
- the names of the files in the post's own folder;
- for a member of a series, the names and bytes of every file under the folder whose `_defaults.yml`
  declares the series (a member added, removed, broken or given its own time moves the others' slots).

Its media files are not in it: the send's `version` already hashes them (planning.media_unchanged). A post file
added elsewhere in the campaign changes no other post's fingerprint (a new post that clashes with a
due one is found by the plan that follows at once).

At plan time a fingerprint is only given when every file in it is older than the plan's start by more
than the file system's time-stamp granularity (RACY_NS): then the bytes hashed are those the plan read.
Otherwise the send gets none (or keeps the one it had, made from the same reading), and waits for a plan
at the next start.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scheduler.content.cache import RACY_NS, file_key
from scheduler.content.campaign import CHANNELS_FILE, DEFAULTS_FILE, POSTS_DIR
from scheduler.content.hashtags import FILE as HASHTAGS_FILE
from scheduler.content.watchlist import FILE as WATCHLIST_FILE

SETTINGS_FILES = (f"{POSTS_DIR}/{DEFAULTS_FILE}", CHANNELS_FILE, HASHTAGS_FILE, WATCHLIST_FILE)
_UNKNOWN = ("", "")
_SERIES = "|"  # between the hash and the series' _defaults.yml in a stored fingerprint


class Unsettled(Exception):
    """A file changed after (or too shortly before) the plan began: its bytes may not be what it read."""


@dataclass
class Hashes:
    """File hashes kept by the file's stat (scheduler.content.cache.file_key), between calls."""

    files: dict[str, tuple[object, str]] = field(default_factory=dict)
    contexts: dict[tuple[str, str | None], str | None] | None = None  # of the last sync (see `unchanged`)


class Fingerprints:
    """Fingerprints of the sends of the campaign at `root`, its files as they are now.

    `planned_ns`: the time (time.time_ns) the plan began to read the files; a file newer than that,
    less RACY_NS, gives no fingerprint. None: no such check (at a start, comparing with what is stored).
    """

    def __init__(self, root: Path, planned_ns: int | None, hashes: Hashes | None = None) -> None:
        self.root = root
        self.limit = None if planned_ns is None else planned_ns - RACY_NS
        self.hashes = hashes if hashes is not None else Hashes()
        self._contexts: dict[tuple[str, str | None], str | None] = {}
        self._posts: dict[str, tuple[str | None, str | None]] = {}  # by post path: (series, context)
        self._post_hashes: dict[str, str | None] = {}
        self._listings: dict[str, str] = {}
        self._trees: dict[str, str] = {}
        self._settings: str | None = None

    def post(self, path: str) -> str | None:
        """The hash of the post file's bytes, or None if it may not be what the plan read."""
        if path in self._post_hashes:  # a post's sends ask in turn: one look at the file for all of them
            return self._post_hashes[path]
        try:
            found: str | None = self._file(path)
        except Unsettled:
            found = None
        self._post_hashes[path] = found
        return found

    def context(self, path: str, series: str | None) -> str | None:
        """The hash of everything but the post's own bytes (see the module's doc), or None."""
        known = self._posts.get(path, _UNKNOWN)  # a post's sends ask in turn: 40,000 calls a sync
        if known is not _UNKNOWN and known[0] == series:
            return known[1]
        found = self._folder(path.rpartition(os.sep)[0], series)
        self._posts[path] = (series, found)
        return found

    def unchanged(self, paths: Iterable[tuple[str, str | None]]) -> bool:
        """Whether what is around the posts at `paths` ((post path, series) pairs) is as it was at the
        last call with the same `hashes` (then no send needs its fingerprint made again)."""
        pairs = dict.fromkeys((p.rpartition(os.sep)[0], s) for p, s in paths)
        now = {pair: self._folder(*pair) for pair in pairs}
        last, self.hashes.contexts = self.hashes.contexts, now
        return last == now

    def _folder(self, folder: str, series: str | None) -> str | None:
        key = (folder, series)
        if key not in self._contexts:
            try:
                parts = [self._settings_hash(), *self._chain(folder), self._listing(folder)]
                if series is not None:
                    parts.append(self._tree(os.path.dirname(series)))
                self._contexts[key] = _hash(parts)
            except Unsettled:
                self._contexts[key] = None
        return self._contexts[key]

    @staticmethod
    def combine(post: str | None, context: str | None, series: str | None) -> str | None:
        """The fingerprint stored with a send, from its parts (None if one is unknown)."""
        if post is None or context is None:
            return None
        digest = _hash([post, context])
        return digest if series is None else f"{digest}{_SERIES}{series}"

    def now(self, path: str, stored: str) -> str | None:
        """The fingerprint a send of the post at `path` with `stored` fingerprint has now."""
        series = stored.partition(_SERIES)[2] or None
        return self.combine(self.post(path), self.context(path, series), series)

    def _settings_hash(self) -> str:
        if self._settings is None:
            self._settings = _hash([self._file(name) for name in SETTINGS_FILES])
        return self._settings

    def _chain(self, folder: str) -> list[str]:
        """The `_defaults.yml` of every folder from posts/ down to `folder`."""
        parts = Path(folder).parts
        found = []
        for depth in range(1, len(parts) + 1):
            found.append(self._file(os.path.join(*parts[:depth], DEFAULTS_FILE)))
        return found

    def _listing(self, folder: str) -> str:
        if folder not in self._listings:
            full = self.root / folder
            self._check(full)
            try:
                names = sorted(os.listdir(full))
            except OSError:
                names = ["\0missing"]
            self._check(full)
            self._listings[folder] = _hash(names)
        return self._listings[folder]

    def _tree(self, folder: str) -> str:
        """Every file under `folder`, by name and bytes, and every folder's names."""
        if folder not in self._trees:
            parts = [self._listing(folder)]
            try:
                with os.scandir(self.root / folder) as found:
                    entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in found)
            except OSError:
                entries = []
            for name, is_dir in entries:
                relative = f"{folder}{os.sep}{name}"
                parts.append(f"{name}\0{self._tree(relative) if is_dir else self._file(relative)}")
            self._trees[folder] = _hash(parts)
        return self._trees[folder]

    def _file(self, relative: str) -> str:
        full = os.path.join(self.root, relative)
        key, newest = file_key(full)
        if self.limit is not None and newest >= self.limit:
            raise Unsettled(relative)
        if key is None:
            return "missing"
        known = self.hashes.files.get(relative)
        if known is not None and known[0] == key:
            return known[1]
        try:
            with open(full, "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()
        except OSError:
            digest = "unreadable"
        if file_key(full)[0] != key:  # it changed while read
            if self.limit is not None:
                raise Unsettled(relative)
            return digest
        self.hashes.files[relative] = (key, digest)
        return digest

    def _check(self, folder: Path) -> None:
        if self.limit is not None and file_key(folder)[1] >= self.limit:
            raise Unsettled(str(folder))


def _hash(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
