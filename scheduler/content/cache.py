"""What the last plans read and rendered, kept so that the next plan redoes only what changed.

`plan.build(root, cache=PlanCache())`. A file is known by its stat (path, inode, size, mode, and
modification and change times in ns). A post is read again when its file, a `_defaults.yml` above
it, or what it is checked against changes (channel names and types in channels.yml, hashtags.yml,
the time zone); a send is rendered again when its post, its channel's entry, its due time, the
campaign's settings or hashtags, or its media files change. Series times and the problem lists
are worked out afresh each time: they depend on every post and cost little; the clash check
(scheduler.content.collisions) counts again only the sends that are new.

A file changed less than RACY ago is read again next time as well: another edit within the file
system's timestamp granularity could leave its stat as it was. The plan is always the one a fresh
`build(root)` makes (tests/unit/test_plan_cache.py).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from scheduler.content import campaign as campaign_file
from scheduler.content.campaign import CHANNELS_FILE, DEFAULTS_FILE, POSTS_DIR, Campaign, ChannelConfig
from scheduler.content.collisions import Collisions
from scheduler.content.drafts import Defaults, Draft, Reader
from scheduler.content.hashtags import FILE as HASHTAGS_FILE
from scheduler.content.problems import Problem
from scheduler.content.render import Renderer
from scheduler.content.videos import caption_candidates
from scheduler.content.watchlist import FILE as WATCHLIST_FILE

T = TypeVar("T")
RACY_NS = 2_000_000_000  # 2 s: coarser than any file system's timestamps that matter here (FAT's are 2 s)

Key = tuple[Any, ...]


def file_key(path: Path | str) -> tuple[Key | None, int]:
    """(the file's identity and state, or None if it is not there; its newest time stamp in ns)."""
    try:
        st = os.lstat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None, 0
    key: Key = (st.st_ino, st.st_size, st.st_mode, st.st_mtime_ns, st.st_ctime_ns)
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    if stat.S_ISLNK(st.st_mode):  # the link and what it leads to
        try:
            target = os.stat(path)
        except (OSError, ValueError):
            return (*key, None), newest
        key = (*key, target.st_ino, target.st_size, target.st_mode, target.st_mtime_ns, target.st_ctime_ns)
        newest = max(newest, target.st_mtime_ns, target.st_ctime_ns)
    return key, newest


@dataclass(frozen=True)
class _Read:
    key: Key
    value: Any  # a folder's Defaults, or a post's Draft (None when it did not read)
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class _Sends:
    draft: Draft  # the very object they were rendered for
    due: datetime
    channels: tuple[int, ...]  # the tokens of its channels' entries
    renderer: int  # the renderer's token (settings and hashtags)
    media: Key
    made: list[Any]


class _Tokens:
    """A number per name that changes whenever the value under that name does."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[object, int]] = {}
        self._next = 0

    def token(self, name: str, value: object) -> int:
        known = self._values.get(name)
        if known is not None and known[0] == value:
            return known[1]
        self._next += 1
        self._values[name] = (value, self._next)
        return self._next

    def keep(self, names: set[str]) -> None:
        self._values = {k: v for k, v in self._values.items() if k in names}


class PlanCache:
    """Files read and sends rendered by earlier builds of one campaign. Safe to share between
    threads: builds with one cache take turns."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._clear(None)

    def _clear(self, root: Path | None) -> None:
        self.latest: object | None = None  # the plan of the last build with this cache (not typed: plan imports us)
        self._root = root
        self._campaign: tuple[Key, Campaign, tuple[Problem, ...]] | None = None
        self._defaults: dict[str, _Read] = {}
        self._posts: dict[str, _Read] = {}
        self._sends: dict[str, _Sends] = {}  # by post path
        self._next_sends: dict[str, _Sends] = {}
        self._renderer: Renderer | None = None
        self._renderer_token = 0
        self._tokens = _Tokens()
        self._now = 0
        self.unsettled = 0  # files the last build read but could not keep: changed less than RACY ago
        self._defaults_next: dict[str, _Read] = {}
        self._posts_next: dict[str, _Read] = {}
        self._channel_tokens: dict[tuple[str, ...], tuple[int, ...]] = {}  # this build's, by channel names
        self.collisions: Collisions[Any] = Collisions()  # what the last build's clash check counted

    def begin(self, root: Path) -> None:
        """Start a build of `root` (the caller holds `lock`)."""
        if root != self._root:
            self._clear(root)  # another campaign: nothing carries over
        self._now = time.time_ns()
        self.unsettled = 0
        self._defaults_next, self._posts_next, self._next_sends = {}, {}, {}
        self._channel_tokens = {}

    def _settled(self, newest: int) -> bool:
        if self._now - newest >= RACY_NS:
            return True
        self.unsettled += 1
        return False

    def campaign(self, root: Path) -> tuple[Campaign, list[Problem]]:
        """campaign.load(root), read again only when one of its files changed."""
        names = (f"{POSTS_DIR}/{DEFAULTS_FILE}", HASHTAGS_FILE, CHANNELS_FILE, WATCHLIST_FILE)
        keys = [file_key(root / name) for name in names]
        key = tuple(k for k, _ in keys)
        if self._campaign is not None and self._campaign[0] == key:
            return self._campaign[1], list(self._campaign[2])
        campaign, problems = campaign_file.load(root)
        self._campaign = (key, campaign, tuple(problems)) if all(self._settled(n) for _, n in keys) else None
        return campaign, problems

    def reader(self, campaign: Campaign) -> Reader:
        """A drafts.Reader that reads a file again only when it, or what it depends on, changed."""
        checked_against = (
            str(campaign.settings.timezone),
            frozenset(campaign.channels),
            frozenset(campaign.broken_channels),
            frozenset(c.type for c in campaign.channels.values()),
            campaign.hashtags,
        )
        return _CachedReader(self, campaign.root / POSTS_DIR, self._tokens.token(" posts", checked_against))

    def renderer(self, campaign: Campaign) -> Renderer:
        """The last build's renderer (its compiled templates) while the settings and hashtags stay."""
        token = self._tokens.token(" renderer", (campaign.settings, campaign.hashtags))
        if self._renderer is None or self._renderer_token != token:
            self._renderer, self._renderer_token = Renderer(campaign), token
        else:
            self._renderer.renew(campaign)
        return self._renderer

    def sends(
        self, draft: Draft, due: datetime, channels: list[ChannelConfig], make: Callable[[ChannelConfig], T]
    ) -> list[T]:
        """[make(channel) for channel in channels]: `draft` rendered for each channel at `due`,
        done again only when one of its inputs changed."""
        tokens = self._channel_tokens.get(draft.channels)
        if tokens is None:
            tokens = self._channel_tokens[draft.channels] = tuple(
                self._tokens.token("channel " + c.name, c) for c in channels
            )
        media: Key = ()
        newest = 0
        if draft.media:
            found = []
            for ref in draft.media:
                full = os.path.join(self._root or "", ref.path)
                key, when = file_key(full)
                found.append((ref.path, key, os.path.realpath(full) if key is not None else None))
                newest = max(newest, when)
                for _language, written in ref.captions:  # a video's captions: checked against it again
                    for candidate in caption_candidates(ref, written):
                        key, when = file_key(os.path.join(self._root or "", candidate))
                        found.append((candidate, key, None))
                        newest = max(newest, when)
            media = tuple(found)
        known = self._sends.get(draft.path)
        if (
            known is not None
            and known.draft is draft
            and known.due == due
            and known.channels == tokens
            and known.renderer == self._renderer_token
            and known.media == media
        ):
            self._next_sends[draft.path] = known
            return known.made
        made = [make(channel) for channel in channels]
        if self._settled(newest):
            self._next_sends[draft.path] = _Sends(draft, due, tokens, self._renderer_token, media, made)
        return made

    def end(self, plan: object, channels: Iterable[str]) -> None:
        """The build of `plan`, on `channels`, is done: forget what it no longer read."""
        self._defaults, self._posts, self._sends = self._defaults_next, self._posts_next, self._next_sends
        self._defaults_next, self._posts_next, self._next_sends = {}, {}, {}
        self._tokens.keep({" posts", " renderer", *(f"channel {name}" for name in channels)})
        self.latest = plan


class _CachedReader(Reader):
    def __init__(self, cache: PlanCache, posts_dir: Path, token: int) -> None:
        self.cache, self.posts_dir, self.token = cache, os.fspath(posts_dir), token
        self._chains: dict[str, Key] = {}  # folder → the keys of its _defaults.yml and those above

    def defaults(self, campaign: Campaign, folder: Path, problems: list[Problem]) -> Defaults:
        cache = self.cache
        name = os.fspath(folder)
        key, newest = file_key(os.path.join(name, DEFAULTS_FILE))
        above = self._chains.get(os.path.dirname(name), ()) if name != self.posts_dir else ()
        self._chains[name] = (*above, key)
        known = cache._defaults.get(name)
        if known is not None and known.key == (key, self.token):
            cache._defaults_next[name] = known
            problems += known.problems
            return dict(known.value)
        found: list[Problem] = []
        own = super().defaults(campaign, folder, found)
        problems += found
        if cache._settled(newest):
            cache._defaults_next[name] = _Read((key, self.token), dict(own), tuple(found))
        return own

    def post(self, campaign: Campaign, path: str, defaults: Defaults, problems: list[Problem]) -> Draft | None:
        cache = self.cache
        name = path
        key, newest = file_key(name)
        full_key = (key, self._chains[name.rpartition(os.sep)[0]], self.token)  # its folder's chain
        known = cache._posts.get(name)
        if known is not None and known.key == full_key:
            cache._posts_next[name] = known
            problems += known.problems
            draft: Draft | None = known.value
            return draft
        found: list[Problem] = []
        draft = super().post(campaign, path, defaults, found)
        problems += found
        if cache._settled(newest):
            cache._posts_next[name] = _Read(full_key, draft, tuple(found))
        return draft
