"""The Bluesky adapter: posts through a PDS's XRPC API with an app password.

Settings: `handle`, `app_password` (a ${SECRET} reference), `pds` (default https://bsky.social);
for video `video_service` and `video_timeout` (scheduler.channels.bluesky_video).

Session: one `com.atproto.server.createSession` per channel object, reused for every call; when
the PDS answers `ExpiredToken` the session is renewed with `refreshSession`, and only if that is
refused does the adapter log in again. Logins are limited (30 per 5 minutes per account), so a
429 on login is RetryLater with the `ratelimit-reset` time, never a loop of logins.

Exactly once: the record key of a post is derived from the publication key (`tid_for_key`, a
valid TID as `app.bsky.feed.post` requires). A repository holds at most one record per
collection and key, so sending the same key again cannot make a second post: the PDS refuses the
create (today with a bare HTTP 500, later with an explicit error) and the adapter answers with the
receipt of the record that is already there. That holds for as long as the record exists, hence
`idempotent_for = math.inf`; only a post someone deleted by hand can come back. For the same
reason `lookup(key)` can say for certain whether the post is out (`getRecord` on that key).

Errors: 429 and 5xx are RetryLater (with `ratelimit-reset`/Retry-After), other 4xx Rejected with
the XRPC `error: message`, a connection lost after createRecord was sent is InDoubt.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NoReturn

import requests

from scheduler.channels import bluesky_richtext as richtext
from scheduler.channels import http
from scheduler.channels._secretguard import detached, guard_urllib3_logs
from scheduler.channels.base import IMAGE_TYPES, Budget, Channel, Counts, Receipt, Reply
from scheduler.channels.bluesky_replies import walk_replies
from scheduler.channels.bluesky_video import VIDEO, BlueskyVideo
from scheduler.channels.http import check_status, error_message, retry_after, send, session
from scheduler.channels.images import fitted
from scheduler.channels.tokens import TokenHealth
from scheduler.content.text import graphemes, urls
from scheduler.errors import ChannelError, ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost
from scheduler.secrets import remember

log = logging.getLogger(__name__)

DEFAULT_PDS = "https://bsky.social"
POST = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images: maxSize of each image blob
#: 2000 px is the longest side the Bluesky app uploads; the app view serves images as JPEG, so no alpha.
MEDIA = MediaRules(max_items=MAX_IMAGES, max_bytes=MAX_IMAGE_BYTES, max_side=2000, transparency=False)
TEXT = LengthRule("graphemes", 300, graphemes, max_bytes=3000)  # app.bsky.feed.post: text maxGraphemes, maxLength
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


@dataclass(frozen=True)
class _Session:
    access: str
    refresh: str
    did: str
    handle: str


class BlueskyChannel(Channel):
    """One Bluesky account."""

    type_name = "bluesky"
    idempotent_for = math.inf  # the record key is derived from the key: see the module docstring
    can_lookup = True
    has_counts = True  # app.bsky.feed.getPosts: likes, reposts, replies, quotes
    counts_batch = 25  # getPosts takes at most 25 uris
    has_replies = True  # app.bsky.feed.getPostThread

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.handle = str(settings.get("handle") or "").strip().lstrip("@")
        self._password = str(settings.get("app_password") or "")
        self.pds = str(settings.get("pds") or DEFAULT_PDS).strip().rstrip("/")
        if not self.handle:
            raise ConfigError(f"channel {name}: a bluesky channel needs `handle`")
        if not self._password:
            raise ConfigError(f"channel {name}: a bluesky channel needs `app_password: ${{NAME}}`")
        if not self.pds.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `pds` must be an http(s) URL, not {self.pds!r}")
        remember(self._password)  # also when the settings were not resolved through secrets
        guard_urllib3_logs()
        self._http = session()
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._budget: Budget | None = None
        self._video = BlueskyVideo(self, settings)

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=TEXT, media=replace(MEDIA, video=VIDEO), replies=True)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        rkey = richtext.tid_for_key(key)
        problems = self.limits(self.settings).length.problems(post.text)
        if len(post.media) > MAX_IMAGES:
            problems.append(f"{len(post.media)} images, Bluesky takes at most {MAX_IMAGES}")
        if problems:
            raise Rejected("; ".join(problems))
        images = [_read_image(item) for item in post.media if not item.is_video]

        record: dict[str, Any] = {"$type": POST, "text": post.text, "createdAt": _now()}
        if post.language:
            record["langs"] = [post.language]
        found = richtext.facets(post.text, self._resolve_handle)
        if found:
            record["facets"] = found
        embed = self._embed(post, images, key)
        if embed is not None:
            record["embed"] = embed
        if reply_to is not None:
            record["reply"] = _reply(reply_to)

        did = self._ensure_session().did
        body = {"repo": did, "collection": POST, "rkey": rkey, "record": record}
        try:
            response = self._call("POST", "com.atproto.repo.createRecord", json=body, may_publish=True)
        except InDoubt as exc:
            raise InDoubt(f"createRecord {rkey}: {exc.reason}") from None
        if _ok(response):
            uri = _field(response, "uri") or f"at://{did}/{POST}/{rkey}"
            log.info("published %s on %s as %s", post.post, self.name, uri)
            self._video.forget(key)
            return Receipt(url=self._post_url(rkey), remote_id=uri, cid=_field(response, "cid"))
        if _may_already_exist(response):
            existing = self._get_post(rkey)
            if existing is not None:
                log.info("%s was already on %s as %s", post.post, self.name, existing.remote_id)
                self._video.forget(key)
                return existing
        self._video.refused(key, record, response)
        _fail(response)

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        rkey = richtext.tid_for_key(key)
        try:
            return self._get_post(rkey)
        except (Rejected, InDoubt) as exc:
            # Only "out", "certainly not out" or "cannot say now": a refused login says nothing
            # about whether the post is out.
            raise RetryLater(f"cannot look up {rkey}: {exc.reason}") from None

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        uris = [r.remote_id for r in published if r.remote_id][: self.counts_batch]
        if not uris:
            return {}
        response = self._call("GET", "app.bsky.feed.getPosts", params={"uris": uris})
        self._budget = _budget(response)
        if not _ok(response):
            _fail(response)
        found = {}
        for view in _field(response, "posts", list) or []:  # a deleted post is left out of the answer
            if isinstance(view, Mapping) and isinstance(view.get("uri"), str):
                found[view["uri"]] = Counts(
                    likes=_number(view, "likeCount"),
                    reposts=_number(view, "repostCount"),
                    replies=_number(view, "replyCount"),
                    quotes=_number(view, "quoteCount"),
                )
        return found

    def replies_to(self, published: Receipt) -> list[Reply]:
        if not published.remote_id:
            return []
        params = {"uri": published.remote_id, "depth": 20, "parentHeight": 0}
        response = self._call("GET", "app.bsky.feed.getPostThread", params=params)
        self._budget = _budget(response)
        if not _ok(response):
            if _xrpc_parts(response)[0] == "NotFound":
                return []
            _fail(response)
        thread = _field(response, "thread", dict) or {}
        mine = self._ensure_session().did
        found: list[Reply] = []
        walk_replies(thread.get("replies"), mine, found)
        return sorted(found, key=lambda reply: reply.at)

    def read_budget(self) -> Budget | None:
        return self._budget

    def check(self) -> str:
        with self._lock:
            current = self._session
        if current is None:
            current = self._ensure_session()
        else:
            response = self._call("GET", "com.atproto.server.getSession")
            if not _ok(response):
                _fail(response)
            current = self._ensure_session()
        return f"logged in as {current.handle} on {self.pds}"

    def token_health(self) -> TokenHealth:
        renew = f"make a new app password for @{self.handle} (Settings → Privacy and security → App passwords)"
        note = "Bluesky app passwords have no end date (the sessions made from them are renewed by themselves)"
        return TokenHealth(posts_as=f"@{self.handle} on {self.pds}", renew=renew, never=True, note=note)

    def close(self) -> None:
        self._http.close()
        self._video.close()

    # -- records ---------------------------------------------------------------------------

    def _get_post(self, rkey: str) -> Receipt | None:
        did = self._ensure_session().did
        params = {"repo": did, "collection": POST, "rkey": rkey}
        response = self._call("GET", "com.atproto.repo.getRecord", params=params)
        if _ok(response):
            uri = _field(response, "uri") or f"at://{did}/{POST}/{rkey}"
            return Receipt(url=self._post_url(rkey), remote_id=uri, cid=_field(response, "cid"))
        name, message = _xrpc_parts(response)
        # Older PDS versions say InvalidRequest "Could not locate record" for RecordNotFound.
        if name == "RecordNotFound" or (response.status_code == 400 and "could not locate record" in message.lower()):
            return None
        raise RetryLater(f"cannot tell whether {rkey} exists: {_message(response)}", retry_after(response))

    def _embed(
        self, post: RenderedPost, images: list[tuple[bytes, str, str, dict[str, int]]], key: str
    ) -> dict[str, Any] | None:
        if videos := [item for item in post.media if item.is_video]:
            return self._video.embed(videos[0], key)  # validate allows one video, alone
        if images:
            return {
                "$type": "app.bsky.embed.images",
                "images": [
                    {"alt": alt, "image": self._upload(data, mime), "aspectRatio": aspect}
                    for data, mime, alt, aspect in images
                ],
            }
        links = urls(post.text)
        if not links:
            return None
        card = post.card
        return {
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": links[0][2],
                "title": (card.title if card else None) or "",
                "description": (card.description if card else None) or "",
            },
        }

    def _upload(self, data: bytes, mime: str) -> dict[str, Any]:
        response = self._call("POST", "com.atproto.repo.uploadBlob", data=data, headers={"Content-Type": mime})
        if not _ok(response):
            _fail(response)
        blob: dict[str, Any] | None = _field(response, "blob", dict)
        if blob is None:
            raise RetryLater("the PDS answered uploadBlob without a blob")
        return blob

    def _resolve_handle(self, handle: str) -> str | None:
        """The DID of `handle`, or None if it does not resolve (the mention gets no facet)."""
        current = self._ensure_session()
        if handle.lower() == current.handle.lower():
            return current.did
        response = self._send("GET", "com.atproto.identity.resolveHandle", params={"handle": handle})
        if _ok(response):
            did = _field(response, "did")
            return did if did and did.startswith("did:") else None
        if response.status_code == 429 or response.status_code >= 500:
            # Nothing is out yet: better later with a working mention than now without.
            raise RetryLater(f"cannot resolve @{handle}: {_message(response)}", retry_after(response))
        return None

    def _post_url(self, rkey: str) -> str:
        current = self._session
        handle = current.handle if current is not None else self.handle
        return f"https://bsky.app/profile/{handle}/post/{rkey}"

    # -- session ---------------------------------------------------------------------------

    def _call(self, method: str, nsid: str, *, may_publish: bool = False, **kwargs: Any) -> requests.Response:
        """An authenticated XRPC call, renewing the session once if the token has expired.

        A request refused for its token was not carried out, so sending it again is safe.
        """
        current = self._ensure_session()
        response = self._send(method, nsid, token=current.access, may_publish=may_publish, **kwargs)
        if _token_refused(response):
            current = self._renew(current)
            response = self._send(method, nsid, token=current.access, may_publish=may_publish, **kwargs)
            if _token_refused(response):
                raise RetryLater(f"the PDS refused a renewed session: {_message(response)}")
        return response

    def _ensure_session(self) -> _Session:
        with self._lock:  # held while logging in: concurrent posts share one login
            if self._session is None:
                self._session = self._login()
            return self._session

    def _renew(self, stale: _Session) -> _Session:
        with self._lock:
            if self._session is not None and self._session is not stale:
                return self._session  # another thread renewed it meanwhile
            self._session = self._refresh(stale) or self._login()
            return self._session

    def _refresh(self, stale: _Session) -> _Session | None:
        response = self._send("POST", "com.atproto.server.refreshSession", token=stale.refresh)
        if _ok(response):
            log.debug("session of %s on %s refreshed", self.handle, self.pds)
            return self._store(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryLater(f"session refresh failed on {self.pds}: {_message(response)}", retry_after(response))
        log.info(
            "refresh of the %s session refused (%s); logging in again",
            self.handle,
            _message(response),
        )
        return None

    def _login(self) -> _Session:
        body = {"identifier": self.handle, "password": self._password}
        response = self._send("POST", "com.atproto.server.createSession", json=body)
        if _ok(response):
            log.info("logged in as %s on %s", self.handle, self.pds)
            return self._store(response)
        status, detail = response.status_code, _message(response)
        where = f"{self.handle} on {self.pds}"
        if status == 429:
            raise RetryLater(
                f"login limit reached for {where} (30 per 5 minutes): {detail}",
                retry_after(response),
            )
        if status >= 500:
            raise RetryLater(f"login failed for {where}: {detail}", retry_after(response))
        name, _ = _xrpc_parts(response)
        if status == 401 and name in ("", "AuthenticationRequired", "InvalidPassword"):
            raise Rejected(f"app password rejected for {where}: {detail}")
        raise Rejected(f"login refused for {where}: {detail}")

    def _store(self, response: requests.Response) -> _Session:
        access, refresh = _field(response, "accessJwt"), _field(response, "refreshJwt")
        did = _field(response, "did")
        if not (access and refresh and did):
            raise RetryLater(f"{self.pds} answered the login without a session")
        for token in (access, refresh):
            remember(token)  # a server that echoes the Authorization header must not leak them
        handle = _field(response, "handle") or self.handle
        return _Session(access=access, refresh=refresh, did=did, handle=handle)

    def _send(self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        """The one place where requests' errors become channel errors (via http.send)."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("may_publish", False)
        url = f"{self.pds}/xrpc/{nsid}"
        try:
            return send(self._http, method, url, headers=headers, allow_redirects=False, **kwargs)
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"PDS unreachable ({self.pds}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        raise detached(error)


def _budget(response: requests.Response) -> Budget | None:
    found = http.budget(response)
    return Budget(*found) if found else None


def _number(view: Mapping[str, Any], key: str) -> int | None:
    value = view.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_image(item: MediaItem) -> tuple[bytes, str, str, dict[str, int]]:
    """(bytes, MIME type, alt, aspect ratio) of an image's rendition for Bluesky, checked before it is sent."""
    if IMAGE_TYPES.get(item.path.suffix.lower()) is None:
        raise Rejected(f"{item.path.name}: Bluesky takes JPEG, PNG, GIF or WebP images")
    made = fitted(item, MEDIA, "Bluesky")
    try:
        data = made.read_bytes()
    except OSError as exc:
        raise Rejected(f"cannot read the rendition of {item.path.name}: {exc.strerror}") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise Rejected(f"{item.path.name} is {len(data):,} bytes, over Bluesky's {MAX_IMAGE_BYTES:,}")
    return data, made.mime, item.alt, {"width": made.width, "height": made.height}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ok(response: requests.Response) -> bool:
    return 200 <= response.status_code < 300


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _field(response: requests.Response, name: str, kind: type = str) -> Any:
    """`name` from a JSON object body if it is a `kind`, else None."""
    body = _json(response)
    value = body.get(name) if isinstance(body, Mapping) else None
    return value if isinstance(value, kind) else None


def _xrpc_parts(response: requests.Response) -> tuple[str, str]:
    """(error, message) of an XRPC error body; empty strings where missing."""
    body = _json(response)
    if not isinstance(body, Mapping):
        return "", ""
    name, message = body.get("error"), body.get("message")
    return (name if isinstance(name, str) else "", message if isinstance(message, str) else "")


def _xrpc_text(body: Any) -> str | None:
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        message = body.get("message")
        return f"{body['error']}: {message}" if isinstance(message, str) and message else body["error"]
    return None


def _message(response: requests.Response) -> str:
    """The PDS's words for a failed response, redacted (http.error_message)."""
    return error_message(response, _xrpc_text)


def _token_refused(response: requests.Response) -> bool:
    name, _ = _xrpc_parts(response)
    return response.status_code == 401 or (response.status_code == 400 and name in _TOKEN_ERRORS)


def _may_already_exist(response: requests.Response) -> bool:
    """Whether a failed createRecord may mean "that record key is taken".

    The reference PDS answers a taken key with HTTP 500; newer ones with an explicit error.
    """
    status = response.status_code
    if status == 429:
        return False
    if status >= 500 or status == 409:
        return True
    name, message = _xrpc_parts(response)
    text = f"{name} {message}".lower()
    return "exist" in text or "duplicate" in text


def _fail(response: requests.Response) -> NoReturn:
    """Raise the channel error for a failed XRPC response."""
    check_status(response, _xrpc_text)
    raise Rejected(_message(response))  # check_status returns only for 2xx, never passed here


def _reply(reply_to: Receipt) -> dict[str, Any]:
    """A post's `reply`: strong references (uri and cid) to the thread's first post and to the one it answers."""
    if not (reply_to.remote_id and reply_to.cid):
        raise Rejected("cannot reply: the post this part answers has no uri and cid on record")
    root = reply_to.root or reply_to
    if not (root.remote_id and root.cid):
        raise Rejected("cannot reply: the thread's first post has no uri and cid on record")
    return {
        "root": {"uri": root.remote_id, "cid": root.cid},
        "parent": {"uri": reply_to.remote_id, "cid": reply_to.cid},
    }
