"""A fake Threads API for one account: the parts that publishing a campaign touches, and a web server for
the campaign's public media (`media_url`).

As documented (developers.facebook.com/docs/threads: "Posts", "Reply management", "Overview" rate limits,
"Troubleshooting", "Long-lived tokens", "Debug access token"):
- POST /v1.0/{user_id}/threads               media_type TEXT | IMAGE | VIDEO | CAROUSEL, text, image_url,
                                             video_url, alt_text, reply_to_id, is_carousel_item, children
                                             (comma-separated ids) → {"id": container_id}
- GET  /v1.0/{container_id}?fields=status,error_message   IN_PROGRESS for `processing_polls` looks, then
                                             FINISHED; ERROR with error_message; EXPIRED; PUBLISHED
- POST /v1.0/{user_id}/threads_publish       creation_id → {"id": media_id}; only a FINISHED container;
                                             the publishing limit as error 9/2207042; `spam` as 4/2207051
- GET  /v1.0/{media_id}?fields=permalink     {"id", "permalink"}
- GET  /v1.0/{user_id}/threads | /replies    the account's posts or replies, newest first: fields, since
                                             (unix), limit, after (cursor); `paging.next` while more follow
- GET  /v1.0/{user_id}/threads_publishing_limit?fields=quota_usage,config,reply_quota_usage,reply_config
                                             {"data": [{...}]}; posts and replies in the last 24 hours
- GET  /v1.0/me?fields=id,username
- GET  /v1.0/debug_token?input_token=        {"data": {type, application, expires_at, is_valid, issued_at,
                                             scopes, user_id}}
- GET  /refresh_access_token?grant_type=th_refresh_token   {"access_token", "token_type", "expires_in"};
                                             a token younger than 24 hours is refused
- the token is the `access_token` parameter (body or query); a wrong one is code 190
- errors are {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}
- GET  /media/{name}                         the public media: whatever `media` holds under that name

Unlike Threads, a refused token is echoed back in the error message, so tests can prove the adapter never
passes it on. `expire(container)` and `fail_container(container, message)` set the scene.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

TOKEN = "fake-threads-token"
USER_ID = "17841400000000001"
USERNAME = "weektegenkindermishandeling"


def threads_error(code: int, message: str, *, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


class FakeThreads(FakeServer):
    """One account (`user_id`, `username`) whose long-lived token is `token`."""

    def __init__(self, token: str = TOKEN, *, user_id: str = USER_ID, processing_polls: int = 0) -> None:
        super().__init__()
        self.token, self.user_id, self.username = token, user_id, USERNAME
        self.processing_polls = processing_polls  # looks answered IN_PROGRESS before FINISHED
        self.containers: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []  # published, oldest first (posts and replies)
        self.media: dict[str, bytes] = {}  # name under /media/ → the bytes served there
        self.quota_total, self.reply_quota_total = 250, 1000
        self.quota_used_before = 0  # posts published in the window before this server started
        self.spam = False  # the account is restricted as spam: threads_publish answers 4/2207051
        self.expires_at = 0  # what debug_token says (unix; 0: not said)
        self.token_age = 2 * 86400.0  # seconds since the token was issued (refresh needs 24 hours)
        self.refreshed: list[str] = []
        self._ids = itertools.count(18_000_000_000_000_001)

    # -- scenes ----------------------------------------------------------------------------------

    def expire(self, container: str) -> None:
        with self.lock:
            self.containers[container]["status"] = "EXPIRED"

    def fail_container(self, container: str, message: str = "FAILED_DOWNLOADING_VIDEO") -> None:
        with self.lock:
            self.containers[container].update(status="ERROR", error_message=message)

    def finish_processing(self) -> None:
        with self.lock:
            for container in self.containers.values():
                container["polls_left"] = 0

    def created(self) -> list[dict[str, Any]]:
        """The containers made, in order, without carousel items."""
        with self.lock:
            return [c for c in self.containers.values() if not c.get("is_carousel_item")]

    # -- the API -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        if parts[0] == "media" and len(parts) == 2 and request.method == "GET":
            data = self.media.get(parts[1])
            return Reply(200, data, {"Content-Type": "application/octet-stream"}) if data is not None else Reply(404)
        given = request.value("access_token")
        if given != self.token:
            message = f"Error validating access token: Session has expired. (token: {given})"
            return Reply(400, threads_error(190, message, subcode=463))
        if parts == ["refresh_access_token"] and request.method == "GET":
            return self._refresh(request)
        if len(parts) < 2 or parts[0] != "v1.0":
            return Reply(400, threads_error(2500, "Unknown path components"))
        node, edge = parts[1], (parts[2] if len(parts) > 2 else None)
        with self.lock:
            if request.method == "GET" and node == "me" and edge is None:
                return Reply(200, {"id": self.user_id, "username": self.username})
            if request.method == "GET" and node == "debug_token":
                return self._debug_token(request)
            if node == self.user_id:
                return self._user_edge(request, edge)
            if request.method == "GET" and edge is None and node in self.containers:
                return self._status(node)
            if request.method == "GET" and edge is None and (post := self._post(node)) is not None:
                return Reply(200, {"id": post["id"], "permalink": post["permalink"]})
        message = f"Unsupported get request. Object with ID '{node}' does not exist"
        return Reply(400, threads_error(100, message, subcode=33))

    def _user_edge(self, request: Request, edge: str | None) -> Reply:
        route = (request.method, edge)
        if route == ("POST", "threads"):
            return self._create(request)
        if route == ("POST", "threads_publish"):
            return self._publish(request)
        if route == ("GET", "threads_publishing_limit"):
            return self._limit(request)
        if route in (("GET", "threads"), ("GET", "replies")):
            return self._list(request, replies=edge == "replies")
        return Reply(400, threads_error(100, "Unsupported request"))

    def _create(self, request: Request) -> Reply:
        kind = request.value("media_type") or ""
        text = request.value("text") or ""
        if kind not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
            return Reply(400, threads_error(100, "Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}"))
        if kind == "TEXT" and not text:
            return Reply(400, threads_error(100, "Param text is required for a TEXT container"))
        if (kind == "IMAGE" and not request.value("image_url")) or (kind == "VIDEO" and not request.value("video_url")):
            return Reply(400, threads_error(100, f"A {kind} container needs its URL"))
        children = [c for c in (request.value("children") or "").split(",") if c]
        if kind == "CAROUSEL" and not 2 <= len(children) <= 20:
            return Reply(400, threads_error(100, "A carousel has 2 to 20 items"))
        reply_to = request.value("reply_to_id")
        if reply_to and self._post(reply_to) is None:
            return Reply(400, threads_error(100, f"reply_to_id {reply_to} does not exist", subcode=33))
        container = str(next(self._ids))
        self.containers[container] = {
            "id": container,
            "media_type": kind,
            "text": text,
            "image_url": request.value("image_url"),
            "video_url": request.value("video_url"),
            "alt_text": request.value("alt_text"),
            "reply_to_id": reply_to,
            "children": children,
            "is_carousel_item": request.value("is_carousel_item") == "true",
            "status": "IN_PROGRESS",
            "polls_left": self.processing_polls,
            "error_message": None,
        }
        return Reply(200, {"id": container})

    def _status(self, container: str) -> Reply:
        held = self.containers[container]
        if held["status"] == "IN_PROGRESS":
            if held["polls_left"] > 0:
                held["polls_left"] -= 1
            else:
                held["status"] = "FINISHED"
        body = {"id": container, "status": held["status"]}
        if held["error_message"]:
            body["error_message"] = held["error_message"]
        return Reply(200, body)

    def _used(self, *, replies: bool) -> int:
        window = time.time() - 86400
        mine = [p for p in self.posts if p["at"] >= window and bool(p["reply_to_id"]) == replies]
        return len(mine) + (0 if replies else self.quota_used_before)

    def _limit(self, request: Request) -> Reply:
        asked = set((request.value("fields") or "").split(","))
        entry: dict[str, Any] = {}
        if "quota_usage" in asked:
            entry["quota_usage"] = self._used(replies=False)
        if "config" in asked:
            entry["config"] = {"quota_total": self.quota_total, "quota_duration": 86400}
        if "reply_quota_usage" in asked:
            entry["reply_quota_usage"] = self._used(replies=True)
        if "reply_config" in asked:
            entry["reply_config"] = {"quota_total": self.reply_quota_total, "quota_duration": 86400}
        return Reply(200, {"data": [entry]})

    def _publish(self, request: Request) -> Reply:
        container = request.value("creation_id") or ""
        held = self.containers.get(container)
        if held is None or held["is_carousel_item"]:
            return Reply(400, threads_error(100, f"creation_id {container} does not exist", subcode=33))
        if self.spam:
            return Reply(400, threads_error(4, "This account is restricted from posting (spam)", subcode=2207051))
        reply = bool(held["reply_to_id"])
        if self._used(replies=reply) >= (self.reply_quota_total if reply else self.quota_total):
            return Reply(400, threads_error(9, "Application request limit reached", subcode=2207042))
        if held["status"] == "PUBLISHED":
            return Reply(400, threads_error(100, "The media has already been published", subcode=2207006))
        if held["status"] != "FINISHED":
            return Reply(400, threads_error(24, f"The media is not ready to be published: {held['status']}"))
        media_id = str(next(self._ids))
        held["status"] = "PUBLISHED"
        self.posts.append(
            {
                "id": media_id,
                "container": container,
                "text": held["text"],
                "media_type": held["media_type"],
                "reply_to_id": held["reply_to_id"],
                "children": [self.containers[c] for c in held["children"]],
                "image_url": held["image_url"],
                "video_url": held["video_url"],
                "alt_text": held["alt_text"],
                "permalink": f"https://www.threads.net/@{self.username}/post/{media_id}",
                "at": time.time(),
            }
        )
        return Reply(200, {"id": media_id})

    def _post(self, media_id: str) -> dict[str, Any] | None:
        return next((p for p in self.posts if p["id"] == media_id), None)

    def _list(self, request: Request, *, replies: bool) -> Reply:
        since = float(request.value("since") or 0)
        limit = int(request.value("limit") or 25)
        start = int(request.value("after") or 0)
        mine = [p for p in reversed(self.posts) if bool(p["reply_to_id"]) == replies and p["at"] >= since]
        page = mine[start : start + limit]
        body: dict[str, Any] = {
            "data": [
                {
                    "id": p["id"],
                    "permalink": p["permalink"],
                    "text": p["text"],
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(p["at"])),
                }
                for p in page
            ]
        }
        if start + limit < len(mine):
            body["paging"] = {"cursors": {"after": str(start + limit)}, "next": "more"}
        return Reply(200, body)

    def _debug_token(self, request: Request) -> Reply:
        valid = request.value("input_token") == self.token
        data = {
            "type": "USER",
            "application": "Campagne",
            "expires_at": self.expires_at,
            "is_valid": valid,
            "issued_at": int(time.time() - self.token_age),
            "scopes": ["threads_basic", "threads_content_publish"],
            "user_id": self.user_id,
        }
        return Reply(200, {"data": data})

    def _refresh(self, request: Request) -> Reply:
        if request.value("grant_type") != "th_refresh_token":
            return Reply(400, threads_error(100, "grant_type must be th_refresh_token"))
        if self.token_age < 86400:
            return Reply(400, threads_error(190, "The access token must be at least 24 hours old to be refreshed"))
        with self.lock:
            self.token = "fresh-" + secrets.token_urlsafe(12)
            self.token_age = 0.0
            self.expires_at = int(time.time()) + 60 * 86400
            self.refreshed.append(self.token)
        return Reply(200, {"access_token": self.token, "token_type": "bearer", "expires_in": 60 * 86400})
