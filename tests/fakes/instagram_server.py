"""A fake Instagram API (Instagram API with Instagram Login, "Content publishing"), and a static file host for
the campaign's `media_url`.

As documented (developers.facebook.com/docs/instagram-platform: content-publishing, ig-user/media,
ig-user/media_publish, ig-container, ig-user/content_publishing_limit, refresh_access_token, error codes):
- POST /{version}/{user_id}/media            image_url (+ alt_text), or media_type=REELS|VIDEO + video_url, or
                                             media_type=CAROUSEL + children (ids); is_carousel_item; caption
                                             → {"id": container_id}. The media are fetched from their URLs
                                             here and then (a URL that cannot be fetched makes the container
                                             ERROR, as Instagram does)
- GET  /{version}/{container_id}?fields=status_code,status
                                             IN_PROGRESS for `processing_polls` looks, then FINISHED; EXPIRED
                                             once `expire` is called; PUBLISHED after media_publish
- POST /{version}/{user_id}/media_publish    creation_id → {"id": media_id}; a container not FINISHED is
                                             error 9007/2207027 ("not ready"), one PUBLISHED or EXPIRED an error
- GET  /{version}/{user_id}/content_publishing_limit?fields=quota_usage,config
                                             {"data": [{"quota_usage", "config": {"quota_total": 100,
                                             "quota_duration": 86400}}]}: the posts of the last 24 hours
                                             (+ `quota_used`)
- GET  /{version}/{media_id}?fields=permalink, GET /{version}/{user_id}/media (newest first)
- GET  /{version}/me?fields=user_id,username
- GET  /refresh_access_token?grant_type=ig_refresh_token   {"access_token", "token_type", "expires_in"};
                                             refused while `token_too_young` (Instagram: a token must be 24 h old)
- the token is `access_token` (query or body); a wrong one is code 190, its message echoing the token (unlike
  Instagram), so tests prove the adapter never passes it on. Errors: {"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}; use `meta_error` with `fail` (FakeServer) for the limit, spam, throttling.
"""

from __future__ import annotations

import itertools
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fakes import images
from tests.fakes.server import FakeServer, Reply, Request

TOKEN = "fake-instagram-token-sentinel"
USER_ID = "17841400000000001"
USERNAME = "weektegenkindermishandeling"
VERSION = "v25.0"


def meta_error(code: int, message: str, *, subcode: int | None = None) -> dict[str, Any]:
    """An error body as Instagram's error-codes page shows it."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return {"error": error}


@dataclass
class Container:
    id: str
    fields: dict[str, str]
    status: str = "IN_PROGRESS"
    polls_left: int = 0
    fetched: list[bytes] = field(default_factory=list)  # the bytes fetched from its media URLs
    error: str = ""


@dataclass
class Published:
    id: str
    container: str
    caption: str
    at: datetime
    children: list[str] = field(default_factory=list)

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/p/{self.id}/"


class FakeInstagram(FakeServer):
    def __init__(self, processing_polls: int = 0, quota_total: int = 100) -> None:
        super().__init__()
        self.processing_polls = processing_polls
        self.quota_total, self.quota_used = quota_total, 0
        self.tokens = {TOKEN}
        self.token_too_young = False
        self.refreshed: list[str] = []
        self.containers: dict[str, Container] = {}
        self.posts: list[Published] = []  # in the order published
        self._ids = itertools.count(17_900_000_000_000_001)

    # -- the scene ---------------------------------------------------------------------------------

    def expire(self, container_id: str | None = None) -> None:
        """A container (every unpublished one) passes its 24 hours."""
        with self.lock:
            for made in self.containers.values():
                if (container_id is None or made.id == container_id) and made.status != "PUBLISHED":
                    made.status = "EXPIRED"

    def finish_processing(self) -> None:
        with self.lock:
            for made in self.containers.values():
                made.polls_left = 0

    def top_containers(self) -> list[Container]:
        """Containers that are posts (not a carousel's items)."""
        with self.lock:
            return [c for c in self.containers.values() if c.fields.get("is_carousel_item") != "true"]

    # -- the API ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        token = request.value("access_token")
        if request.path == "/refresh_access_token":
            return self._refresh(token)
        if token not in self.tokens:
            return Reply(400, meta_error(190, f"Invalid OAuth access token - Cannot parse access token {token}"))
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != VERSION:
            return Reply(404, meta_error(100, "Unknown path components"))
        path = parts[1:]
        with self.lock:
            if path == ["me"]:
                return Reply(200, {"user_id": USER_ID, "username": USERNAME, "id": USER_ID})
            if path == [USER_ID, "media"] and request.method == "POST":
                return self._create(request)
            if path == [USER_ID, "media"]:
                listed = [
                    {"id": p.id, "caption": p.caption, "permalink": p.permalink, "timestamp": p.at.isoformat()}
                    for p in reversed(self.posts)
                ]
                return Reply(200, {"data": listed[: int(request.value("limit") or 25)]})
            if path == [USER_ID, "media_publish"] and request.method == "POST":
                return self._publish(request.value("creation_id") or "")
            if path == [USER_ID, "content_publishing_limit"]:
                day_ago = datetime.now(UTC) - timedelta(days=1)
                used = self.quota_used + sum(1 for p in self.posts if p.at > day_ago)
                config = {"quota_total": self.quota_total, "quota_duration": 86400}
                return Reply(200, {"data": [{"quota_usage": used, "config": config}]})
            if len(path) == 1 and path[0] in self.containers:
                made = self.containers[path[0]]
                if made.status == "IN_PROGRESS":
                    if made.polls_left <= 0:
                        made.status = "FINISHED"
                    else:
                        made.polls_left -= 1
                return Reply(200, {"id": made.id, "status_code": made.status, "status": made.error or made.status})
            if len(path) == 1 and (found := self._post(path[0])) is not None:
                return Reply(200, {"id": found.id, "permalink": found.permalink})
        return Reply(400, meta_error(100, "Unsupported get request. Object does not exist", subcode=33))

    def _create(self, request: Request) -> Reply:
        fields = {name: values[0] for name, values in request.form.items() if name != "access_token"}
        made = Container(str(next(self._ids)), fields, polls_left=self.processing_polls)
        kind = fields.get("media_type", "IMAGE")
        if kind == "CAROUSEL":
            children = fields.get("children", "").split(",")
            if not 2 <= len(children) <= 10 or any(
                c not in self.containers or self.containers[c].status != "FINISHED" for c in children
            ):
                return Reply(400, meta_error(100, "Invalid children: 2 to 10 FINISHED carousel items"))
        else:
            url = fields.get("video_url" if kind in ("REELS", "VIDEO") else "image_url", "")
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    data = answer.read()
                made.fetched.append(data)
                if kind == "IMAGE":  # what Instagram would show: no trace of where the photo was taken
                    self.images.append(data)
                    self.image_traces += [f"{url}: {problem}" for problem in images.traces(data)]
            except (urllib.error.URLError, ValueError, OSError) as exc:
                made.status, made.error = (
                    "ERROR",
                    f"Error: media could not be fetched from URI ({exc.__class__.__name__})",
                )
        self.containers[made.id] = made
        return Reply(200, {"id": made.id})

    def _publish(self, creation_id: str) -> Reply:
        made = self.containers.get(creation_id)
        if made is None:
            return Reply(400, meta_error(100, "Unsupported post request. Object does not exist", subcode=33))
        if made.status == "IN_PROGRESS":
            return Reply(400, meta_error(9007, "Media ID is not available", subcode=2207027))
        if made.status != "FINISHED":
            return Reply(400, meta_error(100, f"The container is {made.status} and cannot be published"))
        made.status = "PUBLISHED"
        children = made.fields.get("children", "").split(",") if made.fields.get("children") else []
        post = Published(str(next(self._ids)), made.id, made.fields.get("caption", ""), datetime.now(UTC), children)
        self.posts.append(post)
        return Reply(200, {"id": post.id})

    def _post(self, media_id: str) -> Published | None:
        return next((p for p in self.posts if p.id == media_id), None)

    def _refresh(self, token: str | None) -> Reply:
        if token not in self.tokens:
            return Reply(400, meta_error(190, f"Invalid OAuth access token - Cannot parse access token {token}"))
        if self.token_too_young:
            return Reply(400, meta_error(100, "Session has not been active long enough to refresh"))
        fresh = f"refreshed-{secrets.token_urlsafe(12)}"
        with self.lock:
            self.tokens.add(fresh)
            self.refreshed.append(fresh)
        return Reply(200, {"access_token": fresh, "token_type": "bearer", "expires_in": 5_184_000})


class MediaHost(FakeServer):
    """The campaign's public address: serves the files of a folder (what `campaign media export` wrote) by
    name; `replace` serves other bytes under a name (an old file left on the web server)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.replace: dict[str, bytes] = {}

    @property
    def media_url(self) -> str:
        return self.url + "/campagne/"

    def handle(self, request: Request) -> Reply:
        name = request.path.removeprefix("/campagne/")
        if "/" in name or not name:
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        if name in self.replace:
            return Reply(200, self.replace[name], {"Content-Type": "application/octet-stream"})
        path = self.folder / name
        if not path.is_file():
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        return Reply(200, path.read_bytes(), {"Content-Type": "application/octet-stream"})
