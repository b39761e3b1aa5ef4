"""A fake YouTube: Google's OAuth token endpoint and the parts of the YouTube Data API v3 that publishing
a video touches, as documented (developers.google.com/youtube/v3, /identity/protocols/oauth2):

- POST /token                              grant_type=refresh_token → access_token, expires_in;
                                           a revoked refresh token: 400 {"error": "invalid_grant"}
- GET  /youtube/v3/channels?mine=true      the channel: snippet.title, contentDetails.relatedPlaylists.uploads
- POST /upload/youtube/v3/videos?uploadType=resumable
                                           the metadata (JSON); answers 200 with the session URI in Location
- PUT  <session URI>                       Content-Range bytes A-B/T: 308 with Range: bytes=0-N while
                                           incomplete, 201 with the video once all T bytes are in;
                                           bytes */T asks what arrived; an unknown session: 404
- GET  /youtube/v3/videos?id=a,b&part=     status.uploadStatus uploaded → processed after `processing_polls`
                                           looks (or `failed`), status.privacyStatus, snippet.tags
- PUT  /youtube/v3/videos?part=status      the video's privacyStatus
- GET  /youtube/v3/captions?videoId=       the caption tracks; POST /upload/youtube/v3/captions (multipart/
                                           related: JSON snippet, then the file) adds one
- GET  /youtube/v3/playlistItems?playlistId=   the channel's uploads, newest first
- errors: {"error": {"code", "message", "errors": [{"reason", "domain", "message"}]}}; `quota()` makes
  the next request answer 403 quotaExceeded, as YouTube does once the day's quota is used.

`events` records what happened to each video in order ("insert", "caption:nl", "public"), so tests see
that a video was public only after its captions.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

CLIENT_ID = "1234-fake.apps.googleusercontent.com"
CLIENT_SECRET = "fake-youtube-client-secret"
REFRESH_TOKEN = "1//fake-youtube-refresh-token"
UPLOADS = "UUfakechannel"


def google_error(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}


class FakeYouTube(FakeServer):
    def __init__(self, *, processing_polls: int = 0, latency_ms: float = 0.0) -> None:
        super().__init__(latency_ms)
        self.processing_polls = processing_polls
        self.failed_processing = False
        self.revoked = False
        self.tokens: list[str] = []  # every access token handed out
        self.sessions: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.captions: dict[str, list[dict[str, Any]]] = {}
        self.events: list[tuple[str, str]] = []  # (video id, what)
        self._ids = itertools.count(1)
        self._cut_at: int | None = None

    def _serve(self, handler: Any) -> None:
        cut = self._cut_at
        if cut is not None and handler.command == "PUT" and f"bytes {cut}-" in handler.headers.get("Content-Range", ""):
            self._cut_at = None
            self.drop_after_processing("PUT", "/upload/youtube/v3/videos")
        super()._serve(handler)

    # -- knobs ------------------------------------------------------------------------------

    def quota(self, path: str = "/", method: str = "POST", reason: str = "quotaExceeded") -> None:
        if reason == "uploadLimitExceeded":  # the channel's uploads in 24 hours: a 400, as YouTube answers it
            self.fail(
                method,
                path,
                400,
                google_error(400, reason, "The user has exceeded the number of videos they may upload."),
            )
            return
        message = "The request cannot be completed because you have exceeded your quota."
        self.fail(method, path, 403, google_error(403, reason, message))

    def cut_at(self, offset: int) -> None:
        """The chunk that starts at byte `offset` is taken in, then the connection drops unanswered."""
        self._cut_at = offset

    def finish_processing(self) -> None:
        with self.lock:
            self.processing_polls = 0

    def received(self, session: str | None = None) -> int:
        """Bytes the (only) upload session holds."""
        with self.lock:
            found = list(self.sessions.values()) if session is None else [self.sessions[session]]
            return sum(len(s["data"]) for s in found)

    # -- the API ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self.lock:
            if request.path == "/token":
                return self._token(request)
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
                return Reply(401, google_error(401, "authError", "Invalid Credentials"))
            route = (request.method, request.path)
            if route == ("GET", "/youtube/v3/channels"):
                return Reply(200, {"items": [self._channel()]})
            if route == ("POST", "/upload/youtube/v3/videos"):
                if request.value("upload_id"):
                    return Reply(404, google_error(404, "notFound", "use PUT"))
                return self._open(request)
            if route == ("PUT", "/upload/youtube/v3/videos"):
                return self._chunk(request)
            if route == ("GET", "/youtube/v3/videos"):
                return self._list(request)
            if route == ("PUT", "/youtube/v3/videos"):
                return self._update(request)
            if route == ("GET", "/youtube/v3/captions"):
                video = request.value("videoId") or ""
                return Reply(200, {"items": list(self.captions.get(video, []))})
            if route == ("POST", "/upload/youtube/v3/captions"):
                return self._caption(request)
            if route == ("GET", "/youtube/v3/playlistItems"):
                return self._playlist(request)
            return Reply(404, google_error(404, "notFound", f"no {request.method} {request.path}"))

    def _token(self, request: Request) -> Reply:
        if request.value("grant_type") != "refresh_token":
            return Reply(400, {"error": "unsupported_grant_type"})
        if request.value("client_id") != CLIENT_ID or request.value("client_secret") != CLIENT_SECRET:
            return Reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if self.revoked or request.value("refresh_token") != REFRESH_TOKEN:
            # Google's words; the fake also echoes the token, as a careless server might.
            return Reply(
                400,
                {"error": "invalid_grant", "error_description": f"Token has been expired or revoked: {REFRESH_TOKEN}"},
            )
        token = f"ya29.fake-access-{len(self.tokens) + 1}"
        self.tokens.append(token)
        return Reply(200, {"access_token": token, "expires_in": 3599, "scope": "youtube", "token_type": "Bearer"})

    def _channel(self) -> dict[str, Any]:
        return {
            "id": "UCfakechannel",
            "snippet": {"title": "Team Kim"},
            "contentDetails": {"relatedPlaylists": {"uploads": UPLOADS}},
        }

    def _open(self, request: Request) -> Reply:
        if request.value("uploadType") != "resumable":
            return Reply(400, google_error(400, "badRequest", "only resumable uploads here"))
        metadata = json.loads(request.body)
        snippet, status = metadata.get("snippet") or {}, metadata.get("status") or {}
        title = snippet.get("title") or ""
        if not title or len(title) > 100 or re.search("[<>]", title):
            return Reply(
                400, google_error(400, "invalidTitle", "The request metadata specifies an invalid video title.")
            )
        session = f"s{next(self._ids)}"
        self.sessions[session] = {
            "metadata": metadata,
            "size": int(request.headers["x-upload-content-length"]),
            "type": request.headers.get("x-upload-content-type"),
            "data": bytearray(),
            "video": None,
            "privacy": status.get("privacyStatus"),
        }
        location = f"{self.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={session}"
        return Reply(200, None, {"Location": location})

    def _chunk(self, request: Request) -> Reply:
        session = self.sessions.get(request.value("upload_id") or "")
        if session is None:
            return Reply(404, google_error(404, "notFound", "upload session not found"))
        if session["video"] is not None:
            return Reply(201, self.videos[session["video"]])
        match = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\d+)", request.headers.get("content-range", ""))
        assert match is not None, request.headers.get("content-range")
        total = int(match.group(4))
        assert total == session["size"]
        data: bytearray = session["data"]
        if match.group(1) != "*":
            first, last = int(match.group(2)), int(match.group(3))
            assert last - first + 1 == len(request.body)
            assert first == len(data), f"chunk at {first}, but {len(data)} bytes are in"
            data += request.body
        if len(data) < total:
            headers = {"Range": f"bytes=0-{len(data) - 1}"} if data else {}
            return Reply(308, None, headers)
        video_id = f"vid{next(self._ids)}"
        meta = session["metadata"]
        self.videos[video_id] = {
            "id": video_id,
            "snippet": {**meta["snippet"], "channelId": "UCfakechannel"},
            "status": {"uploadStatus": "uploaded", "privacyStatus": session["privacy"]},
            "polls": 0,
            "bytes": bytes(data),
        }
        session["video"] = video_id
        self.events.append((video_id, "insert"))
        return Reply(201, self._public_view(self.videos[video_id]))

    def _public_view(self, video: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in video.items() if k in ("id", "snippet", "status")}

    def _list(self, request: Request) -> Reply:
        items = []
        for video_id in (request.value("id") or "").split(","):
            video = self.videos.get(video_id)
            if video is None:
                continue
            if video["status"]["uploadStatus"] == "uploaded":
                video["polls"] += 1
                if self.failed_processing:
                    video["status"] = {**video["status"], "uploadStatus": "failed", "failureReason": "codec"}
                elif video["polls"] > self.processing_polls:
                    video["status"] = {**video["status"], "uploadStatus": "processed"}
            items.append(self._public_view(video))
        return Reply(200, {"kind": "youtube#videoListResponse", "items": items})

    def _update(self, request: Request) -> Reply:
        body = json.loads(request.body)
        video = self.videos.get(body.get("id") or "")
        if video is None:
            return Reply(
                404, google_error(404, "videoNotFound", "The video that you are trying to update cannot be found.")
            )
        assert request.value("part") == "status"
        video["status"] = {**video["status"], **body["status"]}
        self.events.append((video["id"], str(body["status"].get("privacyStatus"))))
        return Reply(200, self._public_view(video))

    def _caption(self, request: Request) -> Reply:
        boundary = request.headers["content-type"].split("boundary=", 1)[1]
        parts = request.body.split(f"--{boundary}".encode())[1:-1]
        meta = json.loads(parts[0].split(b"\r\n\r\n", 1)[1])
        data = parts[1].split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
        snippet = meta["snippet"]
        video = self.videos.get(snippet["videoId"])
        if video is None:
            return Reply(404, google_error(404, "videoNotFound", "video not found"))
        track = {"id": f"cap{next(self._ids)}", "snippet": {**snippet}, "data": data.decode("utf-8")}
        self.captions.setdefault(video["id"], []).append(track)
        self.events.append((video["id"], f"caption:{snippet['language']}"))
        return Reply(200, {"id": track["id"], "snippet": snippet})

    def _playlist(self, request: Request) -> Reply:
        if request.value("playlistId") != UPLOADS:
            return Reply(404, google_error(404, "playlistNotFound", "playlist not found"))
        items = [
            {"snippet": {"title": v["snippet"]["title"], "resourceId": {"kind": "youtube#video", "videoId": v["id"]}}}
            for v in reversed(self.videos.values())
        ]
        return Reply(200, {"items": items[: int(request.value("maxResults") or 5)]})
