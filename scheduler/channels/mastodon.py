"""Mastodon: statuses with images and alt text, through the instance's REST API.

It uses `requests` (scheduler.channels.http) rather than Mastodon.py: a campaign needs the control a
general client hides (the Idempotency-Key on every attempt, "never sent" (RetryLater) told from
"sent, answer lost" (InDoubt), no sleeping on rate limits: waits belong to the daemon).

Mastodon keeps an Idempotency-Key for up to one hour (docs: methods/statuses), so a post sent again
with the same key inside that hour returns the first status, not a second: `idempotent_for = 3600`.

Settings: `instance` (base URL), `token`, `visibility` (public|unlisted|private|direct, default
public), `language` (default: the post's), `max_characters` (offline limit for validate, default
500), `media_timeout` (seconds to wait for the instance to process an upload, default 60).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from scheduler.channels import http
from scheduler.channels.base import Budget, Channel, Counts, Receipt, Reply, max_characters
from scheduler.channels.images import fitted, upload_name
from scheduler.channels.tokens import TokenHealth
from scheduler.channels.uploads import SendUploads, digest
from scheduler.content.text import mastodon_length
from scheduler.errors import ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, VideoRules
from scheduler.secrets import MASK, redact, remember

log = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private", "direct")
#: docs: user/posting "Images (PNG, JPG, HEIF, WEBP, AVIF) up to 16MB ... Up to 4 images";
#: Mastodon means MiB, so 16_000_000 bytes is on the safe side and is what validate checks.
MEDIA = MediaRules(
    max_items=4,
    max_bytes=16_000_000,
    kinds=frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".avif"}),
    max_pixels=33_177_600,  # the default image_matrix_limit (7680×4320); an instance may say less
)
#: docs: user/posting "Videos (MP4, M4V, MOV, WebM) up to 99MB" (Mastodon 4.x, MiB; an instance may
#: say otherwise in configuration.media_attachments, read at send time), frame rate at most 120 and
#: 4096×2304 pixels (video_frame_rate_limit, video_matrix_limit); no limit on length.
VIDEO = VideoRules(
    "Mastodon",
    kinds=frozenset({".mp4", ".mov", ".webm"}),
    max_bytes=99 * 1024 * 1024,
    max_fps=120,
    max_pixels=8_294_400,
)
MEDIA = replace(MEDIA, video=VIDEO)
#: Mastodon removes media not attached to a status after a day; an upload younger than this is reused.
VIDEO_REUSE = timedelta(hours=12)
_POLL_FIRST = 0.1  # seconds before the first look at a processing upload; doubles up to _POLL_MAX
_POLL_MAX = 2.0


@dataclass(frozen=True)
class _Instance:
    """What the instance says about its own limits (GET /api/v2/instance → configuration)."""

    max_characters: int
    max_media: int
    image_size_limit: int | None
    description_limit: int | None
    image_matrix_limit: int | None = None
    video_size_limit: int | None = None
    video_frame_rate_limit: int | None = None
    video_matrix_limit: int | None = None  # width × height

    def media_rules(self) -> MediaRules:
        """The image profile: the offline one, tightened where the instance says less (so the rendition the
        plan made is the one sent, unless this instance is stricter than Mastodon's defaults)."""

        def tighter(offline: int | None, said: int | None) -> int | None:
            return min(offline, said) if offline and said else offline or said

        return replace(
            MEDIA,
            max_bytes=tighter(MEDIA.max_bytes, self.image_size_limit),
            max_pixels=tighter(MEDIA.max_pixels, self.image_matrix_limit),
        )


class MastodonChannel(Channel):
    """One account on one Mastodon instance."""

    type_name = "mastodon"
    idempotent_for = 3600.0
    can_lookup = False
    has_counts = True  # GET /api/v1/statuses/:id: favourites, boosts, replies (quotes from 4.5)
    has_replies = True  # GET /api/v1/statuses/:id/context: descendants

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        instance, token = settings.get("instance"), settings.get("token")
        if not isinstance(instance, str) or not instance.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `instance` must be the instance's https:// address")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"channel {name}: `token` is missing (use ${{MASTODON_TOKEN}})")
        visibility = settings.get("visibility", "public")
        if visibility not in VISIBILITIES:
            choices = ", ".join(VISIBILITIES)
            raise ConfigError(f"channel {name}: `visibility` must be one of {choices}")
        self._token = token.strip()
        remember(self._token)  # the instance may echo it back; redact() must know it
        self._base = instance.rstrip("/")
        self.host = urlsplit(self._base).netloc
        self.visibility: str = visibility
        self.language: str | None = settings.get("language") or None
        self.media_timeout = float(settings.get("media_timeout", 60))
        self._instance_info: _Instance | None = None
        self._account_id: str | None = None
        self._budget: Budget | None = None
        self._http = http.session()
        self._http.headers["Authorization"] = f"Bearer {self._token}"

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        # 500 is Mastodon's default; an instance that allows more says so, and `max_characters` uses it.
        return Limits(
            length=LengthRule("characters", max_characters(settings, 500), mastodon_length), media=MEDIA, replies=True
        )

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        instance = self._instance()
        self._refuse_what_the_instance_would(post, instance)
        uploads = SendUploads(self.uploads, self.name, key, VIDEO_REUSE)
        try:
            media_ids = [self._upload(item, uploads if item.is_video else None) for item in post.media]
        except Rejected:
            uploads.forget()  # refused or failed in processing: a retry after a fix uploads the new file
            raise
        form: list[tuple[str, str]] = [
            ("status", post.text),
            ("visibility", self.visibility),
            ("language", self.language or post.language),
        ]
        form += [("media_ids[]", media_id) for media_id in media_ids]
        if reply_to is not None and reply_to.remote_id:
            form.append(("in_reply_to_id", reply_to.remote_id))  # a thread's next part
        response = self._request(
            "POST",
            "/api/v1/statuses",
            may_publish=True,
            data=form,
            headers={"Idempotency-Key": _header_safe(key)},
        )
        status = _json(response)
        if not isinstance(status, Mapping) or not status.get("id"):
            raise InDoubt(f"{self.host} answered HTTP {response.status_code} without a status id")
        receipt = Receipt(url=status.get("url") or status.get("uri"), remote_id=str(status["id"]))
        if any(item.is_video for item in post.media):
            uploads.forget()  # attached now: no attempt may reuse it
        log.info("mastodon: published %s on %s as %s", post.post, self.name, receipt.remote_id)
        return receipt

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        found = {}
        for receipt in published:
            if not receipt.remote_id:
                continue
            status = self._read(f"/api/v1/statuses/{quote(receipt.remote_id, safe='')}")
            if isinstance(status, Mapping):
                found[receipt.remote_id] = Counts(
                    likes=_count(status, "favourites_count"),
                    reposts=_count(status, "reblogs_count"),
                    replies=_count(status, "replies_count"),
                    quotes=_count(status, "quotes_count"),
                )
        return found

    def replies_to(self, published: Receipt) -> list[Reply]:
        if not published.remote_id:
            return []
        context = self._read(f"/api/v1/statuses/{quote(published.remote_id, safe='')}/context")
        descendants = context.get("descendants") if isinstance(context, Mapping) else None
        mine = self._own_account()
        found = []
        for status in descendants if isinstance(descendants, list) else []:
            if not isinstance(status, Mapping) or not status.get("id"):
                continue
            account: Mapping[str, Any] = _mapping(status.get("account"))
            if str(account.get("id")) == mine:
                continue  # the campaign's own thread parts and answers
            acct = str(account.get("acct") or "?")
            found.append(
                Reply(
                    remote_id=str(status["id"]),
                    author="@" + (acct if "@" in acct else f"{acct}@{self.host}"),
                    at=_when(status.get("created_at")),
                    text=_plain(str(status.get("content") or "")),
                    url=status.get("url") or status.get("uri"),
                )
            )
        return sorted(found, key=lambda reply: reply.at)

    def _read(self, path: str) -> Any:
        """A GET of a status or its context; None when the instance no longer has it (404)."""
        response = http.send(self._http, "GET", self._base + path, may_publish=False)
        self._budget = _budget(response)
        if response.status_code == 404:
            return None
        return _json(self._checked(response, may_publish=False))

    def read_budget(self) -> Budget | None:
        return self._budget

    def _own_account(self) -> str:
        if self._account_id is None:
            account = self._read("/api/v1/accounts/verify_credentials")
            self._account_id = str(account.get("id")) if isinstance(account, Mapping) else ""
        return self._account_id

    def check(self) -> str:
        try:
            response = http.send(
                self._http,
                "GET",
                f"{self._base}/api/v1/accounts/verify_credentials",
                may_publish=False,
            )
        except RetryLater as exc:
            reason = f"instance unreachable: {self.host}: {exc.reason}"
            raise RetryLater(reason, exc.after) from None
        if response.status_code == 401:
            raise Rejected(f"token rejected by {self.host}")
        account = _json(self._checked(response, may_publish=False))
        acct = account.get("acct") if isinstance(account, Mapping) else None
        limit = self._instance().max_characters
        return f"authenticated as @{acct or '?'} on {self.host} (limit {limit})"

    def token_health(self) -> TokenHealth:
        return TokenHealth(
            posts_as=f"the account of this token on {self.host}",
            renew=f"make a new access token under Preferences → Development on {self.host}",
            never=True,
            note="Mastodon access tokens have no end date; they end only when revoked",
        )

    def close(self) -> None:
        self._http.close()

    # -- steps of publish --------------------------------------------------------------------

    def _instance(self) -> _Instance:
        """The instance's limits, fetched once per adapter."""
        if self._instance_info is None:
            offline = self.limits(self.settings).length.limit or 500
            url = f"{self._base}/api/v2/instance"
            response = http.send(self._http, "GET", url, may_publish=False)
            if response.status_code == 404:  # before Mastodon 4.0: trust the configured limit
                self._instance_info = _Instance(offline, MEDIA.max_items or 4, None, None)
            else:
                config = _json(self._checked(response, may_publish=False))
                self._instance_info = _parse_instance(config, offline)
        return self._instance_info

    def _refuse_what_the_instance_would(self, post: RenderedPost, instance: _Instance) -> None:
        """Rejected before anything is uploaded, so a refused post leaves nothing behind."""
        rule = LengthRule("characters", instance.max_characters, mastodon_length)
        problems = rule.problems(post.text)
        if len(post.media) > instance.max_media:
            problems.append(f"{len(post.media)} images, over the limit of {instance.max_media}")
        for item in post.media:
            if item.is_video:
                try:
                    size = item.path.stat().st_size
                except OSError as exc:
                    problems.append(f"cannot read {item.path.name}: {exc.strerror}")
                    continue
                problems += _video_over(item, size, instance)
            else:
                try:  # the rendition is what goes out: made to fit this instance's limits
                    fitted(item, instance.media_rules(), self.host)
                except Rejected as exc:
                    problems.append(exc.reason)
            if instance.description_limit and len(item.alt) > instance.description_limit:
                problems.append(
                    f"alt text of {item.path.name} is {len(item.alt)} characters, "
                    f"over the limit of {instance.description_limit}"
                )
        if problems:
            raise Rejected(f"{self.host}: " + "; ".join(problems))

    def _upload(self, item: MediaItem, uploads: SendUploads | None = None) -> str:
        """Upload one image (its rendition, never the file) or video with its alt text; return its id once the
        instance has processed it. With `uploads` (a video's), an upload an earlier attempt left is attached
        instead of uploading again."""
        try:
            sha = digest(item) if uploads is not None else ""
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        if uploads is not None and (known := self._still_there(uploads.recall(item, sha))):
            log.info("mastodon: %s reuses upload %s of %s", self.name, known, item.path.name)
            self._wait_until_processed(known, item.path.name)
            return known
        if item.is_video:
            path, name = item.path, item.path.name
            mime = mimetypes.guess_type(item.path.name)[0] or "application/octet-stream"
        else:  # made to fit this instance's limits
            made = fitted(item, self._instance().media_rules(), self.host)
            path, name, mime = made.path, upload_name(item, made), made.mime
        try:
            with path.open("rb") as handle:
                # An upload publishes nothing (unattached media expire), so a lost answer is
                # RetryLater, not InDoubt.
                response = self._request(
                    "POST",
                    "/api/v2/media",
                    may_publish=False,
                    files={"file": (name, handle, mime)},
                    data={"description": item.alt},
                    timeout=http.upload_timeout(os.fstat(handle.fileno()).st_size),
                )
        except OSError as exc:
            raise Rejected(f"cannot read {name}: {exc.strerror}") from None
        media = _json(response)
        if not isinstance(media, Mapping) or not media.get("id"):
            raise RetryLater(f"{self.host} answered the upload of {item.path.name} without an id")
        media_id = str(media["id"])
        if uploads is not None:
            uploads.keep(sha, media_id)  # before the wait: a stop while it is processed reuses it
        if response.status_code == 202 or not media.get("url"):
            self._wait_until_processed(media_id, item.path.name)
        return media_id

    def _still_there(self, media_id: str | None) -> str | None:
        """`media_id` if the instance still holds it unattached (processed or processing), else None."""
        if media_id is None:
            return None
        path = f"/api/v1/media/{quote(media_id, safe='')}"
        response = http.send(self._http, "GET", self._base + path, may_publish=False, allow_redirects=False)
        if response.status_code == 404:  # expired, or attached to a status by an attempt that went out
            return None
        return media_id if response.status_code in (200, 206, 422) else None

    def _wait_until_processed(self, media_id: str, name: str) -> None:
        deadline = time.monotonic() + self.media_timeout
        delay = _POLL_FIRST
        while True:
            path = f"/api/v1/media/{quote(media_id, safe='')}"
            response = http.send(self._http, "GET", self._base + path, may_publish=False, allow_redirects=False)
            if response.status_code == 422:  # docs: the instance could not process the file
                why = self._error_text(response)
                raise Rejected(f"{why} ({name} could not be processed; export it again, e.g. as H.264 .mp4)")
            response = self._checked(response, may_publish=False)
            media = _json(response) if response.status_code == 200 else None
            if isinstance(media, Mapping) and media.get("url"):
                return
            if time.monotonic() + delay > deadline:
                raise RetryLater(f"{self.host} is still processing {name} after {self.media_timeout:g} s")
            log.debug("mastodon: %s still processing %s", self.host, name)
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    # -- the one place where HTTP answers become errors --------------------------------------

    def _request(self, method: str, path: str, *, may_publish: bool = False, **kwargs: Any) -> requests.Response:
        # A redirected POST would be replayed as a GET by requests: never follow, say so instead.
        kwargs.setdefault("allow_redirects", method == "GET")
        url = self._base + path
        response = http.send(self._http, method, url, may_publish=may_publish, **kwargs)
        return self._checked(response, may_publish=may_publish)

    def _checked(self, response: requests.Response, *, may_publish: bool) -> requests.Response:
        """`response` if 2xx; else RetryLater for 429 and 5xx, Rejected for the rest."""
        status = response.status_code
        if 200 <= status < 300:
            return response
        if 300 <= status < 400:
            target = self._scrub(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"{self.host} redirects to {target}: set `instance` to that address")
        message = self._error_text(response)
        if status == 429:
            raise RetryLater(message, after=http.retry_after(response))
        if status >= 500:
            # X-RateLimit-Reset is on every answer; only Retry-After speaks about an outage.
            after = http.retry_after(response) if "Retry-After" in response.headers else None
            raise RetryLater(message, after=after)
        raise Rejected(message)

    def _error_text(self, response: requests.Response) -> str:
        """Mastodon's own words ({"error": ...}), secrets blanked before shortening."""
        body = _json(response)
        text = None
        if isinstance(body, Mapping):
            parts = [body.get("error"), body.get("error_description")]
            text = ": ".join(part for part in parts if isinstance(part, str) and part) or None
        if text is None:
            text = response.text.strip() or response.reason or ""
        return f"{self.host}: HTTP {response.status_code}: {self._scrub(text)}"[:500]

    def _scrub(self, text: str) -> str:
        return redact(text).replace(self._token, MASK)


def _parse_instance(config: Any, offline_limit: int) -> _Instance:
    configuration = config.get("configuration") if isinstance(config, Mapping) else None
    configuration = configuration if isinstance(configuration, Mapping) else {}
    statuses = configuration.get("statuses") or {}
    media = configuration.get("media_attachments") or {}

    def number(section: Mapping[str, Any], key: str) -> int | None:
        value = section.get(key)
        return value if isinstance(value, int) and value > 0 else None

    return _Instance(
        max_characters=number(statuses, "max_characters") or offline_limit,
        max_media=number(statuses, "max_media_attachments") or MEDIA.max_items or 4,
        image_size_limit=number(media, "image_size_limit"),
        description_limit=number(media, "description_limit"),
        image_matrix_limit=number(media, "image_matrix_limit"),
        video_size_limit=number(media, "video_size_limit"),
        video_frame_rate_limit=number(media, "video_frame_rate_limit"),
        video_matrix_limit=number(media, "video_matrix_limit"),
    )


def _video_over(item: MediaItem, size: int, instance: _Instance) -> list[str]:
    """How a video is over what this instance says it takes (configuration.media_attachments)."""
    found, facts = [], item.video
    if instance.video_size_limit and size > instance.video_size_limit:
        found.append(
            f"{item.path.name} is {size} bytes, over this instance's video limit of {instance.video_size_limit}"
        )
    if facts is not None and instance.video_frame_rate_limit and (facts.fps or 0) > instance.video_frame_rate_limit:
        found.append(f"{item.path.name} has {facts.fps:g} frames per second, over {instance.video_frame_rate_limit}")
    if facts is not None and instance.video_matrix_limit and facts.width * facts.height > instance.video_matrix_limit:
        found.append(f"{item.path.name} is {facts.width}×{facts.height}, over {instance.video_matrix_limit} pixels")
    return found


def _budget(response: requests.Response) -> Budget | None:
    found = http.budget(response)
    return Budget(*found) if found else None


def _count(status: Mapping[str, Any], key: str) -> int | None:
    value = status.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Text(HTMLParser):
    """A status's HTML `content` as plain text: paragraphs and line breaks become new lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or (tag == "p" and self.parts):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain(content: str) -> str:
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _header_safe(key: str) -> str:
    """`key` if it can travel in a header; else a stable digest of it (same key, same digest)."""
    if key.isascii() and key.isprintable() and 0 < len(key) <= 200:
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
