"""The Threads channel: its settings, a post as the container the shared Meta core makes and publishes
(scheduler.channels.meta.containers: TEXT, IMAGE, VIDEO or CAROUSEL; `reply_to_id` for a thread's later parts;
the posts' or the replies' quota read first), lookup, the token and `check`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.channels.base import Channel, Receipt
from scheduler.channels.facebook.graph import integer
from scheduler.channels.meta.api import MetaApi, mapping
from scheduler.channels.meta.containers import DEFAULT_WAIT, Containers, Endpoints, Spec, media_of
from scheduler.channels.threads import found
from scheduler.channels.tokens import TokenHealth
from scheduler.content.text import threads_length
from scheduler.errors import ConfigError, InDoubt, Rejected, RetryLater, TokenRejected
from scheduler.media import public
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, VideoRules

log = logging.getLogger("scheduler.channels.threads")

#: Threads API, "Posts": "Text posts are limited to 500 characters. Emojis are counted as the number of
#: UTF-8 bytes" (scheduler.content.text.threads_length).
LENGTH = LengthRule("characters", 500, threads_length)
#: "Posts", Media specifications: images JPEG or PNG, at most 8 MB, an aspect ratio of at most 10:1 (wider
#: than 1,440 pixels is scaled down by Threads itself); video MOV or MP4, at most 1 GB, 5 minutes and 60 frames
#: a second; a carousel has 2 to 20 items.
MEDIA = MediaRules(
    max_items=20,
    max_bytes=8_000_000,
    kinds=frozenset({".jpg", ".jpeg", ".png"}),
    max_ratio=10.0,
    video=VideoRules(
        "Threads", kinds=frozenset({".mp4", ".mov"}), max_bytes=1_000_000_000, max_seconds=300, max_fps=60
    ),
)
DEFAULT_API = "https://graph.threads.net/v1.0"
PERMISSIONS = "threads_basic and threads_content_publish (and threads_manage_replies for threads of replies)"
KEPT_FOR = timedelta(days=2)  # how long the ledger keeps a send's container: a published one is found since then
RENEW = (
    "run `campaign channels refresh` (a token at least 24 hours old and not yet expired), or make a new long-lived "
    "Threads token and store it where the channel's `token:` points (docs/writing-posts.md, Threads)"
)


class ThreadsChannel(Channel):
    """One Threads account."""

    type_name = "threads"
    idempotent_for = 0.0  # no idempotency key: the container kept in the ledger is what makes a send once
    can_lookup = True
    can_refresh = True  # once the token is at least 24 hours old
    token_lasts = timedelta(days=60)  # "Long-lived tokens"; debug_token says it only for the app's testers

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        user_id, token = settings.get("user_id"), settings.get("token")
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id.strip().isdigit():
            raise ConfigError(f'channel {name}: `user_id` must be the Threads user id, quoted ("1789...")')
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(
                f"channel {name}: `token` is missing (use ${{THREADS_TOKEN}}, a long-lived Threads token)"
            )
        base = str(settings.get("api") or DEFAULT_API).strip().rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `api` must be an http(s) URL", key="api")
        wait = settings.get("media_timeout", DEFAULT_WAIT)
        if not isinstance(wait, int | float) or isinstance(wait, bool) or wait <= 0:
            raise ConfigError(f"channel {name}: `media_timeout` must be a number of seconds", key="media_timeout")
        self.user_id, self.base, self.media_timeout = user_id.strip(), base, float(wait)
        self.media_url = public.checked_base(settings.get("media_url"))  # channels.yml's, from publish.adapters
        host, version = _split(base)
        self._api = MetaApi(
            name, "Threads", self.user_id, token.strip(), host, version, renew=RENEW, permissions=PERMISSIONS
        )

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LENGTH, media=MEDIA, replies=True, public_media=True)

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        problems = LENGTH.problems(post.text)
        if problems:
            raise Rejected("Threads would refuse it: " + "; ".join(problems))
        reply_id = reply_to.remote_id if reply_to is not None else None
        containers = self._containers(key, post, reply=reply_id is not None, since=None)
        return containers.publish(self._spec(post, reply_id))

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """Settles an interrupted send from its kept container (scheduler.channels.meta.containers)."""
        try:
            if self.uploads is None:  # no ledger to keep containers in: the account's posts are all there is
                receipt = found.by_text(self._api, post.text, since, reply=None)
                if receipt is None:
                    raise InDoubt("no container of this send is known, and no post with its text was found")
                return receipt
            # Not known whether it was a reply, nor to what: the reply's id is not part of what it is kept by.
            return self._containers(key, post, reply=None, since=since).recall(self._spec(post, None))
        except (RetryLater, Rejected) as exc:
            if isinstance(exc, TokenRejected):
                raise
            raise RetryLater(f"cannot look up the Threads container of this send: {exc.reason}") from None

    def _containers(self, key: str, post: RenderedPost, *, reply: bool | None, since: datetime | None) -> Containers:
        quota = ("reply_quota_usage", "reply_config", "replies") if reply else ("quota_usage", "config", "posts")
        endpoints = Endpoints(
            create=f"/{self.user_id}/threads",
            publish=f"/{self.user_id}/threads_publish",
            limit=f"/{self.user_id}/threads_publishing_limit",
            limit_fields=quota[:2],
            limit_counts=quota[2],
            status_fields=("status", "error_message"),
        )
        return Containers(
            self._api,
            endpoints,
            key,
            self.uploads,
            self.pauses,
            wait=self.media_timeout,
            published=self._api.receipt,
            find=lambda container: self._find(container, post, reply, since),
        )

    def _spec(self, post: RenderedPost, reply_id: str | None) -> Spec:
        """The container of `post`: TEXT, one IMAGE or VIDEO, or a CAROUSEL of their items; text and
        `reply_to_id` on the post. A reply's id is not part of its digest, so a lookup recalls it too."""
        common: list[tuple[str, str]] = [("text", post.text)] if post.text else []
        unhashed = (("reply_to_id", reply_id),) if reply_id else ()
        if not post.media:
            return Spec((("media_type", "TEXT"), *common), unhashed=unhashed)
        media = tuple(media_of(item, MEDIA, "Threads", self.media_url) for item in post.media)
        located = [_item_fields(item, made.url) for item, made in zip(post.media, media, strict=True)]
        if len(located) == 1:
            return Spec((*located[0], *common), media=media, unhashed=unhashed)
        children = tuple((*fields, ("is_carousel_item", "true")) for fields in located)
        return Spec((("media_type", "CAROUSEL"), *common), children, media, unhashed=unhashed)

    def _find(self, container: str, post: RenderedPost, reply: bool | None, since: datetime | None) -> Receipt:
        """The post a PUBLISHED container became, among the account's posts (or replies) since the send began
        (or since the ledger keeps containers); InDoubt unless exactly one has its text."""
        since = since or datetime.now(UTC) - KEPT_FOR
        receipt = found.by_text(self._api, post.text, since, reply=reply)
        if receipt is None:
            raise InDoubt(
                f"Threads says container {container} is published, but no post with its text was found among the "
                "account's posts; look on Threads and resolve it"
            )
        return receipt

    # -- the account and its token -------------------------------------------------------------

    def check(self) -> str:
        me = mapping(self._api.call("GET", "/me", params={"fields": "id,username"}))
        who = me.get("username")
        shown = f"@{who}" if who else "?"
        if str(me.get("id") or "") not in ("", self.user_id):
            raise Rejected(
                f"the token of channel {self.name} is for Threads user {me.get('id')} ({shown}), not `user_id` "
                f"{self.user_id}"
            )
        return f"authenticated as {shown} ({self.user_id}) on {self.base}"

    def token_health(self) -> TokenHealth:
        """Who via `/me`; when the token ends from `debug_token` (the token inspecting itself), where Threads
        answers it (it does for the app's testers)."""
        try:
            me = mapping(self._api.call("GET", "/me", params={"fields": "id,username"}))
        except TokenRejected:
            return TokenHealth(posts_as=f"Threads user {self.user_id}", renew=RENEW, revoked=True)
        posts_as = f"@{me.get('username')} on Threads" if me.get("username") else f"Threads user {self.user_id}"
        try:
            body = self._api.call("GET", "/debug_token", params={"input_token": self._api.token})
            data = mapping(mapping(body).get("data"))
        except (Rejected, RetryLater) as exc:  # /me took the token: a refusal here says nothing of its end
            log.info("threads: %s: debug_token not answered (%s)", self.name, exc.reason)
            data = {}
        if data.get("is_valid") is False:
            return TokenHealth(posts_as=posts_as, renew=RENEW, revoked=True, note="Threads says the token is not valid")
        ends = integer(data.get("expires_at"))
        if not ends:
            return TokenHealth(
                posts_as=posts_as,
                renew=RENEW,
                note="Threads does not say when this token ends; a long-lived token lasts 60 days from when it "
                "was made or last refreshed",
            )
        return TokenHealth(posts_as=posts_as, renew=RENEW, expires=datetime.fromtimestamp(ends, UTC))

    def refresh(self) -> str:
        """`GET /refresh_access_token?grant_type=th_refresh_token`: a new long-lived token (60 days)."""
        body = mapping(
            self._api.call("GET", "/refresh_access_token", params={"grant_type": "th_refresh_token"}, versioned=False)
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise RetryLater("Threads answered the refresh without a token")
        return token.strip()

    def close(self) -> None:
        self._api.close()


def _split(base: str) -> tuple[str, str]:
    """(`https://graph.threads.net`, `v1.0`) of `https://graph.threads.net/v1.0`; an `api` without a version
    gets the one this adapter is written for."""
    head, _, last = base.rpartition("/")
    if last.startswith("v") and last[1:].replace(".", "", 1).isdigit():
        return head, last
    return base, DEFAULT_API.rpartition("/")[2]


def _item_fields(item: MediaItem, url: str) -> list[tuple[str, str]]:
    fields = (
        [("media_type", "VIDEO"), ("video_url", url)]
        if item.is_video
        else [("media_type", "IMAGE"), ("image_url", url)]
    )
    if item.alt:
        fields.append(("alt_text", item.alt))
    return fields
