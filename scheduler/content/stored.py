"""Posts read and sends rendered by `campaign validate` and `campaign preview`, kept on disk between runs.

A CI job that keeps `$CAMPAIGN_CACHE_DIR/plans/` (docs/ci.md has the recipe) reads and renders again
only what changed. The daemon never reads this: its restart path has its own fingerprints
(scheduler.publish), and everything it sends it reads and renders itself.

Safe by construction, since the folder may come from elsewhere (an earlier job of another branch):

- Data only: JSON, read back by a strict decoder (scheduler.content.stored_codec) that rebuilds the
  project's own values field by field and type by type; anything unexpected is a miss. No pickle, no
  marshal, no code.
- One entry per post, keyed by a hash of everything its reading depends on: the post's bytes and
  path, the bytes of each `_defaults.yml` above it and of every settings file, the time zone's data,
  this code (a hash of the scheduler package's sources), the versions of Python and of the libraries
  that read and render (Jinja2, Babel, PyYAML, ...) and FORMAT_VERSION. Its sends are found in it by
  channel and due time. Each entry carries a check (a hash of its key and its value) and names its
  post, each send its post and channel: an entry moved under another key, or damaged, is a miss.
- Only a post read without any problem is kept, and only its sends rendered without any problem and
  without media files (their checks read those files). The text of a send is the sandbox's output for
  exactly those inputs; anything else is rendered again, in the sandbox, with its budget.
- An entry is written only if none of the files it was keyed on changed while it was made, nor less
  than RACY_NS before (the rule of scheduler.content.cache).
- A folder or file that cannot be read or written is a miss, never an error: validate goes on without it.
- Bounded: each campaign folder has one store file, which keeps the entries the last run used or made
  and at most as many older ones again (plus 1,000); at most MAX_STORES store files are kept (the least
  recently used go).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from scheduler.content.cache import RACY_NS, Key, file_key
from scheduler.content.campaign import CHANNELS_FILE, DEFAULTS_FILE, POSTS_DIR, Campaign, ChannelConfig
from scheduler.content.drafts import Defaults, Draft, Reader
from scheduler.content.files import MAX_BYTES
from scheduler.content.hashtags import FILE as HASHTAGS_FILE
from scheduler.content.parallel import map_forked
from scheduler.content.problems import Problem
from scheduler.content.render import Rendered
from scheduler.content.stored_codec import CODEC, Miss, _list
from scheduler.content.watchlist import FILE as WATCHLIST_FILE

log = logging.getLogger("scheduler.content.stored")

FORMAT_VERSION = 2  # raise on any change to what an entry holds or how it is keyed
HEADER = f"campaign-scheduler plans {FORMAT_VERSION}"
MAX_STORE_BYTES = 1 << 30  # a bigger file is not read (100,000 posts take about 200 MB)
MAX_STORES = 16
SETTINGS_FILES = (f"{POSTS_DIR}/{DEFAULTS_FILE}", HASHTAGS_FILE, CHANNELS_FILE, WATCHLIST_FILE)
#: The libraries whose behaviour the values depend on (reading YAML, rendering, dates, zones, lengths).
LIBRARIES = (
    "campaign-scheduler",
    "jinja2",
    "markupsafe",
    "pyyaml",
    "python-frontmatter",
    "python-dateutil",
    "tzdata",
    "babel",
    "regex",
    "twitter-text-parser",
)
_LOADED_NS = time.time_ns()  # about when this code was imported: a source changed after it is not what runs
_PACKAGE = Path(__file__).resolve().parents[1]


def _digest(*parts: str | bytes | None) -> str:
    """A hash of `parts` in which no two different sequences of parts meet (each is length-prefixed)."""
    chunks = []
    for part in parts:
        if part is None:
            chunks.append(b"\xff")
            continue
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        chunks += (b"\x00", len(data).to_bytes(8, "little"), data)
    return hashlib.blake2b(b"".join(chunks), digest_size=20).hexdigest()


def _check(key: str, text: str) -> str:
    """An entry's check: its key (40 hex digits, see _digest) and its value's JSON text, hashed together."""
    return hashlib.blake2b((key + text).encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # ASCII: one line, any text


# ---- what every entry depends on ------------------------------------------------------------------------


def _code_files() -> list[str]:
    return sorted(
        os.path.join(folder, name)
        for folder, _dirs, names in os.walk(_PACKAGE)
        for name in names
        if name.endswith(".py")
    )


def _versions() -> str:
    found = [sys.version, str(FORMAT_VERSION)]
    for name in LIBRARIES:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    return "\n".join(found)


def _zone_data(name: str) -> bytes | None:
    """The bytes of the zone `name` as zoneinfo finds it (system zones first, then the tzdata package)."""
    if not name or name.startswith("/") or ".." in name.split("/"):
        return None
    for base in zoneinfo.TZPATH:
        try:
            with open(os.path.join(base, name), "rb") as file:
                return file.read()
        except OSError:
            continue
    try:
        from importlib import resources

        package, _, leaf = f"tzdata.zoneinfo.{name.replace('/', '.')}".rpartition(".")
        return resources.files(package).joinpath(leaf).read_bytes()
    except (ImportError, OSError, ValueError):
        return None


def default_folder() -> Path:
    """CAMPAIGN_CACHE_DIR/plans (the image cache's folder, scheduler.media.renditions.cache_dir)."""
    from scheduler import settings

    chosen = settings.get("CAMPAIGN_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser() / "plans"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "campaign-scheduler" / "plans"


# ---- the store ------------------------------------------------------------------------------------------


class Store:
    """One campaign's entries on disk: `open`, hand to `plan.build(..., store=)`, then `save`.

    The file is ASCII text: a HEADER line, then one line per post, `KEY CHECK VALUE`: KEY is the hash
    of everything the post's reading depends on (40 hex digits), CHECK the hash of KEY and VALUE, and
    VALUE the JSON of [the post as read, [[channel, due, the send as rendered], ...]].
    """

    def __init__(self, folder: Path | None, root: Path) -> None:
        self.folder = folder
        self.root = root
        self.file = folder / f"{_digest(os.fspath(root.resolve()))[:24]}.txt" if folder is not None else None
        self._lines: dict[str, str] = {}  # key → its line, as read
        self._seen: dict[str, tuple[Key | None, int]] = {}  # file → its stat when it was hashed
        self._unkeyable: set[str] = set()
        self._global = ""  # the hash of what every entry depends on
        self._global_files: tuple[str, ...] = ()
        self._chains: dict[str, tuple[str, tuple[str, ...]]] = {}  # folder → (hash of its defaults chain, files)
        # Posts read without problems this run, by path under the root: (key, files it depends on), the post
        # as JSON data, the sends its entry had (by channel and due), and this run's.
        self._reads: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._drafts: dict[str, Any] = {}
        self._stored: dict[str, dict[tuple[str, str], Any]] = {}
        self._sends: dict[str, list[list[Any]]] = {}
        self._fresh: set[str] = set()  # posts whose entry must be written anew
        self._pending: dict[int, tuple[str, str, str]] = {}  # id of a send that missed → (post, channel, due)
        self._began = 0
        self.hits = 0
        self.misses = 0

    @classmethod
    def open(cls, root: Path, folder: Path | None = None) -> Store:
        """The store of the campaign at `root` in `folder` (default: default_folder()); empty if unreadable."""
        store = cls(folder if folder is not None else default_folder(), root)
        store._load()
        return store

    def _load(self) -> None:
        if self.file is None:
            return
        try:
            with open(self.file, "rb") as handle:
                text = handle.read(MAX_STORE_BYTES + 1).decode("ascii")
        except (OSError, ValueError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.debug("plan store %s not read: %s", self.file, exc.__class__.__name__)
            return
        lines = text.split("\n")
        if len(text) > MAX_STORE_BYTES or lines[0] != HEADER:
            return
        for line in lines[1:]:
            if len(line) > 82 and line[40] == " " and line[81] == " ":
                self._lines.setdefault(line[:40], line)

    # -- inputs

    def _hash_file(self, path: str) -> bytes | None:
        """The file's bytes, None if it is not there; its stat noted for `save`. What is there but not a
        regular file (a link, a folder) gets bytes that match nothing: what depends on it is never kept."""
        key, newest = file_key(path)
        self._seen[path] = (key, newest)
        if key is None:
            return None
        if stat.S_ISREG(key[2]):
            try:  # os.open rather than open(): no buffered file object, 10,000 times
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                try:
                    return os.read(fd, MAX_BYTES + 1)
                finally:
                    os.close(fd)
            except OSError:
                pass
        self._unkeyable.add(path)
        return b"\0unkeyable" + os.urandom(16)

    def begin(self, root: Path) -> None:
        """Before the campaign at `root` is read: hash what every entry depends on."""
        self._began = time.time_ns()
        self.root = root
        files = [os.path.join(root, name) for name in SETTINGS_FILES]
        parts: list[str | bytes | None] = [_versions()]
        for name, full in zip(SETTINGS_FILES, files, strict=True):
            parts += [name, self._hash_file(full)]
        code = _code_files()
        for full in code:
            parts += [os.path.relpath(full, _PACKAGE), self._hash_file(full)]
        self._global = _digest(*parts)
        self._global_files = (*files, *code)

    def zone(self, campaign: Campaign) -> None:
        """Once the campaign is read: its time zone's data counts too (series, dates, publish_at)."""
        name = str(campaign.settings.timezone)
        self._global = _digest(self._global, name, _zone_data(name))

    # -- posts

    def reader(self) -> Reader:
        return _StoredReader(self)

    def _chain(self, folder: str) -> tuple[str, tuple[str, ...]]:
        """The hash of the `_defaults.yml` files from posts/ down to `folder` (and of `begin`'s), and their paths."""
        known = self._chains.get(folder)
        if known is not None:
            return known
        path = os.path.join(folder, DEFAULTS_FILE)
        top = folder == os.path.join(self.root, POSTS_DIR)
        base, files = (self._global, ()) if top else self._chain(os.path.dirname(folder))
        relative = path[len(os.fspath(self.root)) + 1 :].replace(os.sep, "/")
        chained = (_digest(base, relative, self._hash_file(path)), (*files, path))
        self._chains[folder] = chained
        return chained

    def _entry(self, key: str, relative: str) -> tuple[Draft, Any, dict[tuple[str, str], Any]]:
        """The post under `key`, as read, and as JSON data, and its sends (not yet decoded); Miss if there is none."""
        line = self._lines.get(key)
        if line is None:
            raise Miss("no entry")
        if line[41:81] != _check(key, line[82:]):
            raise Miss("check")
        raw, sends = _list(json.loads(line[82:]), 2)
        draft = CODEC.undraft(raw)
        if draft.path != relative:
            raise Miss("another post's entry")
        stored = {}
        for send in _list(sends):
            channel, due, rendered = _list(send, 3)
            if type(channel) is not str or type(due) is not str:
                raise Miss("send")
            stored[(channel, due)] = rendered
        return draft, raw, stored

    def known_posts(self, posts: Sequence[tuple[str, Defaults]]) -> dict[str, Draft]:
        found: dict[str, Draft] = {}
        prefix = len(os.fspath(self.root)) + 1
        for path, _defaults in posts:
            folder = path.rpartition(os.sep)[0]
            chain, files = self._chain(folder)
            relative = path[prefix:].replace(os.sep, "/")
            data = self._hash_file(path)
            if data is None:
                continue
            key = _digest("post", chain, relative, data)
            self._reads[relative] = (key, (*files, path))
            self._sends[relative] = []
            try:
                draft, raw, stored = self._entry(key, relative)
            except (Miss, ValueError, TypeError, OverflowError, RecursionError):
                self.misses += 1
                continue
            self.hits += 1
            self._drafts[relative], self._stored[relative] = raw, stored
            found[path] = draft
        return found

    def read(self, path: str, draft: Draft | None, problems: list[Problem]) -> None:
        """A post was read afresh: kept if it read without any problem (encoded when saved)."""
        relative = path[len(os.fspath(self.root)) + 1 :].replace(os.sep, "/")
        if relative not in self._reads:
            return
        if draft is None or problems:
            del self._reads[relative]  # and so none of its sends is kept either
            return
        self._drafts[relative] = draft
        self._fresh.add(relative)

    # -- sends

    def known_sends(self, sends: Sequence[tuple[Draft, ChannelConfig, datetime]]) -> list[Rendered | None]:
        """What each send rendered to, where an entry has it; None where it must be rendered."""
        found: list[Rendered | None] = []
        self._pending = {}
        for send in sends:
            draft, channel, due = send
            rendered = None
            if draft.path in self._reads and not draft.media:  # media: their checks read the files
                when = due.isoformat()
                raw = self._stored.get(draft.path, {}).get((channel.name, when))
                try:
                    if raw is None:
                        raise Miss("no entry")
                    rendered = CODEC.unrendered(raw)
                    if rendered.post is None or rendered.post.post != draft.id or rendered.post.channel != channel.name:
                        raise Miss("another send's entry")
                    self.hits += 1
                    self._sends[draft.path].append([channel.name, when, raw])
                except (Miss, ValueError, TypeError, OverflowError, RecursionError):
                    rendered = None
                    self.misses += 1
                    self._pending[id(send)] = (draft.path, channel.name, when)
            found.append(rendered)
        return found

    def rendered(self, sends: Iterable[tuple[Draft, ChannelConfig, datetime]], results: Iterable[Rendered]) -> None:
        """Sends rendered afresh: kept where they rendered without any problem."""
        for send, rendered in zip(sends, results, strict=True):
            pending = self._pending.get(id(send))
            if pending is None or rendered.problems or rendered.post is None:
                continue
            relative, channel, when = pending
            self._sends[relative].append([channel, when, rendered])  # encoded when saved
            self._fresh.add(relative)

    # -- writing

    def save(self) -> None:
        """Write this run's entries, and as many older ones again at most; never raises for the disk's sake."""
        if self.file is None or self.folder is None:
            return
        lines: dict[str, str] = {}
        todo: list[tuple[str, str]] = []
        for relative, (key, _files) in self._reads.items():
            if relative not in self._drafts:
                continue  # not read: the build stopped early
            old = self._lines.get(key)
            same = len(self._sends[relative]) == len(self._stored.get(relative, ()))
            if old is not None and relative not in self._fresh and same:
                lines[key] = old  # as it was: every send it had was used, none made
            else:
                todo.append((relative, key))
        if not todo:
            with contextlib.suppress(OSError):
                os.utime(self.file)  # recently used: not the next to go
            return
        changed = self._changed()
        if any(path in changed for path in self._global_files):
            return  # a settings file or this code changed meanwhile: nothing made now can be trusted
        todo = [(relative, key) for relative, key in todo if not changed.intersection(self._reads[relative][1])]
        for (_relative, key), line in zip(todo, map_forked(self._line, todo), strict=True):
            if line is not None:
                lines[key] = line
        keep = len(lines)
        for key, line in self._lines.items():  # older entries (another branch's), the most recently written first
            if len(lines) >= 2 * keep + 1000:
                break
            lines.setdefault(key, line)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = "\n".join([HEADER, *lines.values()]).encode("ascii")
            with tempfile.NamedTemporaryFile("wb", dir=self.folder, suffix=".tmp", delete=False) as handle:
                temporary = handle.name
                try:
                    handle.write(data)
                except BaseException:
                    handle.close()
                    os.unlink(temporary)
                    raise
            os.replace(temporary, self.file)
            self._prune()
        except OSError as exc:
            log.debug("plan store %s not written: %s", self.file, exc.__class__.__name__)

    def _line(self, item: tuple[str, str]) -> str | None:
        """The line of the post `item` names, (its path, its key): it and its sends, encoded."""
        relative, key = item
        draft = self._drafts[relative]
        sends = []
        for channel, when, rendered in self._sends[relative]:
            try:
                sends.append([channel, when, CODEC.rendered(rendered) if isinstance(rendered, Rendered) else rendered])
            except Miss:
                continue
        try:
            text = _ENCODE([CODEC.draft(draft) if isinstance(draft, Draft) else draft, sends])
        except (Miss, ValueError, TypeError, RecursionError):
            return None
        return f"{key} {_check(key, text)} {text}"

    def _changed(self) -> set[str]:
        """Files hashed this run that changed since, or had changed less than RACY_NS before."""
        since = min(self._began, _LOADED_NS) - RACY_NS
        changed = set(self._unkeyable)
        for path, (key, newest) in self._seen.items():
            if newest > since or file_key(path)[0] != key:
                changed.add(path)
        return changed

    def _prune(self) -> None:
        assert self.folder is not None
        stores = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(".txt"):
                stores.append((entry.stat().st_mtime_ns, entry.path))
            elif entry.name.endswith(".tmp") and entry.stat().st_mtime_ns < time.time_ns() - 3_600_000_000_000:
                os.unlink(entry.path)  # left by a run that was killed while writing
        for _mtime, path in sorted(stores, reverse=True)[MAX_STORES:]:
            os.unlink(path)


class _StoredReader(Reader):
    """A drafts.Reader that takes a post from the store when an entry has exactly its inputs."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def defaults(self, campaign: Campaign, folder: Path, problems: list[Problem]) -> Defaults:
        self.store._chain(os.fspath(folder))  # hashed before it is read
        return super().defaults(campaign, folder, problems)

    def known(self, posts: Sequence[tuple[str, Defaults]]) -> dict[str, Draft]:
        return self.store.known_posts(posts)

    def done(self, path: str, draft: Draft | None, problems: list[Problem]) -> None:
        self.store.read(path, draft, problems)
