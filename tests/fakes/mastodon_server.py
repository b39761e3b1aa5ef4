"""A fake Mastodon instance: the parts of the REST API that publishing a campaign touches.

As documented (docs.joinmastodon.org, methods/statuses, media, instance, accounts; api/rate-limits):
- GET  /api/v2/instance                   configuration.statuses.max_characters and media limits
- GET  /api/v1/accounts/verify_credentials
- POST /api/v2/media                      200 when ready; 202 with `url: null` while processing
                                          (a video: type "video"; over video_size_limit: 422)
- GET  /api/v1/media/:id                  206 while processing, then 200 with a url; 422 when its
                                          processing failed; 404 once attached to a status (only
                                          unattached media are found)
- POST /api/v1/statuses                   Idempotency-Key: the same key gives the same status;
                                          `in_reply_to_id` a status of this server (else 404)
- GET  /api/v1/statuses/:id               favourites_count, reblogs_count, replies_count (404 when deleted)
- GET  /api/v1/statuses/:id/context       {"ancestors": [...], "descendants": [...]} at every depth
- errors are {"error": "..."}; every answer carries X-RateLimit-Limit/Remaining/Reset (ISO 8601)

Unlike Mastodon, a 401 echoes the Authorization header back, so tests can prove the adapter
never passes a token on. Use `processing_polls` for slow media (`finish_processing` ends it at once),
`failed_processing` for media the instance cannot process, `fail` and
`drop_after_processing` (from FakeServer) for outages, `rate_limit` for a 429 with the documented
headers; tests add other people's replies with `add_reply` and change counts with `set_counts`.
"""

from __future__ import annotations

import html
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.content.text import mastodon_length
from tests.fakes.server import FakeServer, Reply, Request, Upload

TOKEN = "fake-mastodon-token"


class FakeMastodon(FakeServer):
    """One instance with one account (`username`) whose token is `token`."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        username: str = "campagne",
        max_characters: int = 500,
        processing_polls: int = 0,
        image_size_limit: int = 16 * 1024 * 1024,
        echo_authorization: bool = True,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(latency_ms)
        self.token = token
        self.username = username
        self.max_characters = max_characters
        #: 0: uploads are processed at once (200); n: 202, then n × 206, then 200.
        self.processing_polls = processing_polls
        self.image_size_limit = image_size_limit
        self.video_size_limit = 99 * 1024 * 1024  # Mastodon 4.x's default
        self.failed_processing = False  # True: uploads end their processing failed (GET media → 422)
        self.echo_authorization = echo_authorization
        self.statuses: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, Upload] = {}
        self._polls_left: dict[str, int] = {}
        self._attached: set[str] = set()  # media ids attached to a status
        self._by_key: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(110_000_000_000_000_001)
        self.rate_remaining = 299  # what X-RateLimit-Remaining says (of 300 per 5 minutes)
        self.rate_reset_in: float | None = None  # seconds to X-RateLimit-Reset; None: the next 5-minute mark
        self._by_id: dict[str, dict[str, Any]] = {}  # id → status, and the ids of its direct replies:
        self._answers: dict[str, list[str]] = {}  # so reads stay quick with 10,000 statuses (bench)

    def handle(self, request: Request) -> Reply:
        route = (request.method, request.path)
        if route == ("GET", "/api/v2/instance"):
            return self._limited(Reply(200, self._instance()))
        if not self._authorized(request):
            error = "The access token is invalid"
            if self.echo_authorization:
                error += f" (received: {request.headers.get('authorization', '')})"
            return self._limited(Reply(401, {"error": error}))
        with self.lock:
            if route == ("GET", "/api/v1/accounts/verify_credentials"):
                reply = Reply(200, {"id": "1", "username": self.username, "acct": self.username})
            elif route == ("POST", "/api/v2/media"):
                reply = self._upload(request)
            elif request.method == "GET" and request.path.startswith("/api/v1/media/"):
                reply = self._media(request.path.rsplit("/", 1)[1])
            elif route == ("POST", "/api/v1/statuses"):
                reply = self._post_status(request)
            elif request.method == "GET" and request.path.startswith("/api/v1/statuses/"):
                reply = self._read_status(request.path.removeprefix("/api/v1/statuses/"))
            else:
                reply = Reply(404, {"error": "Record not found"})
        return self._limited(reply)

    # -- after publishing -------------------------------------------------------------------

    def finish_processing(self) -> None:
        """Every upload still processing is done at its next poll."""
        with self.lock:
            self.processing_polls = 0
            self._polls_left = dict.fromkeys(self._polls_left, 0)

    def set_counts(self, status_id: str, *, favourites: int = 0, reblogs: int = 0) -> None:
        with self.lock:
            status = self._status(status_id)
            assert status is not None, f"no status {status_id}"
            status["favourites_count"], status["reblogs_count"] = favourites, reblogs

    def add_reply(self, status_id: str, acct: str, text: str) -> str:
        """Someone else (`acct`, e.g. "kim" or "kim@other.example") replies to `status_id`; the reply's id."""
        with self.lock:
            reply_id = str(next(self._ids))
            self._keep(
                {
                    "id": reply_id,
                    "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "uri": f"{self.url}/users/{acct}/statuses/{reply_id}",
                    "url": f"{self.url}/@{acct}/{reply_id}",
                    "account": {"id": f"9{reply_id[-6:]}", "username": acct.split("@")[0], "acct": acct},
                    "content": f"<p>{html.escape(text)}</p>",
                    "text": text,
                    "in_reply_to_id": status_id,
                    "favourites_count": 0,
                    "reblogs_count": 0,
                }
            )
            return reply_id

    def rate_limit(self, path: str = "/api/v1/statuses/", reset_in: int = 120, times: int = 1) -> None:
        """The next `times` GETs under `path` get a 429, with X-RateLimit-Reset `reset_in` seconds ahead."""
        reset = datetime.now(UTC) + timedelta(seconds=reset_in)
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        self.fail("GET", path, 429, {"error": "Too many requests"}, headers, times)

    def seed_status(self, text: str) -> str:
        """A status of the account made without the API (benchmarks); its id."""
        with self.lock:
            status_id = str(next(self._ids))
            self._keep(
                {
                    "id": status_id,
                    "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "uri": f"{self.url}/users/{self.username}/statuses/{status_id}",
                    "url": f"{self.url}/@{self.username}/{status_id}",
                    "text": text,
                    "in_reply_to_id": None,
                    "account": {"id": "1", "username": self.username, "acct": self.username},
                    "content": f"<p>{html.escape(text)}</p>",
                }
            )
            return status_id

    def _keep(self, status: dict[str, Any]) -> None:
        self.statuses.append(status)
        self._by_id[status["id"]] = status
        if status.get("in_reply_to_id"):
            self._answers.setdefault(status["in_reply_to_id"], []).append(status["id"])

    def _status(self, status_id: str) -> dict[str, Any] | None:
        return self._by_id.get(status_id)

    def _read_status(self, rest: str) -> Reply:
        status_id, _, what = rest.partition("/")
        status = self._status(status_id)
        if status is None or what not in ("", "context"):
            return Reply(404, {"error": "Record not found"})
        if what == "context":
            descendants, waiting = [], list(self._answers.get(status_id, []))
            while waiting:  # breadth first: a reply comes after what it answers
                child = self._by_id[waiting.pop(0)]
                descendants.append(self._public(child))
                waiting += self._answers.get(child["id"], [])
            ancestors: list[dict[str, Any]] = []
            parent = self._status(status.get("in_reply_to_id") or "")
            while parent is not None:
                ancestors.insert(0, self._public(parent))
                parent = self._status(parent.get("in_reply_to_id") or "")
            return Reply(200, {"ancestors": ancestors, "descendants": descendants})
        return Reply(200, self._public(status))

    def _public(self, status: dict[str, Any]) -> dict[str, Any]:
        """A status as the API shows it: replies_count counts its direct replies."""
        shown = {k: v for k, v in status.items() if k not in ("text", "idempotency_key")}
        shown.setdefault("favourites_count", 0)
        shown.setdefault("reblogs_count", 0)
        shown["replies_count"] = len(self._answers.get(status["id"], []))
        return shown

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _instance(self) -> dict[str, Any]:
        return {
            "domain": "127.0.0.1",
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "configuration": {
                "statuses": {
                    "max_characters": self.max_characters,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "media_attachments": {
                    "supported_mime_types": [
                        *("image/jpeg", "image/png", "image/gif", "image/webp"),
                        *("video/mp4", "video/quicktime", "video/webm"),
                    ],
                    "description_limit": 1500,
                    "image_size_limit": self.image_size_limit,
                    "image_matrix_limit": 33177600,
                    "video_size_limit": self.video_size_limit,
                    "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8294400,
                },
            },
        }

    def _upload(self, request: Request) -> Reply:
        upload = request.files.get("file")
        if upload is None or not upload.content_type:
            return Reply(422, {"error": "Validation failed: File content type is invalid"})
        video = upload.content_type.startswith("video/")
        if video and len(upload.data) > self.video_size_limit:
            return Reply(422, {"error": f"Validation failed: File file size must be less than {self.video_size_limit}"})
        media_id = str(next(self._ids))
        processing = self.processing_polls > 0 or self.failed_processing
        media = {
            "id": media_id,
            "type": "video" if video else "image",
            "url": None if processing else f"{self.url}/media/{media_id}.png",
            "preview_url": f"{self.url}/media/{media_id}-small.png",
            "description": request.value("description"),
        }
        self.media[media_id] = media
        self.uploads[media_id] = upload
        self._polls_left[media_id] = self.processing_polls
        return Reply(202 if processing else 200, media)

    def _media(self, media_id: str) -> Reply:
        media = self.media.get(media_id)
        if media is None or media_id in self._attached:
            return Reply(404, {"error": "Record not found"})
        if self._polls_left[media_id] > 0:
            self._polls_left[media_id] -= 1
            return Reply(206, None)
        if self.failed_processing:
            return Reply(422, {"error": "Error processing thumbnail for uploaded media"})
        media["url"] = f"{self.url}/media/{media_id}.png"
        return Reply(200, media)

    def _post_status(self, request: Request) -> Reply:
        key = request.headers.get("idempotency-key")
        if key and key in self._by_key:
            return Reply(200, self._by_key[key])
        text = request.value("status", "") or ""
        media_ids = request.form.get("media_ids[]", [])
        if not text.strip() and not media_ids:
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if mastodon_length(text) > self.max_characters:
            error = f"Validation failed: Text character limit of {self.max_characters} exceeded"
            return Reply(422, {"error": error})
        for media_id in media_ids:
            if media_id not in self.media or media_id in self._attached:
                return Reply(422, {"error": "Validation failed: Media attachments are invalid"})
            if self._polls_left[media_id] > 0 or self.media[media_id]["url"] is None:
                return Reply(
                    422, {"error": "Cannot attach files that have not finished processing. Try again in a moment!"}
                )
        reply_to = request.value("in_reply_to_id")
        if reply_to is not None and all(s["id"] != reply_to for s in self.statuses):
            return Reply(404, {"error": "Record not found"})
        status_id = str(next(self._ids))
        status = {
            "id": status_id,
            "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "uri": f"{self.url}/users/{self.username}/statuses/{status_id}",
            "url": f"{self.url}/@{self.username}/{status_id}",
            "visibility": request.value("visibility", "public"),
            "language": request.value("language"),
            "text": text,
            "media_attachments": [self.media[media_id] for media_id in media_ids],
            "idempotency_key": key,
            "in_reply_to_id": reply_to,
            "account": {"id": "1", "username": self.username, "acct": self.username},
            "content": f"<p>{html.escape(text)}</p>",
        }
        self._keep(status)
        self._attached.update(media_ids)
        if key:
            self._by_key[key] = status
        return Reply(200, status)

    def _limited(self, reply: Reply) -> Reply:
        now = datetime.now(UTC)
        reset = now.replace(second=0, microsecond=0) + timedelta(minutes=5 - now.minute % 5)
        if self.rate_reset_in is not None:
            reset = now + timedelta(seconds=self.rate_reset_in)
        reply.headers.setdefault("X-RateLimit-Limit", "300")
        reply.headers.setdefault("X-RateLimit-Remaining", str(self.rate_remaining))
        reply.headers.setdefault("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        return reply
