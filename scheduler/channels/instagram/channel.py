"""Instagram professional accounts, through the Instagram API with Instagram Login ("Content publishing").

Settings: `user_id` (the account's Instagram user id, quoted), `token` (a long-lived Instagram User access
token with instagram_business_basic and instagram_business_content_publish, a ${SECRET} reference), `api`
(default https://graph.instagram.com: a setting so tests can point it at a local server), `version` (default
v25.0, pinned), `media_timeout` (seconds one attempt waits for a container, default 300); `media_url` comes
from channels.yml's top level (where the campaign's exported media are served, scheduler.media.public).

A post is a container (scheduler.channels.meta.containers): one image (`image_url`, `alt_text`), one video as
a Reel (`media_type=REELS`, `video_url`), or a carousel of 2 to 10 images and videos (each item a container
with `is_carousel_item`, then `media_type=CAROUSEL` with their ids as `children`); the caption on the post.
Instagram fetches each file from its public URL, which is checked first to serve the exported bytes.

Exactly once: no idempotency key, but the container id is kept in the ledger before it is published, and a
container is published once (PUBLISHED after that); `lookup` settles an interrupted send from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from scheduler.channels.base import Channel, Receipt
from scheduler.channels.meta.api import MetaApi, mapping
from scheduler.channels.meta.containers import DEFAULT_WAIT, Containers, Endpoints, Spec, media_of
from scheduler.channels.tokens import TokenHealth
from scheduler.errors import ChannelError, ConfigError, Rejected, RetryLater, TokenRejected
from scheduler.media import public
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, VideoRules

log = logging.getLogger(__name__)

DEFAULT_API = "https://graph.instagram.com"
DEFAULT_VERSION = "v25.0"
PERMISSIONS = "instagram_business_basic and instagram_business_content_publish"
#: A caption of 2,200 characters; at most 30 hashtags (Instagram refuses more).
LENGTH = LengthRule("characters", 2200, len)
HASHTAGS = 30
#: JPEG only (Instagram takes no other image format): each image goes out as its rendition, at most 8 MB and
#: 1440 pixels wide, between 1.91:1 and 4:5 (only the 1.91 can be checked offline). Reels: MP4 or MOV, H.264
#: or HEVC with AAC, up to 15 minutes and 300 MB. A carousel takes 10 images and videos.
VIDEO = VideoRules(
    "Instagram",
    kinds=frozenset({".mp4", ".mov"}),
    max_bytes=300_000_000,
    max_seconds=900.0,
    max_fps=60.0,
    video_codecs=("h264", "hevc"),
    audio_codecs=("aac",),
    alone=False,
)
MEDIA = MediaRules(
    max_items=10,
    max_bytes=8_000_000,
    kinds=frozenset({".jpg", ".jpeg"}),
    max_side=1440,
    max_ratio=1.91,
    transparency=False,
    video=VIDEO,
)
_LOOKUP_RECENT = "25"  # the account's newest posts read to find the one a PUBLISHED container became


class InstagramChannel(Channel):
    """One Instagram professional account."""

    type_name = "instagram"
    idempotent_for = 0.0  # no idempotency key: the container kept in the ledger stands for one
    can_lookup = True
    can_refresh = True  # GET /refresh_access_token?grant_type=ig_refresh_token, once the token is 24 hours old
    token_lasts = timedelta(days=60)  # a long-lived token, as documented; Instagram does not say per token

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        user_id, token = settings.get("user_id"), settings.get("token")
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id.strip().isdigit():
            raise ConfigError(
                f'channel {name}: `user_id` must be the Instagram account\'s numeric id, quoted ("17841400000000")',
                key="user_id",
            )
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"channel {name}: `token` is missing (use ${{INSTAGRAM_TOKEN}})", key="token")
        api = str(settings.get("api") or DEFAULT_API).strip().rstrip("/")
        if not api.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `api` must be an http(s) URL such as {DEFAULT_API}", key="api")
        version = str(settings.get("version") or DEFAULT_VERSION).strip()
        if not (version.startswith("v") and version[1:].replace(".", "", 1).isdigit()):
            raise ConfigError(
                f"channel {name}: `version` must be an API version such as {DEFAULT_VERSION}", key="version"
            )
        wait = settings.get("media_timeout", DEFAULT_WAIT)
        if not isinstance(wait, int | float) or isinstance(wait, bool) or wait <= 0:
            raise ConfigError(f"channel {name}: `media_timeout` must be a number of seconds", key="media_timeout")
        self.user_id, self.media_wait = user_id.strip(), float(wait)
        self.media_url = public.checked_base(settings.get("media_url"))
        self.renew = (
            f"make a new long-lived Instagram User access token ({PERMISSIONS}) for the account of channel {name} "
            "and store it where the channel's `token:` points (docs/writing-posts.md, Instagram)"
        )
        self._api = MetaApi(
            name, "Instagram", self.user_id, token.strip(), api, version, renew=self.renew, permissions=PERMISSIONS
        )

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LENGTH, media=MEDIA, needs_media=True, max_hashtags=HASHTAGS, public_media=True)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        _refuse_what_instagram_would(post)
        return self._containers(key, post).publish(self._spec(post))

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """The post the container kept for this send became; None when nothing of it is out (a container is
        kept before anything is published, so without one, or with one not published, there is no post)."""
        try:
            return self._containers(key, post).recall(self._spec(post))
        except (Rejected, RetryLater) as exc:
            raise RetryLater(f"cannot settle the send with Instagram now: {exc.reason}") from None

    def check(self) -> str:
        me = self._me()
        return f"posts as @{me.get('username') or '?'} ({self.user_id}) on {self._api.base}, API {self._api.version}"

    def token_health(self) -> TokenHealth:
        """Who the token posts as (`GET /me`). Instagram does not say when a long-lived token ends (60 days after
        it was made or last refreshed), so neither does this: refresh it monthly (`campaign channels refresh`)."""
        try:
            me = self._me()
        except TokenRejected:
            return TokenHealth(posts_as=f"Instagram account {self.user_id}", renew=self.renew, revoked=True)
        posts_as = f"@{me.get('username') or '?'} ({me.get('user_id') or self.user_id})"
        if str(me.get("user_id") or self.user_id) != self.user_id:
            posts_as += f", not the channel's user_id {self.user_id}"
        return TokenHealth(
            posts_as=posts_as,
            renew=self.renew,
            note="Instagram does not say when it ends: 60 days after it was made or last refreshed; refresh it "
            "with `campaign channels refresh` at least once a month",
        )

    def refresh(self) -> str:
        """A new long-lived token for this one (valid 60 days); Instagram refreshes a token only once it is at
        least 24 hours old and not expired."""
        try:
            body = mapping(
                self._api.call(
                    "GET", "/refresh_access_token", params={"grant_type": "ig_refresh_token"}, versioned=False
                )
            )
        except TokenRejected:
            raise
        except ChannelError as exc:
            raise Rejected(
                f"Instagram did not refresh the token of channel {self.name}: a token can be refreshed once it is "
                f"at least 24 hours old and before it expires; {exc.reason}"
            ) from None
        token = body.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise Rejected(f"Instagram answered the refresh of channel {self.name}'s token without a token")
        return token.strip()

    def close(self) -> None:
        self._api.close()

    # -- the parts -----------------------------------------------------------------------------------------

    def _me(self) -> Mapping[str, Any]:
        return mapping(self._api.call("GET", "/me", params={"fields": "user_id,username"}))

    def _containers(self, key: str, post: RenderedPost) -> Containers:
        endpoints = Endpoints(
            create=f"/{self.user_id}/media",
            publish=f"/{self.user_id}/media_publish",
            limit=f"/{self.user_id}/content_publishing_limit",
        )
        return Containers(
            self._api,
            endpoints,
            key,
            self.uploads,
            self.pauses,
            wait=self.media_wait,
            published=self._api.receipt,
            find=lambda container: self._find(container, post),
        )

    def _spec(self, post: RenderedPost) -> Spec:
        """The container of `post`: its fields, a carousel's items, and the media with their public URLs."""
        media = tuple(media_of(item, MEDIA, "Instagram", self.media_url) for item in post.media)
        if len(media) == 1:
            item = post.media[0]
            fields = [*_item_fields(item, media[0].url, carousel=False), ("caption", post.text)]
            return Spec(tuple(fields), media=media)
        children = tuple(
            tuple(_item_fields(item, made.url, carousel=True)) for item, made in zip(post.media, media, strict=True)
        )
        return Spec((("media_type", "CAROUSEL"), ("caption", post.text)), children, media)

    def _find(self, container: str, post: RenderedPost) -> Receipt:
        """The post a PUBLISHED container became: the account's newest post with this caption. Instagram does
        not name it on the container; the post is out, so not finding it still settles the send."""
        listed = mapping(
            self._api.call(
                "GET",
                f"/{self.user_id}/media",
                params={"fields": "id,caption,permalink,timestamp", "limit": _LOOKUP_RECENT},
            )
        )
        data = listed.get("data")
        for entry in data if isinstance(data, list) else []:
            found = mapping(entry)
            if str(found.get("caption") or "").strip() == post.text.strip() and found.get("id"):
                link = found.get("permalink")
                return Receipt(url=link if isinstance(link, str) and link else None, remote_id=str(found["id"]))
        log.warning("%s: container %s is published, but no recent post has its caption", self.name, container)
        return Receipt(url=None, remote_id=None)


def _item_fields(item: MediaItem, url: str, *, carousel: bool) -> list[tuple[str, str]]:
    if item.is_video:
        fields = [("media_type", "VIDEO" if carousel else "REELS"), ("video_url", url)]
    else:
        fields = [("image_url", url)]
        if item.alt.strip():
            fields.append(("alt_text", item.alt.strip()))
    if carousel:
        fields.append(("is_carousel_item", "true"))
    return fields


def _refuse_what_instagram_would(post: RenderedPost) -> None:
    """Rejected before anything is made, so a refused post leaves nothing behind (validate says it first)."""
    problems = LENGTH.problems(post.text)
    if not post.media:
        problems.append("Instagram takes no post without an image or a video")
    if len(post.media) > (MEDIA.max_items or 10):
        problems.append(f"{len(post.media)} media items, Instagram takes at most {MEDIA.max_items}")
    if problems:
        raise Rejected("; ".join(problems))
