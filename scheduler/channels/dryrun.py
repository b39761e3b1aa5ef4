"""The dry-run channel: a real adapter that publishes to a JSON Lines file instead of a network.

Each post becomes one line `{"key", "channel", "post", "text", "media", "published_at"}` in the
outbox (setting `outbox`, default `dryrun-outbox.jsonl` in the working directory). It is
idempotent and can look posts up, like the best networks, so the daemon's guarantees can be
tested end to end with it. `like: mastodon` borrows another type's length and media rules. Each image is
recorded with the rendition that would go out (`media[].rendition`: path in the cache, bytes, width, height).
`published_at` is by the clock it is given (the publisher's: simulated time in a rehearsal).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.channels.base import Channel, Counts, Receipt, max_characters
from scheduler.channels.images import fitted
from scheduler.content import networks
from scheduler.content.text import graphemes
from scheduler.errors import ConfigError
from scheduler.media.renditions import is_image
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, VideoRules
from scheduler.words import N_, Said

log = logging.getLogger(__name__)


class DryRunChannel(Channel):
    type_name = "dryrun"
    idempotent_for = math.inf
    can_lookup = True

    def __init__(self, name: str, settings: Mapping[str, Any], *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(name, settings)
        self.outbox = Path(settings.get("outbox") or "dryrun-outbox.jsonl")
        self.clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        """Its own (no limit but `max_characters`), or with `like: TYPE` those of that channel type."""
        like = settings.get("like")
        if not like or like == "dryrun":
            length = LengthRule("characters", max_characters(settings, 0) or None, graphemes)
            return Limits(length=length, media=MediaRules(video=VideoRules("the dry run", alone=False)))
        if not isinstance(like, str):
            raise ConfigError(Said.of(N_("like: must name a channel type, such as mastodon")), key="like")
        try:
            # A dry run fetches nothing from the campaign's public address: it needs no media_url.
            return replace(networks.limits_for(like, settings), public_media=False)
        except networks.UnknownType as exc:
            raise ConfigError(Said.of(N_("like: {problem}"), problem=exc.said or str(exc)), key="like") from None

    def _media_record(self, item: MediaItem) -> dict[str, Any]:
        """An image as it would go out: the rendition for this channel's rules (its path, size, dimensions)."""
        record: dict[str, Any] = {"path": str(item.path), "alt": item.alt}
        if not item.is_video and is_image(item.path):
            made = fitted(item, self.limits(self.settings).media, self.name)
            record["rendition"] = {"path": str(made.path), "bytes": made.size}
            record["rendition"].update(width=made.width, height=made.height)
        return record

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        media = [self._media_record(item) for item in post.media]  # before the lock: image work takes time
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as handle:
            existing = self._find(handle, key)
            if existing is not None:
                return existing
            record = {
                "key": key,
                "channel": self.name,
                "post": post.post,
                "text": post.text,
                "media": media,
                "language": post.language,
                **({"reply_to": reply_to.remote_id} if reply_to is not None else {}),  # a thread's part answers it
                "published_at": self.clock().isoformat(timespec="milliseconds"),
            }
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        log.info("dry-run: published %s on %s (%d characters)", post.post, self.name, len(post.text))
        return self._receipt(key)

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        if not self.outbox.exists():
            return None
        with self._locked() as handle:
            return self._find(handle, key)

    def check(self) -> str:
        try:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            with self.outbox.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise ConfigError(f"cannot write the dry-run outbox {self.outbox}: {exc.strerror}") from None
        return f"writes to {self.outbox}"

    def _locked(self) -> Any:
        handle = self.outbox.open("a+", encoding="utf-8")
        fcntl.flock(handle, fcntl.LOCK_EX)  # several daemons may share one outbox
        return handle

    def _find(self, handle: Any, key: str) -> Receipt | None:
        handle.seek(0)
        needle = json.dumps(key)
        for line in handle:
            if needle in line and json.loads(line).get("key") == key:
                return self._receipt(key)
        return None

    def _receipt(self, key: str) -> Receipt:
        return Receipt(url=f"{self.outbox.resolve().as_uri()}#{key}", remote_id=key)


class SimulatedCounts(DryRunChannel):
    """A dry-run channel whose posts gather made-up counts, only for rehearsals (`rehearse --keep`):
    the same post at the same age always has the same counts, and they only grow, so the report of a
    rehearsed campaign can be seen before anything goes out. An ordinary dry-run channel has no
    counts: a real ledger never holds invented figures."""

    has_counts = True
    counts_batch = 100

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        wanted = {r.remote_id for r in published if r.remote_id}
        found: dict[str, Counts] = {}
        if not wanted or not self.outbox.exists():
            return found
        now = self.clock()
        with self._locked() as handle:
            handle.seek(0)
            for line in handle:
                record = json.loads(line)
                key = record.get("key")
                if key in wanted and key not in found:
                    age = now - datetime.fromisoformat(record["published_at"])
                    found[key] = _made_up(key, max(age.total_seconds(), 0.0) / 3600)
        return found


def _made_up(key: str, hours: float) -> Counts:
    """Counts that rise quickly on the first day and level off, scaled per post by its key."""
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    reach = 5 + seed % 60  # likes the post ends with
    share = math.log1p(hours) / math.log1p(24 * 30)
    grown = min(1.0, share)
    return Counts(
        likes=round(reach * grown),
        reposts=round(reach * grown * (0.15 + (seed >> 8) % 20 / 100)),
        replies=round(reach * grown * ((seed >> 16) % 10 / 100)),
        quotes=round(reach * grown * 0.02),
    )
