"""The Facebook Page channel: its settings, and what publishing, lookup, counts and replies do with
the parts of this package."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.channels._secretguard import detached
from scheduler.channels.base import Budget, Channel, Counts, Receipt, Reply
from scheduler.channels.facebook import comments, feed, photos, videos
from scheduler.channels.facebook.graph import DEFAULT_GRAPH, DEFAULT_VERSION, Duplicate, Graph, integer
from scheduler.channels.tokens import TokenHealth
from scheduler.errors import ChannelError, ConfigError, InDoubt, RetryLater, TokenRejected
from scheduler.posts import Limits, RenderedPost

log = logging.getLogger("scheduler.channels.facebook")

_SKEW = timedelta(minutes=5)  # the lookup reaches back a little: our clock is not Facebook's


class FacebookChannel(Channel):
    """One Facebook Page."""

    type_name = "facebook"
    idempotent_for = 0.0  # Graph has no idempotency key
    can_lookup = True
    has_counts = True  # GET /{post-id}?fields=reactions,comments,shares (summaries only)
    has_replies = True  # GET /{post-id}/comments?filter=stream: comments and answers to them

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        page_id, token = settings.get("page_id"), settings.get("token")
        if isinstance(page_id, int) and not isinstance(page_id, bool):
            page_id = str(page_id)
        if not isinstance(page_id, str) or not page_id.strip().isdigit():
            raise ConfigError(f'channel {name}: `page_id` must be the Page\'s numeric id, quoted ("1234567890")')
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"channel {name}: `token` is missing (use ${{FACEBOOK_PAGE_TOKEN}}, a Page access token)")
        graph = str(settings.get("graph") or DEFAULT_GRAPH).strip().rstrip("/")
        if not graph.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `graph` must be an http(s) URL")
        version = str(settings.get("version") or DEFAULT_VERSION).strip()
        if not (version.startswith("v") and version[1:].replace(".", "", 1).isdigit()):
            raise ConfigError(f"channel {name}: `version` must be a Graph API version such as {DEFAULT_VERSION}")
        wait = settings.get("media_timeout", videos.DEFAULT_WAIT)
        if not isinstance(wait, int | float) or isinstance(wait, bool) or wait <= 0:
            raise ConfigError(f"channel {name}: `media_timeout` must be a number of seconds", key="media_timeout")
        self.media_timeout = float(wait)
        self.page_id = page_id.strip()
        self.graph, self.version = graph, version
        self._graph = Graph(name, self.page_id, token.strip(), graph, version)

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=feed.LENGTH, media=feed.MEDIA)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        feed.refuse_what_facebook_would(post)
        started = datetime.now(UTC)
        try:
            if not post.media:
                return feed.post_feed(self._graph, self.name, post, feed.text_fields(post))
            if post.media[0].is_video:
                return self._video(key).publish(post, post.media[0])
            if len(post.media) == 1:
                return photos.post_photo(self._graph, self.name, post, post.media[0])
            ids = [photos.upload_unpublished(self._graph, item) for item in post.media]
            return feed.post_feed(self._graph, self.name, post, feed.with_photos(post, ids))
        except Duplicate as exc:
            return feed.settle_duplicate(self._graph, self.name, post, started, exc.reason)

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """The Page's post with this message since `since`; InDoubt if there is none (never None:
        without a key, "not found" cannot prove that the request never reached Facebook)."""
        if post.media and post.media[0].is_video:
            return self._lookup_video(key, post, since)
        wanted = feed.normal(post.text)
        if not wanted:
            raise InDoubt("a post without text cannot be told apart on the Page")
        try:
            found = feed.find(self._graph, wanted, since - _SKEW)
        except ChannelError as exc:
            raise detached(RetryLater(f"cannot look up the Page's posts: {exc.reason}")) from None
        if found is None:
            when = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise InDoubt(f"no post with this message on Facebook Page {self.page_id} since {when}")
        return found

    def _video(self, key: str) -> videos.PageVideo:
        return videos.PageVideo(self._graph, self.name, key, self.uploads, self.pauses, self.media_timeout)

    def _lookup_video(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """A video kept in the ledger is out once published (unpublished: the next send continues it);
        without one, the Page's published video with this text since `since`, else InDoubt."""
        page_video = self._video(key)
        try:
            known = page_video.kept(post.media[0])
            if known is not None:
                published = page_video.published(known)
                if published:
                    return videos.receipt(self.page_id, known)
                if published is False:
                    return None  # unpublished: nothing is out; the next send continues from its step
            found = videos.find(self._graph, post.text, since - _SKEW)
        except InDoubt:
            raise
        except ChannelError as exc:
            raise detached(RetryLater(f"cannot look up the Page's videos: {exc.reason}")) from None
        if found is None:
            when = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise InDoubt(f"no video with this text on Facebook Page {self.page_id} since {when}")
        return found

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        found = {}
        for receipt in published:
            counted = comments.counts_of(self._graph, receipt.remote_id) if receipt.remote_id else None
            if counted is not None:
                found[str(receipt.remote_id)] = counted
        return found

    def replies_to(self, published: Receipt) -> list[Reply]:
        return comments.replies_to(self._graph, self.name, published)

    def read_budget(self) -> Budget | None:
        return self._graph.budget

    def check(self) -> str:
        body = self._graph.call("GET", f"/{self.page_id}", params={"fields": "name"})
        name = body.get("name") if isinstance(body, Mapping) else None
        return f"Page {name or '?'} ({self.page_id}) on {self.graph}, Graph API {self.version}"

    def token_health(self) -> TokenHealth:
        """From Graph's `debug_token`: the Page the token posts as and the nearest of its two end dates
        (`expires_at`, `data_access_expires_at`; 0 is never). A long-lived Page token has none."""
        renew = (
            f"make a new long-lived Page access token for Page {self.page_id} and store it where the channel's "
            "`token:` points (docs/writing-posts.md, Facebook)"
        )
        try:
            data = self._graph.debug_token()
        except TokenRejected:
            return TokenHealth(posts_as=f"Page {self.page_id}", renew=renew, revoked=True)
        profile = data.get("profile_id") or self.page_id
        kind = str(data.get("type") or "").upper()
        posts_as = f"Page {profile}"
        if kind and kind != "PAGE":
            posts_as += f" (with a {kind.lower()} token, not a Page token)"
        if data.get("is_valid") is False:
            return TokenHealth(posts_as=posts_as, renew=renew, revoked=True, note="Graph says the token is not valid")
        ends = [
            (moment, what)
            for moment, what in (
                (integer(data.get("expires_at")), ""),
                (integer(data.get("data_access_expires_at")), "when its data access ends"),
            )
            if moment
        ]
        if not ends:
            return TokenHealth(posts_as=posts_as, renew=renew, never=True, note="Graph says it does not expire")
        moment, what = min(ends)
        return TokenHealth(posts_as=posts_as, renew=renew, expires=datetime.fromtimestamp(moment, UTC), note=what)

    def close(self) -> None:
        self._graph.close()
