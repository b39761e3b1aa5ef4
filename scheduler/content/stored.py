"""Posts read and sends rendered by `campaign validate` and `campaign preview`, kept on disk between runs.

A CI job that keeps `$CAMPAIGN_CACHE_DIR/plans/` (docs/operations.md has the recipe) reads and renders
again only what changed. The daemon never reads this: its restart path has its own fingerprints
(scheduler.publish), and everything it sends it renders itself.

Safe by construction, since the folder may come from elsewhere (an earlier job of another branch):

- Data only: JSON, read back by a strict decoder (scheduler.content.stored_codec) that rebuilds the project's own values
  field by field and type by type; anything unexpected is a miss. No pickle, no marshal, no code.
- Every entry is keyed by a hash of everything its value depends on: the post's bytes and path, the
  bytes of each `_defaults.yml` above it and of every settings file, the time zone's data, this code
  (a hash of the scheduler package's sources), the versions of Python and of the libraries that read
  and render (Jinja2, Babel, PyYAML, ...) and FORMAT_VERSION. A send's entry adds its channel and
  due time. Each entry also carries a check (a hash of its key and its value) and names its post
  (and channel): an entry moved under another key, or damaged, is a miss.
- Only a post read without any problem is kept, and only its sends rendered without any problem and
  without media files (their checks read those files). The text of a send is the sandbox's output for
  exactly those inputs; anything else is rendered again, in the sandbox, with its budget.
- An entry is written only if none of the files it was keyed on changed while it was made, nor less
  than RACY_NS before (the rule of scheduler.content.cache).
- A folder that cannot be read or written is a miss, never an error: validate goes on without it.
- Bounded: each campaign folder has one store file, which keeps what the last run used and at most as
  many older entries again; at most MAX_STORES store files are kept (the least recently used go).
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
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from scheduler.content.cache import RACY_NS, Key, file_key
from scheduler.content.campaign import CHANNELS_FILE, DEFAULTS_FILE, POSTS_DIR, Campaign, ChannelConfig
from scheduler.content.drafts import Defaults, Draft, Reader
from scheduler.content.files import MAX_BYTES
from scheduler.content.hashtags import FILE as HASHTAGS_FILE
from scheduler.content.problems import Problem
from scheduler.content.render import Rendered
from scheduler.content.stored_codec import CODEC, Miss
from scheduler.content.watchlist import FILE as WATCHLIST_FILE

log = logging.getLogger("scheduler.content.stored")

FORMAT_VERSION = 1  # raise on any change to what an entry holds or how it is keyed
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


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


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
    """One campaign's entries on disk: `open`, hand to `plan.build(..., store=)`, then `save`."""

    def __init__(self, folder: Path | None, root: Path) -> None:
        self.folder = folder
        self.root = root
        self.file = folder / f"{_digest(os.fspath(root.resolve()))[:24]}.json" if folder is not None else None
        self._entries: dict[str, Any] = {}  # key → [check, value as JSON text], as read
        self._used: dict[str, None] = {}  # keys used this run, in order
        self._new: dict[str, tuple[str, tuple[str, ...]]] = {}  # key → (value as JSON text, files it depends on)
        self._seen: dict[str, tuple[Key | None, int]] = {}  # file → its stat when it was hashed
        self._unkeyable: set[str] = set()
        self._global = ""  # the hash of what every entry depends on
        self._global_files: tuple[str, ...] = ()
        self._chains: dict[str, tuple[str, tuple[str, ...]]] = {}  # folder → (hash of its defaults chain, files)
        self._reads: dict[str, tuple[str, tuple[str, ...]]] = {}  # post path (relative) → (read key, files)
        self._send_keys: dict[int, tuple[str, tuple[str, ...]]] = {}  # id of a send given to known_sends → its key
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
                raw = handle.read(1_000_000_000)
            data = json.loads(raw)
        except (OSError, ValueError, RecursionError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.debug("plan store %s not read: %s", self.file, exc.__class__.__name__)
            return
        if type(data) is dict and data.get("format") == FORMAT_VERSION and type(data.get("entries")) is dict:
            self._entries = data["entries"]

    # -- inputs

    def _hash_file(self, path: str) -> bytes | None:
        """The file's bytes, None if it is not there; its stat noted for `save`. What is there but not a
        regular file (a link, a folder) gets bytes that match nothing: what depends on it is never kept."""
        key, newest = file_key(path)
        self._seen[path] = (key, newest)
        if key is None:
            return None
        if stat.S_ISREG(key[2]):
            try:
                with open(path, "rb") as handle:
                    return handle.read(MAX_BYTES + 1)
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

    def _lookup(self, key: str) -> Any:
        entry = self._entries.get(key)
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not str or type(entry[1]) is not str:
            raise Miss("no entry")
        check, text = entry
        if check != _check(key, text):
            raise Miss("check")
        return json.loads(text)

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
            try:
                draft = CODEC.undraft(self._lookup(key))
                if draft.path != relative:
                    raise Miss("another post's entry")
            except (Miss, ValueError, TypeError, OverflowError, RecursionError):
                self.misses += 1
                continue
            self.hits += 1
            self._used[key] = None
            found[path] = draft
        return found

    def read(self, path: str, draft: Draft | None, problems: list[Problem]) -> None:
        """A post was read afresh: kept if it read without any problem."""
        prefix = len(os.fspath(self.root)) + 1
        relative = path[prefix:].replace(os.sep, "/")
        known = self._reads.get(relative)
        if known is None:
            return
        if draft is None or problems:
            del self._reads[relative]  # and so none of its sends is kept either
            return
        self._keep(known[0], CODEC.draft, draft, known[1])

    def _keep(self, key: str, encode: Callable[[Any], Any], value: Any, files: tuple[str, ...]) -> None:
        try:
            text = _ENCODE(encode(value))
        except (Miss, ValueError, TypeError, RecursionError):
            return
        self._new[key] = (text, files)

    # -- sends

    def _send_key(self, draft: Draft, channel: ChannelConfig, due: datetime) -> tuple[str, tuple[str, ...]] | None:
        known = self._reads.get(draft.path)
        if known is None or draft.media:
            return None
        return _digest("send", known[0], channel.name, due.isoformat()), known[1]

    def known_sends(self, sends: Sequence[tuple[Draft, ChannelConfig, datetime]]) -> list[Rendered | None]:
        """What each send rendered to, where an entry has it; None where it must be rendered."""
        found: list[Rendered | None] = []
        self._send_keys = {}
        for send in sends:
            draft, channel, due = send
            keyed = self._send_key(draft, channel, due)
            rendered = None
            if keyed is not None:
                self._send_keys[id(send)] = keyed
                try:
                    rendered = CODEC.unrendered(self._lookup(keyed[0]))
                    if rendered.post is None or rendered.post.post != draft.id or rendered.post.channel != channel.name:
                        raise Miss("another send's entry")
                    self.hits += 1
                    self._used[keyed[0]] = None
                except (Miss, ValueError, TypeError, OverflowError, RecursionError):
                    rendered = None
                    self.misses += 1
            found.append(rendered)
        return found

    def rendered(self, sends: Iterable[tuple[Draft, ChannelConfig, datetime]], results: Iterable[Rendered]) -> None:
        """Sends rendered afresh: kept where they rendered without any problem."""
        for send, rendered in zip(sends, results, strict=True):
            if rendered.problems or rendered.post is None:
                continue
            keyed = self._send_keys.get(id(send)) or self._send_key(*send)
            if keyed is not None:
                self._keep(keyed[0], CODEC.rendered, rendered, keyed[1])

    # -- writing

    def save(self) -> None:
        """Write what this run made, if anything, with what it used; never raises for the disk's sake."""
        if self.file is None or self.folder is None:
            return
        if not self._new:
            if self._used:
                with contextlib.suppress(OSError):
                    os.utime(self.file)  # recently used: not the next to go
            return
        changed = self._changed()
        if any(path in changed for path in self._global_files):
            return  # a settings file or this code changed meanwhile: nothing made now can be trusted
        made = {key: (text, files) for key, (text, files) in self._new.items() if not changed.intersection(files)}
        entries: dict[str, Any] = {}
        for key in self._used:
            entries[key] = self._entries[key]
        for key, (text, _files) in made.items():
            entries[key] = [_check(key, text), text]
        keep = len(entries)
        for key, value in self._entries.items():  # older entries, the most recently written first
            if len(entries) >= 2 * keep + 1000:
                break
            entries.setdefault(key, value)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"format": FORMAT_VERSION, "entries": entries}, separators=(",", ":"))  # ASCII
            with tempfile.NamedTemporaryFile("wb", dir=self.folder, suffix=".tmp", delete=False) as handle:
                temporary = handle.name
                try:
                    handle.write(text.encode("ascii"))
                except BaseException:
                    handle.close()
                    os.unlink(temporary)
                    raise
            os.replace(temporary, self.file)
            self._prune()
        except OSError as exc:
            log.debug("plan store %s not written: %s", self.file, exc.__class__.__name__)

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
            if entry.name.endswith(".json"):
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
