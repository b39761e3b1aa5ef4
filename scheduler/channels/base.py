"""The interface every channel adapter implements (the values it takes are in scheduler.posts).

An adapter is a class registered in the `campaign_scheduler.channels` entry-point group under
its type name (the `type:` of a channel in channels.yml). Built-in adapters use the same group.

`publish` returns a Receipt or raises one of (scheduler.errors):
    RetryLater(reason, after)   nothing was published; the daemon tries again later
    Rejected(reason)            the network refused it, with the network's own message
    InDoubt(reason)             it may be out; the daemon settles it with `lookup` or a person
It never returns on failure, and it never retries a non-idempotent request by itself.

After publishing, `counts` and `replies_to` read what a post reached (scheduler.results collects them).
Both only read; they raise RetryLater (with the network's rate-limit wait) or Rejected, never InDoubt.
A network without public counts or replies (webhooks, Telegram bots) keeps `has_counts` or
`has_replies` false, so the report says "no counts" rather than showing zeros.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from scheduler.channels.tokens import TokenHealth
from scheduler.posts import Limits, RenderedPost

#: Content types of the image files adapters upload, by file extension.
IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
}


@dataclass(frozen=True)
class Receipt:
    """Proof of publication: the network's id for the post and its public URL."""

    url: str | None
    remote_id: str | None = None
    cid: str | None = None  # what a reply needs besides the id, where a network asks for it (Bluesky)
    #: Given as `reply_to`: the first post of the thread this one is in; None when this one is the first.
    root: Receipt | None = None


@dataclass(frozen=True)
class Counts:
    """A post's public counts at one moment; None where the network does not count that."""

    likes: int | None = None  # Mastodon favourites, Bluesky and X likes, Facebook reactions
    reposts: int | None = None  # boosts, reposts, retweets, shares
    replies: int | None = None  # replies, comments
    quotes: int | None = None
    views: int | None = None  # X impressions, where the account may see them


@dataclass(frozen=True)
class Reply:
    """Someone's public answer to a campaign post: only what a person needs to answer it.

    Personal data: the ledger keeps exactly these fields, and nothing logs `text`."""

    remote_id: str  # the network's id of the reply
    author: str  # the handle (@name@instance, name.bsky.social), or the name where that is all (Facebook)
    at: datetime  # when it was written (aware)
    text: str  # plain text
    url: str | None  # where a person opens it to answer


@dataclass(frozen=True)
class Budget:
    """What a network's rate-limit headers said on the last read: calls left, of how many, and when
    the window starts again. The collector stops reading well before the end, so posting never
    finds the account's limit used up by reads."""

    remaining: int
    limit: int
    reset_in: float  # seconds


class UploadMemory(Protocol):
    """Media a send uploaded, kept in the ledger (scheduler.publish.store.uploads), so that a retry or a
    restart reuses an upload the network still holds. An adapter that uploads in steps uses it."""

    def recall(self, channel: str, key: str, digest: str) -> tuple[str, datetime] | None: ...

    def keep(self, channel: str, key: str, digest: str, remote_id: str) -> None: ...

    def forget(self, channel: str, key: str) -> None: ...


class PauseWatch(Protocol):
    """Whether a pause stops sends on a channel now (the ledger's, scheduler.publish.store.sends). An adapter
    that publishes in steps, long after the publisher checked, asks it again before the step that publishes."""

    def paused(self, channel: str) -> str | None: ...


def max_characters(settings: Mapping[str, Any], default: int) -> int:
    """The channel's `max_characters` setting where it is a positive whole number, else `default`."""
    value = settings.get("max_characters", default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


class Channel(ABC):
    """One configured account on one network."""

    type_name: ClassVar[str]
    #: Seconds during which sending again with the same key cannot make a second post (the
    #: network deduplicates by key): 0 for none, math.inf for forever. Mastodon keeps keys 1 hour.
    idempotent_for: ClassVar[float] = 0.0
    #: `lookup` can find a post that an interrupted send may have published.
    can_lookup: ClassVar[bool] = False
    #: `counts` reads public counts (and how many posts one call may ask for); `replies` reads replies.
    has_counts: ClassVar[bool] = False
    counts_batch: ClassVar[int] = 1
    has_replies: ClassVar[bool] = False
    #: `refresh` exchanges the channel's long-lived token for a new one (Instagram, Threads).
    can_refresh: ClassVar[bool] = False
    #: How long a new long-lived token lasts where the network documents it but does not tell it per token
    #: (Instagram, Threads: 60 days); the daemon then dates a token by when its secrets file was written.
    token_lasts: ClassVar[timedelta | None] = None
    #: Set by the publisher: where uploads are remembered between attempts (None: nowhere, upload again).
    uploads: UploadMemory | None = None
    #: Set by the publisher: asked right before a late step that publishes (None: not asked).
    pauses: PauseWatch | None = None

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        """`settings` come from channels.yml with every ${SECRET} already resolved."""
        self.name = name
        self.settings = settings

    @classmethod
    @abstractmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        """The channel's length and media rules, known without the network."""

    @abstractmethod
    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        """Publish `post`. `key` is stable per (post, channel, content version).

        `reply_to`: the post this one answers, in a thread (its `root` the thread's first post).
        Only given to adapters whose `limits` say `replies`; `post.parts` is empty then, and
        `post.text` is the part to send."""

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """The receipt of the post published with `key`, or None if there is certainly none.

        `post` is what was sent and `since` when the first attempt with this key began, for
        networks without idempotency keys that can only search the account's recent posts.
        Only called when `can_lookup` is true; raise RetryLater when the network cannot say now,
        and InDoubt when it is not found but may still be out (None makes the daemon send again).
        """
        raise NotImplementedError(f"{self.type_name} cannot look posts up")

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        """The counts of each published post, by its `remote_id`; a post the network no longer has
        (deleted) is absent. At most `counts_batch` receipts per call. Only when `has_counts`."""
        raise NotImplementedError(f"{self.type_name} has no public counts")

    def replies_to(self, published: Receipt) -> list[Reply]:
        """Other people's replies to a published post (the account's own thread parts left out),
        oldest first. Only when `has_replies`."""
        raise NotImplementedError(f"{self.type_name} has no replies to read")

    def read_budget(self) -> Budget | None:
        """The rate limit as the last `counts` or `replies_to` response gave it; None: not said."""
        return None

    def check(self) -> str:
        """Verify credentials and reachability without posting; return what was verified.

        Raises a ChannelError whose reason says plainly what is wrong ("token rejected").
        """
        return "nothing to check"

    def token_health(self) -> TokenHealth | None:
        """Who the channel posts as and when its token ends, as the network says; None: cannot tell.

        Raises a ChannelError as `check` does when the network cannot be asked."""
        return None

    def refresh(self) -> str:
        """Exchange the token for a new long-lived one and return it (the caller stores it where the
        old one was read from). Only when `can_refresh`; a ChannelError when the network refuses."""
        raise NotImplementedError(f"{self.type_name} tokens cannot be refreshed")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
