"""The Threads channel: its settings, and what publishing, lookup, the token and `check` do with the parts
of this package."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scheduler.channels import http
from scheduler.channels.base import Channel, Receipt
from scheduler.channels.images import fitted
from scheduler.channels.threads import limits, public
from scheduler.channels.threads.api import DEFAULT_API, ThreadsApi, integer, mapping
from scheduler.channels.threads.containers import DEFAULT_WAIT, Content, SendContainer, digest_of
from scheduler.channels.tokens import TokenHealth
from scheduler.channels.uploads import digest
from scheduler.content.text import threads_length
from scheduler.errors import ConfigError, Rejected, RetryLater, TokenRejected
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
#: Long-lived tokens last 60 days ("Long-lived tokens"); refreshed once at least 24 hours old.
RENEW = (
    "run `campaign channels refresh` (a token at least 24 hours old and not yet expired), or make a new long-lived "
    "Threads token and store it where the channel's `token:` points (docs/writing-posts.md, Threads)"
)


class ThreadsChannel(Channel):
    """One Threads account."""

    type_name = "threads"
    idempotent_for = 0.0  # no idempotency key: the container kept in the ledger is what makes a send once
    can_lookup = True
    can_refresh = True

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
        media_url = settings.get("media_url")
        if media_url is not None and (
            not isinstance(media_url, str) or not media_url.startswith(("https://", "http://"))
        ):
            raise ConfigError(f"channel {name}: `media_url` must be the http(s) address the media are served from")
        wait = settings.get("media_timeout", DEFAULT_WAIT)
        if not isinstance(wait, int | float) or isinstance(wait, bool) or wait <= 0:
            raise ConfigError(f"channel {name}: `media_timeout` must be a number of seconds", key="media_timeout")
        self.user_id, self.base, self.media_url, self.media_timeout = user_id.strip(), base, media_url, float(wait)
        self._api = ThreadsApi(name, self.user_id, token.strip(), base)
        self._fetch = http.session()

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LENGTH, media=MEDIA, replies=True)

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        problems = LENGTH.problems(post.text)
        if problems:
            raise Rejected("Threads would refuse it: " + "; ".join(problems))
        reply_id = reply_to.remote_id if reply_to is not None else None
        flow = self._send(key, reply=reply_id is not None)
        return flow.publish(self._content(post, flow, reply_id, reply=reply_id is not None))

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """Settles an interrupted send from its kept container (scheduler.channels.threads.containers)."""
        flow = self._send(key, reply=False)
        try:
            return flow.lookup(self._content(post, flow, None, reply=None), since)
        except (RetryLater, Rejected) as exc:
            if isinstance(exc, TokenRejected):
                raise
            raise RetryLater(f"cannot look up the Threads container of this send: {exc.reason}") from None

    def _send(self, key: str, *, reply: bool) -> SendContainer:
        return SendContainer(
            self._api,
            self.name,
            key,
            self.uploads,
            self.pauses,
            self.media_timeout,
            before_publish=lambda: limits.wait_for_room(self._api, self.name, reply=reply),
        )

    def _content(self, post: RenderedPost, flow: SendContainer, reply_id: str | None, *, reply: bool | None) -> Content:
        try:
            digests = [digest(item) for item in post.media]
        except OSError as exc:
            raise Rejected(f"cannot read a file of this post: {exc.strerror}") from None

        def make() -> str:
            return self._create(post, flow, reply_id)

        return Content(text=post.text, digest=digest_of(post.text, digests), make=make, reply=reply)

    def _create(self, post: RenderedPost, flow: SendContainer, reply_id: str | None) -> str:
        """Check the media's public URLs, then make the container (and a carousel's items): its id."""
        common: list[tuple[str, str]] = [("text", post.text)] if post.text else []
        if reply_id:
            common.append(("reply_to_id", reply_id))
        if not post.media:
            return self._container([("media_type", "TEXT"), *common])
        located = [self._located(item) for item in post.media]  # every URL checked before anything is made
        if len(located) == 1:
            return self._container([*located[0], *common])
        children = [self._container([*fields, ("is_carousel_item", "true")]) for fields in located]
        for child in children:
            flow.until_finished(child)
        return self._container([("media_type", "CAROUSEL"), ("children", ",".join(children)), *common])

    def _container(self, fields: list[tuple[str, str]]) -> str:
        body = self._api.call("POST", f"/{self.user_id}/threads", data=fields)
        container = str(mapping(body).get("id") or "")
        if not container:
            raise RetryLater("Threads answered the creation of a container without its id")
        return container

    def _located(self, item: MediaItem) -> list[tuple[str, str]]:
        """The fields of one image or video: its public URL (checked to serve its bytes) and alt text."""
        if not self.media_url:
            raise Rejected(
                f"channel {self.name}: Threads fetches {item.path.name} from a public web address; set `media_url` "
                "to where the campaign's media are served (docs/writing-posts.md, Threads)"
            )
        if item.is_video:  # a video goes as it is
            source, kind, field = item.path, "VIDEO", "video_url"
        else:  # an image as its rendition: those bytes are what Threads must find there
            source, kind, field = fitted(item, MEDIA, "Threads").path, "IMAGE", "image_url"
        try:
            sha = public.sha256_of(source)
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        suffix = source.suffix
        url = public.url_for(self.media_url, sha, suffix)
        public.check(self._fetch, url, sha, item.path.name)
        fields = [("media_type", kind), (field, url)]
        if item.alt:
            fields.append(("alt_text", item.alt))
        return fields

    # -- the account and its token -------------------------------------------------------------

    def check(self) -> str:
        me = mapping(self._api.call("GET", "/me", params={"fields": "id,username"}))
        who = me.get("username")
        found = f"@{who}" if who else "?"
        if str(me.get("id") or "") not in ("", self.user_id):
            raise Rejected(
                f"the token of channel {self.name} is for Threads user {me.get('id')} ({found}), not `user_id` "
                f"{self.user_id}"
            )
        return f"authenticated as {found} ({self.user_id}) on {self.base}"

    def token_health(self) -> TokenHealth:
        """Who via `/me`; when the token ends from `debug_token` (the token inspecting itself), where Threads
        answers it (it does for the app's testers)."""
        try:
            me = mapping(self._api.call("GET", "/me", params={"fields": "id,username"}))
        except TokenRejected:
            return TokenHealth(posts_as=f"Threads user {self.user_id}", renew=RENEW, revoked=True)
        posts_as = f"@{me.get('username')} on Threads" if me.get("username") else f"Threads user {self.user_id}"
        try:
            data = self._api.debug_token()
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
            self._api.call("GET", "/refresh_access_token", params={"grant_type": "th_refresh_token"}, root=True)
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise RetryLater("Threads answered the refresh without a token")
        return token.strip()

    def close(self) -> None:
        self._api.close()
        self._fetch.close()
