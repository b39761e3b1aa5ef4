"""A fake Graph API for one Facebook Page: the parts that publishing a campaign touches.

As documented (developers.facebook.com: reference page, page/feed, page/photos, page/posts;
guides "Handling errors" and "Rate limits"):
- GET  /{version}/{page_id}?fields=name        the Page's name and id
- POST /{version}/{page_id}/feed               message, link, attached_media[i]={"media_fbid": id}
                                               → {"id": "{page_id}_{post_id}"}
- POST /{version}/{page_id}/photos             multipart source, message, alt_text_custom,
                                               published=false for an unpublished upload
                                               → {"id": photo_id, "post_id": ...} ({"id"} if unpublished)
- GET  /{version}/{page_id}/posts              since (unix), fields, limit, after (cursor), newest first
- GET  /{version}/{post_id}/comments           fields, filter (toplevel, the default: comments only;
                                               stream: answers to comments too, with `parent`),
                                               order (chronological, the default for stream;
                                               reverse_chronological), since (unix), limit
                                               (default 25), after;
                                               `paging.next` only while more follow; `from` ({id,
                                               name}) left out for a commenter Graph does not name
                                               to the app; a deleted post is error 100/33
- POST /{version}/{page_id}/videos             the chunked upload (Video API "Publishing"):
                                               upload_phase=start, file_size → {video_id,
                                               upload_session_id, start_offset, end_offset};
                                               transfer, upload_session_id, start_offset,
                                               video_file_chunk → the next {start_offset, end_offset}
                                               (both the size at the end); finish, upload_session_id,
                                               description, title, published → {success: true}
- GET  /{version}/{video_id}?fields=status,published   status {video_status: processing | ready |
                                               error, processing_progress, processing_phase {status,
                                               errors}} (`processing_polls` answers of processing)
- GET  /{version}/{video_id}/captions          {data: [{locale}]}
- POST /{version}/{video_id}/captions          multipart captions_file named `name.{locale}.srt`
                                               (and `locale`) → {success: true}
- POST /{version}/{video_id}                   published=true → {success: true}
- GET  /{version}/{page_id}/videos             since, fields, limit, after; newest first
- GET  /{version}/debug_token?input_token=   the token's metadata (guide "Debugging access tokens"):
                                               {"data": {"app_id", "type": PAGE, "application", "profile_id",
                                               "expires_at", "data_access_expires_at" (0: never), "is_valid",
                                               "scopes", "user_id"}}; `expires_at` and `data_access_expires_at`
                                               set the scene
- the token is the `access_token` parameter (body or query); a wrong one is code 190
- errors are {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}; every answer
  carries X-App-Usage and X-Business-Use-Case-Usage (percentages; the time to regain access in
  minutes, 0 while not throttled)

Unlike Graph, a refused token is echoed back in the error message, so tests can prove the
adapter never passes it on. `duplicates=True` answers a message already on the Page with 506.
Use `graph_error` with `fail` (from FakeServer) for throttling and other errors; `add_comment`,
`delete_post` and `usage_percent` set the scene for reading replies.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request, Upload

TOKEN = "fake-page-token"
PAGE_ID = "1234567890"


def graph_error(code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException") -> dict[str, Any]:
    """A Graph error body as the error-handling guide shows it."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_urlsafe(8)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def buc_usage(page_id: str, *, percent: int = 1, minutes: int = 0) -> str:
    """An X-Business-Use-Case-Usage value for a Page."""
    entry = {
        "type": "pages",
        "call_count": percent,
        "total_cputime": percent,
        "total_time": percent,
        "estimated_time_to_regain_access": minutes,
    }
    return json.dumps({page_id: [entry]})


def app_usage(percent: int = 1, **extra: Any) -> str:
    """An X-App-Usage value."""
    return json.dumps({"call_count": percent, "total_cputime": percent, "total_time": percent, **extra})


class FakeGraph(FakeServer):
    """One Page (`page_id`, `name`) whose Page access token is `token`."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        page_id: str = PAGE_ID,
        name: str = "Week tegen Kindermishandeling",
        duplicates: bool = False,
        echo_token: bool = True,
        latency_ms: float = 0.0,
        processing_polls: int = 0,
        chunk_bytes: int = 4096,
    ) -> None:
        super().__init__(latency_ms)
        self.token = token
        self.page_id = page_id
        self.name = name
        self.duplicates = duplicates
        self.echo_token = echo_token
        self.posts: list[dict[str, Any]] = []  # oldest first
        self.photos: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, Upload] = {}
        self.counts: dict[str, dict[str, int]] = {}  # post id → reactions, comments, shares that tests set
        self.comments: dict[str, list[dict[str, Any]]] = {}  # post id → its comments, oldest first
        self.expires_at = 0  # what debug_token says of the token (unix seconds; 0: never)
        self.data_access_expires_at = 0
        self.usage_percent = 1  # what the usage headers say of every answer
        self._ids = itertools.count(100_000_000_000_001)
        self.processing_polls = processing_polls  # status answers of `processing` before `ready`
        self.failed_processing = False  # processing ends in `error`
        self.publish_outages = 0  # answers of a transient error to `published=true` before it works
        self.chunk_bytes = chunk_bytes  # what `end_offset` asks for each transfer
        self.videos: dict[str, dict[str, Any]] = {}  # video id → what Graph holds of it
        self.sessions: dict[str, dict[str, Any]] = {}  # upload session id → {video_id, size, data}
        self.events: list[tuple[str, str]] = []  # (video id, step): start, finish, caption:<locale>, publish

    def handle(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or not parts[0].startswith("v"):
            return self._usage(Reply(400, graph_error(2500, "Unknown path components", kind="OAuthException")))
        given = request.value("access_token")
        if given != self.token:
            message = "Error validating access token: Session has expired."
            if self.echo_token:
                message += f" (token: {given})"
            reply = Reply(400, graph_error(190, message, subcode=463))
            reply.headers["WWW-Authenticate"] = 'OAuth "Facebook Platform" "invalid_token" "Session has expired"'
            return self._usage(reply)
        node, edge = parts[1], (parts[2] if len(parts) > 2 else None)
        if request.method == "GET" and node == "debug_token":
            return self._usage(self._debug_token(request))
        if request.method == "GET" and edge is None and node.startswith(f"{self.page_id}_"):
            with self.lock:
                return self._usage(self._read_post(node, request))
        if request.method == "GET" and edge == "comments" and node.startswith(f"{self.page_id}_"):
            with self.lock:
                return self._usage(self._comments(node, request))
        if node in self.videos:
            with self.lock:
                return self._usage(self._video(node, edge, request))
        if node != self.page_id:
            message = f"Unsupported {request.method.lower()} request. Object with ID '{node}' does not exist"
            return self._usage(Reply(400, graph_error(100, message, subcode=33, kind="GraphMethodException")))
        with self.lock:
            route = (request.method, edge)
            if route == ("GET", None):
                reply = Reply(200, {"name": self.name, "id": self.page_id})
            elif route == ("POST", "feed"):
                reply = self._feed(request)
            elif route == ("POST", "photos"):
                reply = self._photo(request)
            elif route == ("GET", "posts"):
                reply = self._list(request)
            elif route == ("POST", "videos"):
                reply = self._upload(request)
            elif route == ("GET", "videos"):
                reply = self._list_videos(request)
            else:
                reply = Reply(400, graph_error(100, "Unsupported request", kind="GraphMethodException"))
        return self._usage(reply)

    # -- edges -------------------------------------------------------------------------------

    def _debug_token(self, request: Request) -> Reply:
        valid = request.value("input_token") == self.token
        data: dict[str, Any] = {
            "app_id": "138483919580948",
            "type": "PAGE",
            "application": "Campagne",
            "expires_at": self.expires_at,
            "data_access_expires_at": self.data_access_expires_at,
            "is_valid": valid,
            "scopes": ["pages_manage_posts", "pages_read_engagement", "pages_show_list"],
            "user_id": "10215241773831025",
        }
        if valid:
            data["profile_id"] = self.page_id
        return Reply(200, {"data": data})

    def _feed(self, request: Request) -> Reply:
        message = request.value("message") or ""
        media = self._attached(request)
        if isinstance(media, Reply):
            return media
        if not message.strip() and not media:
            return Reply(400, graph_error(100, "(#100) Missing message or attachment"))
        if self.duplicates and any(post["message"] == message for post in self.posts):
            return Reply(400, graph_error(506, "(#506) Duplicate status message"))
        for fbid in media:
            self.photos[fbid]["published"] = True
        return Reply(200, {"id": self._new_post(message, request.value("link"), media)["id"]})

    def _attached(self, request: Request) -> list[str] | Reply:
        indexed = sorted(
            (int(key[len("attached_media[") : -1]), request.form[key][0])
            for key in request.form
            if key.startswith("attached_media[")
        )
        ids = []
        for _, value in indexed:
            try:
                fbid = str(json.loads(value)["media_fbid"])
            except (ValueError, KeyError, TypeError):
                return Reply(400, graph_error(100, "(#100) attached_media must be {'media_fbid': id}"))
            if fbid not in self.photos or self.photos[fbid]["published"]:
                return Reply(400, graph_error(100, f"(#100) media_fbid {fbid} is not an unpublished photo"))
            ids.append(fbid)
        return ids

    def _photo(self, request: Request) -> Reply:
        upload = request.files.get("source")
        if upload is None or not upload.data:
            return Reply(400, graph_error(324, "(#324) Requires upload file"))
        photo_id = str(next(self._ids))
        published = (request.value("published") or "true").lower() != "false"
        self.photos[photo_id] = {
            "id": photo_id,
            "alt_text_custom": request.value("alt_text_custom"),
            "published": False,
        }
        self.uploads[photo_id] = upload
        if not published:
            return Reply(200, {"id": photo_id})
        message = request.value("message") or ""
        if self.duplicates and message and any(post["message"] == message for post in self.posts):
            return Reply(400, graph_error(506, "(#506) Duplicate status message"))
        self.photos[photo_id]["published"] = True
        post = self._new_post(message, None, [photo_id])
        return Reply(200, {"id": photo_id, "post_id": post["id"]})

    def _list(self, request: Request) -> Reply:
        since = int(request.value("since") or 0)
        limit = int(request.value("limit") or 25)
        start = int(request.value("after") or 0)
        matching = [post for post in reversed(self.posts) if post["created"] >= since]
        page = matching[start : start + limit]
        fields = (request.value("fields") or "id,message,created_time").split(",")
        data = [{key: post[key] for key in fields if key in post and post[key] is not None} for post in page]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
        if start + limit < len(matching):
            paging["next"] = f"{self.url}{request.path}?after={start + len(page)}"
        return Reply(200, {"data": data, "paging": paging})

    def _comments(self, post_id: str, request: Request) -> Reply:
        if not any(p["id"] == post_id for p in self.posts) and post_id not in self.videos:
            message = f"Unsupported get request. Object with ID '{post_id}' does not exist"
            return Reply(400, graph_error(100, message, subcode=33, kind="GraphMethodException"))
        stream = request.value("filter") == "stream"
        since = int(request.value("since") or 0)
        found = [c for c in self.comments.get(post_id, []) if (stream or c["parent"] is None) and c["created"] >= since]
        if request.value("order") == "reverse_chronological":
            found.reverse()
        limit = int(request.value("limit") or 25)
        cursor = request.value("after")
        start = int(base64.b64decode(cursor)) if cursor else 0
        page = found[start : start + limit]
        fields = (request.value("fields") or "id,message,created_time").split(",")
        if stream:
            fields.append("parent")
        data = [{key: c[key] for key in fields if c.get(key) is not None} for c in page]
        end = start + len(page)
        cursors = {"before": _cursor(start), "after": _cursor(end)}
        paging: dict[str, Any] = {"cursors": cursors}
        if end < len(found):
            paging["next"] = f"{self.url}{request.path}?after={cursors['after']}&limit={limit}"
        return Reply(200, {"data": data, "paging": paging})

    def _upload(self, request: Request) -> Reply:
        phase = request.value("upload_phase")
        if phase == "start":
            size = int(request.value("file_size") or 0)
            if size <= 0:
                return Reply(400, graph_error(100, "(#100) file_size is required"))
            video_id, session = str(next(self._ids)), str(next(self._ids))
            self.sessions[session] = {"video_id": video_id, "size": size, "data": b""}
            self.events.append((video_id, "start"))
            end = min(size, self.chunk_bytes)
            return Reply(
                200,
                {"video_id": video_id, "upload_session_id": session, "start_offset": "0", "end_offset": str(end)},
            )
        upload = self.sessions.get(request.value("upload_session_id") or "")
        if upload is None:
            return Reply(400, graph_error(6000, "There was a problem uploading your video file", subcode=1363019))
        if phase == "transfer":
            chunk = request.files.get("video_file_chunk")
            if chunk is None or int(request.value("start_offset") or -1) != len(upload["data"]):
                return Reply(400, graph_error(6000, "(#6000) The start offset is wrong", subcode=1363037))
            upload["data"] += chunk.data
            start = len(upload["data"])
            return Reply(
                200, {"start_offset": str(start), "end_offset": str(min(upload["size"], start + self.chunk_bytes))}
            )
        if phase == "finish":
            if len(upload["data"]) != upload["size"]:
                return Reply(400, graph_error(6000, "(#6000) The upload is not complete", subcode=1363030))
            video_id = upload["video_id"]
            now = datetime.now(UTC)
            self.videos[video_id] = {
                "id": video_id,
                "data": upload["data"],
                "description": request.value("description"),
                "title": request.value("title"),
                "published": (request.value("published") or "true").lower() != "false",
                "polls": 0,
                "captions": {},
                "created": int(now.timestamp()),
                "created_time": now.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "permalink_url": f"/{self.page_id}/videos/{video_id}/",
            }
            self.events.append((video_id, "finish"))
            return Reply(200, {"success": True})
        return Reply(400, graph_error(100, "(#100) upload_phase must be start, transfer or finish"))

    def _video(self, video_id: str, edge: str | None, request: Request) -> Reply:
        video = self.videos[video_id]
        if request.method == "GET" and edge is None:
            fields = (request.value("fields") or "id").split(",")
            if "shares" in fields:  # a video has reactions and comments, and no shares
                message = "(#100) Tried accessing nonexisting field (shares) on node type (Video)"
                return Reply(400, graph_error(100, message, kind="OAuthException"))
            body: dict[str, Any] = {"id": video_id}
            counts = self.counts.get(video_id, {})
            for counted in ("reactions", "comments"):
                if any(field.startswith(counted) for field in fields):
                    body[counted] = {"data": [], "summary": {"total_count": counts.get(counted, 0)}}
            if "status" in fields:
                body["status"] = self._status(video)
            if "published" in fields:
                body["published"] = video["published"]
            return Reply(200, body)
        if request.method == "POST" and edge is None:
            if (request.value("published") or "").lower() == "true":
                if self.publish_outages > 0:
                    self.publish_outages -= 1
                    body = graph_error(2, "(#2) Service temporarily unavailable", kind="OAuthException")
                    body["error"]["is_transient"] = True
                    return Reply(503, body)
                if self._status(video)["video_status"] != "ready":
                    return Reply(400, graph_error(100, "(#100) The video is not ready to be published"))
                video["published"] = True
                self.events.append((video_id, "publish"))
            return Reply(200, {"success": True})
        if edge == "comments" and request.method == "GET":
            return self._comments(video_id, request)
        if edge == "captions" and request.method == "GET":
            return Reply(200, {"data": [{"locale": locale} for locale in video["captions"]]})
        if edge == "captions" and request.method == "POST":
            upload = request.files.get("captions_file")
            name = upload.filename if upload is not None else ""
            parts = name.rsplit(".", 2)
            if upload is None or len(parts) != 3 or parts[2] != "srt" or "_" not in parts[1]:
                return Reply(400, graph_error(100, "(#100) captions_file must be named filename.locale.srt"))
            video["captions"][parts[1]] = upload.data.decode("utf-8")
            self.events.append((video_id, f"caption:{parts[1]}"))
            return Reply(200, {"success": True})
        return Reply(400, graph_error(100, "Unsupported request", kind="GraphMethodException"))

    def _status(self, video: dict[str, Any]) -> dict[str, Any]:
        if video["polls"] < self.processing_polls:
            video["polls"] += 1
            progress = round(100 * video["polls"] / (self.processing_polls + 1))
            return {"video_status": "processing", "processing_progress": progress}
        if self.failed_processing:
            errors = [{"code": 1363008, "message": "Video Format Is Not Supported"}]
            return {"video_status": "error", "processing_phase": {"status": "error", "errors": errors}}
        return {"video_status": "ready", "processing_progress": 100, "processing_phase": {"status": "complete"}}

    def finish_processing(self) -> None:
        """Every video being processed is ready at the next look."""
        with self.lock:
            self.processing_polls = 0

    def _list_videos(self, request: Request) -> Reply:
        since = int(request.value("since") or 0)
        limit = int(request.value("limit") or 25)
        start = int(request.value("after") or 0)
        matching = [v for v in sorted(self.videos.values(), key=lambda v: -int(v["id"])) if v["created"] >= since]
        page = matching[start : start + limit]
        fields = (request.value("fields") or "id,description,updated_time").split(",")
        data = [{key: v[key] for key in fields if v.get(key) is not None} for v in page]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
        if start + limit < len(matching):
            paging["next"] = f"{self.url}{request.path}?after={start + len(page)}"
        return Reply(200, {"data": data, "paging": paging})

    # -- helpers -----------------------------------------------------------------------------

    def add_comment(
        self,
        post_id: str,
        message: str,
        *,
        name: str | None = "Kim de Vries",
        user_id: str = "10220000000000001",
        by_page: bool = False,
        parent: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """A comment on a Page post (or an answer to the comment `parent`): by a person, named when
        `name` is given (None: Graph does not name them to the app), or by the Page itself. Its id."""
        with self.lock:
            existing = self.comments.setdefault(post_id, [])
            number = str(next(self._ids))
            post_number = post_id.partition("_")[2] or post_id  # a video's id has no Page part
            moment = at or (datetime.now(UTC) + timedelta(seconds=len(existing)))
            author = {"id": self.page_id, "name": self.name} if by_page else {"id": user_id, "name": name}
            comment = {
                "id": f"{post_number}_{number}",
                "from": author if by_page or name is not None else None,
                "message": message,
                "created": int(moment.timestamp()),
                "created_time": moment.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{post_number}?comment_id={number}",
                "parent": {"id": parent} if parent else None,
            }
            existing.append(comment)
            existing.sort(key=lambda c: c["created_time"])
            return str(comment["id"])

    def delete_post(self, post_id: str) -> None:
        """The post is gone from the Page, and its comments with it."""
        with self.lock:
            self.posts = [p for p in self.posts if p["id"] != post_id]
            self.comments.pop(post_id, None)

    def set_counts(self, post_id: str, *, reactions: int = 0, comments: int = 0, shares: int = 0) -> None:
        with self.lock:
            self.counts[post_id] = {"reactions": reactions, "comments": comments, "shares": shares}

    def _read_post(self, post_id: str, request: Request) -> Reply:
        """GET /{post-id}?fields=…: reactions and comments as edges with a summary, `shares` left
        out when 0 (as Graph does); an unknown post is error 100/33."""
        post = next((p for p in self.posts if p["id"] == post_id), None)
        if post is None:
            message = f"Unsupported get request. Object with ID '{post_id}' does not exist"
            return Reply(400, graph_error(100, message, subcode=33, kind="GraphMethodException"))
        fields = request.value("fields") or ""
        counts = self.counts.get(post_id, {})
        body: dict[str, Any] = {"id": post_id}
        for edge in ("reactions", "comments"):
            if edge in fields:
                body[edge] = {"data": [], "summary": {"total_count": counts.get(edge, 0)}}
        if "shares" in fields and counts.get("shares"):
            body["shares"] = {"count": counts["shares"]}
        return Reply(200, body)

    def _new_post(self, message: str, link: str | None, media: list[str]) -> dict[str, Any]:
        number = str(next(self._ids))
        now = datetime.now(UTC)
        post = {
            "id": f"{self.page_id}_{number}",
            "message": message or None,
            "link": link,
            "attached_media": media,
            "created": int(now.timestamp()),
            "created_time": now.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{number}",
        }
        self.posts.append(post)
        return post

    def _usage(self, reply: Reply) -> Reply:
        reply.headers.setdefault("X-App-Usage", app_usage(self.usage_percent))
        reply.headers.setdefault("X-Business-Use-Case-Usage", buc_usage(self.page_id, percent=self.usage_percent))
        return reply


def _cursor(index: int) -> str:
    """An opaque cursor, as Graph's look (base64)."""
    return base64.b64encode(str(index).encode()).decode()
