"""A fake X API v2: the parts that publishing a campaign touches, behind OAuth 1.0a.

As documented (docs.x.com: x-api/posts/creation-of-a-post, x-api/media/upload-media,
x-api/media/create-media-metadata, x-api/users, fundamentals/rate-limits, response-codes-and-errors):
- every request must carry an OAuth 1.0a `Authorization: OAuth ...` header, HMAC-SHA1 signed over
  the method, the base URL and the sorted, percent-encoded parameters (query, oauth_*, and a
  form-urlencoded body); this fake recomputes the signature itself from that algorithm, and
  refuses a stale timestamp or a nonce seen before
- GET  /2/users/me                 {"data": {"id", "name", "username"}}
- POST /2/media/upload            multipart `media` + `media_category`; {"data": {"id", "media_key", ...}}
- POST /2/media/metadata          {"id", "metadata": {"alt_text": {"text"}}} (≤ 1,000 characters)
- a video's chunked upload (x-api/media/quickstart/media-upload-chunked, get-media-upload-status):
  POST /2/media/upload/initialize  JSON {"media_type", "total_bytes", "media_category"}; {"data": {"id", ...,
                                   "expires_after_secs"}}
  POST /2/media/upload/:id/append  multipart `segment_index` + `media` (≤ 5 MB a chunk)
  POST /2/media/upload/:id/finalize the chunks must add up to `total_bytes`; `processing_info` {"state",
                                   "check_after_secs"} while the video is processed
  GET  /2/media/upload             `command=STATUS&media_id=`: pending → in_progress → succeeded | failed (with
                                   `error`); an unknown, expired or unfinished upload is a 400
  a video can be posted only once its processing succeeded
- subtitles (x-api/media/create-media-subtitles): POST /2/media/upload with `media_category=subtitles` and
  an SRT file (`media_type=text/srt`); POST /2/media/subtitles JSON {"id" (the video), "media_category":
  "TweetVideo", "subtitles": {"id", "language_code", "display_name"}}
- POST /2/tweets                  JSON {"text", "media": {"media_ids"}, "reply"}; 201 {"data": {"id", "text"}};
                                  403 "duplicate content" for a text the account already posted
- GET  /2/users/:id/tweets        newest first, `start_time`, `max_results`, `pagination_token`
- GET  /2/tweets/search/recent    `query=conversation_id:<id>` or `from:<username>` (all this fake knows),
                                  `max_results` 10–100, `next_token`; newest first, the last 7 days only;
                                  `expansions=author_id` adds `includes.users` (`user.fields=username`);
                                  403 client-forbidden (`client-not-enrolled`) while `search_allowed` is off
- errors are problem JSON ({"title", "detail", "type", "status"}, `errors` for invalid requests);
  every answer carries x-rate-limit-limit/remaining/reset (unix seconds)

Like X, the text it gives back has every link as a t.co link (and one more for attached media) and
&, <, > escaped as HTML entities. Use `fail` and `drop_after_processing` (from FakeServer) for
outages, rate limits and lost answers; `add_reply` for someone else's answer, `rate_limit` for a 429;
`processing_polls` (STATUS answers before a video is processed), `check_after_secs`, `failed_processing`
and `expire_media` for videos.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import srt
import twitter_text

from scheduler.content.text import x_weighted_length
from tests.fakes.server import FakeServer, Reply, Request, Upload

CONSUMER_KEY = "fake-consumer-key"
CONSUMER_SECRET = "fake-consumer-secret"
ACCESS_TOKEN = "1500000000000000001-fake-access-token"
ACCESS_TOKEN_SECRET = "fake-access-token-secret"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_VIDEO_BYTES = 512 * 1024 * 1024
MAX_CHUNK_BYTES = 5 * 1024 * 1024
MEDIA_TTL = 86400  # seconds X keeps an unattached upload (`expires_after_secs`)
_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')
_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_QUERY = re.compile(r"(conversation_id|from):(\w+)")
RECENT = timedelta(days=7)  # what recent search covers


def problem(status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> Reply:
    return Reply(status, {"title": title, "detail": detail, "type": kind, "status": status, **extra})


def invalid(message: str, **parameters: list[str]) -> Reply:
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        "https://api.twitter.com/2/problems/invalid-request",
        errors=[{"parameters": parameters, "message": message}],
    )


def pct(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a requires (only unreserved characters stay)."""
    return quote(value, safe="~")


class FakeX(FakeServer):
    """One app's keys and one account (`username`) whose access token and secret are given."""

    def __init__(
        self,
        consumer_key: str = CONSUMER_KEY,
        consumer_secret: str = CONSUMER_SECRET,
        access_token: str = ACCESS_TOKEN,
        access_token_secret: str = ACCESS_TOKEN_SECRET,
        *,
        username: str = "weektegenkm",
        user_id: str = "1500000000000000001",
        latency_ms: float = 0.0,
        processing_polls: int = 0,
        check_after_secs: int = 1,
    ) -> None:
        super().__init__(latency_ms)
        self.processing_polls = processing_polls  # STATUS answers "in_progress" this many times per video
        self.check_after_secs = check_after_secs
        self.failed_processing = False  # True: videos end their processing failed
        self.media_steps: list[float] = []  # time.monotonic() of each FINALIZE and STATUS

        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.username, self.user_id = username, user_id
        self.posts: list[dict[str, Any]] = []  # oldest first, as sent plus what X shows
        self.media: dict[str, dict[str, Any]] = {}
        self.refused: list[str] = []  # why each refused signature was refused
        self._nonces: set[tuple[str, str]] = set()
        self._texts: set[str] = set()  # what the account has posted, for "duplicate content"
        self._ids = itertools.count(1_860_000_000_000_000_001)
        self._links = itertools.count(1)
        self.metrics: dict[str, dict[str, int]] = {}  # post id → public_metrics that tests set
        self.users: dict[str, str] = {user_id: username}  # id → username, the account and who replied
        self.search_allowed = True  # False: a plan without search (403 client-not-enrolled)

    def handle(self, request: Request) -> Reply:
        with self.lock:
            refusal = self._verify(request)
            if refusal is not None:
                self.refused.append(refusal)
                return self._limited(problem(401, "Unauthorized", "Unauthorized"))
            route = (request.method, request.path)
            if route == ("GET", "/2/users/me"):
                reply = Reply(
                    200,
                    {"data": {"id": self.user_id, "name": "Week tegen Kindermishandeling", "username": self.username}},
                )
            elif route == ("POST", "/2/media/upload"):
                reply = self._upload(request)
            elif route == ("POST", "/2/media/upload/initialize"):
                reply = self._initialize(request)
            elif request.method == "POST" and (
                step := re.fullmatch(r"/2/media/upload/(\d+)/(append|finalize)", request.path)
            ):
                reply = self._append(request, step[1]) if step[2] == "append" else self._finalize(step[1])
            elif route == ("GET", "/2/media/upload"):
                reply = self._status(request)
            elif route == ("POST", "/2/media/subtitles"):
                reply = self._subtitles(request)
            elif route == ("POST", "/2/media/metadata"):
                reply = self._metadata(request)
            elif route == ("POST", "/2/tweets"):
                reply = self._create(request)
            elif route == ("GET", "/2/tweets"):
                reply = self._lookup(request)
            elif route == ("GET", "/2/tweets/search/recent"):
                reply = self._search(request)
            elif request.method == "GET" and re.fullmatch(r"/2/users/\d+/tweets", request.path):
                reply = self._timeline(request)
            else:
                reply = problem(404, "Not Found Error", f"Could not find {request.path}")
        return self._limited(reply)

    # -- OAuth 1.0a ------------------------------------------------------------------------

    def signature_for(self, request: Request, oauth: dict[str, str]) -> str:
        """The HMAC-SHA1 signature of `request` with `oauth` parameters, from the documented algorithm."""
        pairs = [(key, value) for key, value in oauth.items() if key not in ("oauth_signature", "realm")]
        pairs += [(key, value) for key, values in request.query.items() for value in values]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs += [(key, value) for key, values in request.form.items() for value in values]
        normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in pairs))
        base_url = f"http://{request.headers['host'].lower()}{request.path}"
        base = "&".join((request.method.upper(), pct(base_url), pct(normalized)))
        key = f"{pct(self.consumer_secret)}&{pct(self.access_token_secret)}"
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def _verify(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("OAuth "):
            return "no OAuth header"
        oauth = {key: unquote(value) for key, value in _PARAM.findall(header)}
        if oauth.get("oauth_signature_method") != "HMAC-SHA1" or oauth.get("oauth_version", "1.0") != "1.0":
            return "not HMAC-SHA1, OAuth 1.0"
        if oauth.get("oauth_consumer_key") != self.consumer_key:
            return "unknown consumer key"
        if oauth.get("oauth_token") != self.access_token:
            return "unknown access token"
        try:
            stamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return "no timestamp"
        if abs(time.time() - stamp) > 300:
            return "stale timestamp"
        nonce = (oauth.get("oauth_nonce", ""), str(stamp))
        if not nonce[0] or nonce in self._nonces:
            return "nonce used before"
        if not hmac.compare_digest(self.signature_for(request, oauth), oauth.get("oauth_signature", "")):
            return "signature mismatch"
        self._nonces.add(nonce)
        return None

    # -- endpoints ---------------------------------------------------------------------------

    def _upload(self, request: Request) -> Reply:
        upload: Upload | None = request.files.get("media")
        if upload is None:
            return invalid("The `media` field is required")
        category = request.value("media_category")
        if category not in ("tweet_image", "tweet_gif", "tweet_video", "dm_image", "dm_gif", "dm_video", "subtitles"):
            return invalid(f"The `media_category` value [{category}] is not one of the allowed values")
        if len(upload.data) > MAX_IMAGE_BYTES:
            return invalid("File size exceeds 5242880 bytes.")
        if category == "subtitles":
            return self._subtitle_file(request, upload)
        media_id = str(next(self._ids))
        self.media[media_id] = {"upload": upload, "category": category, "alt": None}
        data = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(upload.data),
            "expires_after_secs": 86400,
            "image": {"image_type": upload.content_type, "w": 1200, "h": 675},
        }
        return Reply(200, {"data": data})

    # -- a video: chunked upload, STATUS, subtitles -----------------------------------------------

    def _initialize(self, request: Request) -> Reply:
        body = _json_body(request)
        kind, total, category = body.get("media_type"), body.get("total_bytes"), body.get("media_category")
        if kind not in ("video/mp4", "video/quicktime", "video/webm", "image/gif"):
            return invalid(f"The `media_type` value [{kind}] is not one of the allowed values")
        if category not in ("tweet_video", "amplify_video", "tweet_gif", "dm_video"):
            return invalid(f"The `media_category` value [{category}] is not one of the allowed values")
        if not isinstance(total, int) or not 0 < total <= MAX_VIDEO_BYTES:
            return invalid(f"The `total_bytes` value [{total}] is not between 1 and {MAX_VIDEO_BYTES}")
        media_id = str(next(self._ids))
        self.media[media_id] = {
            "category": category,
            "media_type": kind,
            "total_bytes": total,
            "chunks": {},
            "state": "initialized",
            "polls_left": self.processing_polls,
            "alt": None,
            "subtitles": [],
            "expires_at": time.time() + MEDIA_TTL,
        }
        data = {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": MEDIA_TTL}
        return Reply(200, {"data": data})

    def _video(self, media_id: str) -> dict[str, Any] | None:
        media = self.media.get(media_id)
        if media is None or "chunks" not in media or media["expires_at"] < time.time():
            return None
        return media

    def _append(self, request: Request, media_id: str) -> Reply:
        media, upload = self._video(media_id), request.files.get("media")
        if media is None or media["state"] != "initialized":
            return invalid(f"The media id [{media_id}] is not an upload in progress", id=[media_id])
        if upload is None or not (request.value("segment_index") or "").isdigit():
            return invalid("The `media` and `segment_index` fields are required")
        if len(upload.data) > MAX_CHUNK_BYTES:
            return invalid("A chunk may be at most 5 MB")
        media["chunks"][int(request.value("segment_index") or 0)] = upload.data
        return Reply(200, {"data": {"expires_at": int(media["expires_at"])}})

    def _finalize(self, media_id: str) -> Reply:
        self.media_steps.append(time.monotonic())
        media = self._video(media_id)
        if media is None or media["state"] != "initialized":
            return invalid(f"The media id [{media_id}] is not an upload in progress", id=[media_id])
        data = b"".join(media["chunks"][n] for n in sorted(media["chunks"]))
        if len(data) != media["total_bytes"]:
            return invalid(f"File size mismatch: {len(data)} bytes received, {media['total_bytes']} announced")
        media["upload"] = Upload("video", media["media_type"], data)
        media["state"] = "pending" if media["polls_left"] > 0 or self.failed_processing else "succeeded"
        return Reply(200, {"data": self._media_info(media_id, media)})

    def _status(self, request: Request) -> Reply:
        self.media_steps.append(time.monotonic())
        media_id = request.value("media_id") or ""
        media = self._video(media_id)
        if request.value("command") != "STATUS" or media is None or media["state"] == "initialized":
            return invalid(f"The media id [{media_id}] is not a finalized upload", media_id=[media_id])
        if media["state"] in ("pending", "in_progress"):
            if media["polls_left"] > 0:
                media["polls_left"] -= 1
                media["state"] = "in_progress"
            else:
                media["state"] = "failed" if self.failed_processing else "succeeded"
        return Reply(200, {"data": self._media_info(media_id, media)})

    def _media_info(self, media_id: str, media: dict[str, Any]) -> dict[str, Any]:
        left = int(media["expires_at"] - time.time())
        info: dict[str, Any] = {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": left}
        info["size"] = media["total_bytes"]
        state = media["state"]
        if state in ("pending", "in_progress"):
            info["processing_info"] = {"state": state, "check_after_secs": self.check_after_secs}
            if state == "in_progress":
                info["processing_info"]["progress_percent"] = 50
        elif state == "failed":
            error = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
            info["processing_info"] = {"state": "failed", "progress_percent": 12, "error": error}
        else:
            info["processing_info"] = {"state": "succeeded", "progress_percent": 100}
            info["video"] = {"video_type": media["media_type"]}
        return info

    def finish_processing(self) -> None:
        """Every video being processed is processed at its next STATUS."""
        with self.lock:
            self.processing_polls = 0
            for media in self.media.values():
                if "polls_left" in media:
                    media["polls_left"] = 0

    def expire_media(self, after_secs: float = 0) -> None:
        """Every upload is kept only `after_secs` more (0: X has dropped it)."""
        with self.lock:
            for media in self.media.values():
                media["expires_at"] = time.time() + after_secs if after_secs else 0.0

    def _subtitle_file(self, request: Request, upload: Upload) -> Reply:
        if request.value("media_type") not in ("text/srt", None):
            return invalid(f"The `media_type` value [{request.value('media_type')}] is not text/srt")
        try:
            cues = list(srt.parse(upload.data.decode("utf-8")))
        except (UnicodeDecodeError, srt.SRTParseError, srt.TimestampParseError, ValueError):
            return invalid("The subtitles file is not a valid SRT file")
        if not cues:
            return invalid("The subtitles file has no cues")
        media_id = str(next(self._ids))
        self.media[media_id] = {"upload": upload, "category": "subtitles", "alt": None}
        return Reply(200, {"data": {"id": media_id, "media_key": f"16_{media_id}", "expires_after_secs": MEDIA_TTL}})

    def _subtitles(self, request: Request) -> Reply:
        body = _json_body(request)
        video = self._video(str(body.get("id")))
        subtitles = body.get("subtitles")
        if video is None or video["state"] == "initialized":
            return invalid(f"The media id [{body.get('id')}] is not a video", id=[str(body.get("id"))])
        if body.get("media_category") != "TweetVideo" or not isinstance(subtitles, dict):
            return invalid("`media_category` must be TweetVideo and `subtitles` an object")
        file = self.media.get(str(subtitles.get("id")))
        if file is None or file.get("category") != "subtitles":
            return invalid(f"The media id [{subtitles.get('id')}] is not subtitles", subtitles=[str(subtitles)])
        if not isinstance(subtitles.get("language_code"), str) or not subtitles["language_code"]:
            return invalid("`subtitles.language_code` is required")
        video["subtitles"].append({**subtitles, "srt": file["upload"].data.decode("utf-8")})
        return Reply(
            200, {"data": {"id": body["id"], "media_category": "TweetVideo", "associated_subtitles": [subtitles]}}
        )

    def _metadata(self, request: Request) -> Reply:
        body = _json_body(request)
        media_id = body.get("id")
        metadata = body.get("metadata")
        alt = metadata.get("alt_text", {}).get("text") if isinstance(metadata, dict) else None
        if media_id not in self.media:
            return invalid(f"The media id [{media_id}] is not valid", id=[str(media_id)])
        if not isinstance(alt, str) or len(alt) > 1000:
            return invalid("alt_text.text must be a string of at most 1000 characters")
        self.media[media_id]["alt"] = alt
        return Reply(200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}})

    def _create(self, request: Request) -> Reply:
        body = _json_body(request)
        text = body.get("text")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if not isinstance(text, str) or (not text.strip() and not media_ids):
            return invalid("The `text` field is required when no media is attached")
        if x_weighted_length(text) > 280:
            return problem(
                400,
                "Invalid Request",
                "Your Tweet text is too long. For more information on how X counts characters, see https://docs.x.com/resources/fundamentals/counting-characters",
            )
        if len(media_ids) > 4 or any(not self._attachable(m) for m in media_ids):
            return invalid("Your media IDs are invalid.", media_ids=[str(m) for m in media_ids])
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and all(p["id"] != reply_to for p in self.posts):
            return invalid("The tweet you are replying to does not exist", in_reply_to_tweet_id=[str(reply_to)])
        if text in self._texts:
            return problem(403, "Forbidden", _DUPLICATE)
        self._texts.add(text)
        post_id = str(next(self._ids))
        shown = self._as_x_shows(text, bool(media_ids))
        self.posts.append(
            {
                "id": post_id,
                "text": shown,
                "sent_text": text,
                "created_at": _stamp(datetime.now(UTC)),
                "media_ids": list(media_ids),
                "reply_to": reply_to,
                "author_id": self.user_id,
                "conversation_id": self._conversation_of(reply_to) or post_id,
            }
        )
        return Reply(201, {"data": {"id": post_id, "text": shown}})

    def _attachable(self, media_id: str) -> bool:
        """An image, or a video whose processing succeeded and that has not expired (never subtitles)."""
        media = self.media.get(media_id)
        if media is None or media.get("category") == "subtitles":
            return False
        return "chunks" not in media or (self._video(media_id) is not None and media["state"] == "succeeded")

    def add_reply(self, post_id: str, username: str, text: str, *, ago: timedelta = timedelta(0)) -> str:
        """Someone else (`username`) answers `post_id` (`ago` before now); the reply's id."""
        with self.lock:
            conversation = self._conversation_of(post_id)
            assert conversation is not None, f"no post {post_id}"
            user_id = next((i for i, name in self.users.items() if name == username), None)
            if user_id is None:
                user_id = str(2_000_000 + len(self.users))
                self.users[user_id] = username
            reply_id = str(next(self._ids))
            self.posts.append(
                {
                    "id": reply_id,
                    "text": self._as_x_shows(f"@{self.username} {text}", False),
                    "sent_text": text,
                    "created_at": _stamp(datetime.now(UTC) - ago),
                    "media_ids": [],
                    "reply_to": post_id,
                    "author_id": user_id,
                    "conversation_id": conversation,
                }
            )
            return reply_id

    def rate_limit(self, path: str = "/2/tweets/search/recent", reset_in: int = 300, times: int = 1) -> None:
        """The next `times` GETs of `path` get X's 429, with x-rate-limit-reset `reset_in` seconds ahead."""
        headers = {
            "x-rate-limit-limit": "60",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(time.time()) + reset_in),
        }
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
        self.fail("GET", path, 429, body, headers, times)

    def _conversation_of(self, post_id: str | None) -> str | None:
        post = next((p for p in self.posts if p["id"] == post_id), None)
        return None if post is None else str(post["conversation_id"])

    def _search(self, request: Request) -> Reply:
        """GET /2/tweets/search/recent for one conversation, as the documentation describes it."""
        if not self.search_allowed:
            return Reply(
                403,
                {
                    "client_id": "27000001",
                    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
                    "tokens from a Twitter developer App that is attached to a Project. You can create a project "
                    "via the developer portal.",
                    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
                    "title": "Client Forbidden",
                    "required_enrollment": "Appropriate Level of API Access",
                    "reason": "client-not-enrolled",
                    "type": "https://api.twitter.com/2/problems/client-forbidden",
                },
            )
        query = request.value("query") or ""
        wanted = _QUERY.fullmatch(query.strip())
        if wanted is None:
            return invalid(
                "This fake only knows the queries `conversation_id:<id>` and `from:<username>`", query=[query]
            )
        operator, value = wanted.groups()
        try:
            size = int(request.value("max_results", "10") or 10)
        except ValueError:
            size = 0
        if not 10 <= size <= 100:
            return invalid(f"The `max_results` query parameter value [{size}] is not between 10 and 100")
        oldest = datetime.now(UTC) - RECENT
        posts = [
            p
            for p in reversed(self.posts)
            if (p["conversation_id"] if operator == "conversation_id" else self.users[p["author_id"]]) == value
            and _parse(p["created_at"]) >= oldest
        ]
        offset = int(request.value("next_token", "0") or 0)
        page = posts[offset : offset + size]
        if not page:
            return Reply(200, {"meta": {"result_count": 0}})
        fields = set((request.value("tweet.fields") or "").split(","))
        data = []
        for p in page:
            item = {"id": p["id"], "text": p["text"], "edit_history_tweet_ids": [p["id"]]}
            for name in ("author_id", "created_at", "conversation_id"):
                if name in fields:
                    item[name] = p[name]
            if "in_reply_to_user_id" in fields and p["reply_to"] is not None:
                parent = next(q for q in self.posts if q["id"] == p["reply_to"])
                item["in_reply_to_user_id"] = parent["author_id"]
            data.append(item)
        body: dict[str, Any] = {"data": data}
        if "author_id" in (request.value("expansions") or "").split(","):
            # id, name and username are a user's default fields, there whether asked for or not.
            authors = dict.fromkeys(p["author_id"] for p in page)
            users = [{"id": i, "name": self.users[i].title(), "username": self.users[i]} for i in authors]
            body["includes"] = {"users": users}
        meta: dict[str, Any] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if offset + size < len(posts):
            meta["next_token"] = str(offset + size)
        body["meta"] = meta
        return Reply(200, body)

    def set_metrics(self, post_id: str, *, likes: int = 0, retweets: int = 0, impressions: int = 0) -> None:
        with self.lock:
            self.metrics[post_id] = {"like_count": likes, "retweet_count": retweets, "impression_count": impressions}

    def _lookup(self, request: Request) -> Reply:
        """GET /2/tweets: up to 100 ids; unknown ones in `errors` (resource-not-found), the rest in `data`."""
        ids = [i for i in (request.value("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return invalid("The `ids` query parameter value must have between 1 and 100 items", ids=ids)
        fields = (request.value("tweet.fields") or "").split(",")
        data, errors = [], []
        for post_id in ids:
            post = next((p for p in self.posts if p["id"] == post_id), None)
            if post is None:
                errors.append(
                    {
                        "value": post_id,
                        "detail": f"Could not find tweet with ids: [{post_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": post_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                )
                continue
            item: dict[str, Any] = {"id": post_id, "text": post["text"], "edit_history_tweet_ids": [post_id]}
            if "public_metrics" in fields:
                replies = sum(1 for p in self.posts if p.get("reply_to") == post_id)
                shown = {
                    "retweet_count": 0,
                    "like_count": 0,
                    "quote_count": 0,
                    "bookmark_count": 0,
                    "impression_count": 0,
                }
                item["public_metrics"] = {**shown, **self.metrics.get(post_id, {}), "reply_count": replies}
            data.append(item)
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return Reply(200, body)

    def _timeline(self, request: Request) -> Reply:
        if request.path != f"/2/users/{self.user_id}/tweets":
            return problem(403, "Forbidden", "You can only read your own timeline in this fake")
        start = request.value("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        size = int(request.value("max_results", "10") or 10)
        if not 5 <= size <= 100:
            return invalid(f"The `max_results` query parameter value [{size}] is not between 5 and 100")
        fields = (request.value("tweet.fields") or "").split(",")
        posts = [
            p
            for p in reversed(self.posts)
            if p["author_id"] == self.user_id and (since is None or _parse(p["created_at"]) >= since)
        ]
        offset = int(request.value("pagination_token", "0") or 0)
        page = posts[offset : offset + size]
        if not page:
            return Reply(200, {"meta": {"result_count": 0}})
        data = []
        for p in page:
            item = {"id": p["id"], "text": p["text"], "edit_history_tweet_ids": [p["id"]]}
            if "created_at" in fields:
                item["created_at"] = p["created_at"]
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + size < len(posts):
            meta["next_token"] = str(offset + size)
        return Reply(200, {"data": data, "meta": meta})

    # -- what X does to a text ---------------------------------------------------------------

    def _as_x_shows(self, text: str, has_media: bool) -> str:
        """Every link as a t.co link, &<> escaped, and a t.co link for attached media at the end."""
        pieces, last = [], 0
        for item in twitter_text.extract_urls_with_indices(text):
            start, end = item["indices"]
            pieces += [html.escape(text[last:start], quote=False), self._tco()]
            last = end
        pieces.append(html.escape(text[last:], quote=False))
        shown = "".join(pieces)
        return f"{shown} {self._tco()}" if has_media else shown

    def _tco(self) -> str:
        return f"https://t.co/{next(self._links):010d}"

    @staticmethod
    def _limited(reply: Reply) -> Reply:
        reply.headers.setdefault("x-rate-limit-limit", "100")
        reply.headers.setdefault("x-rate-limit-remaining", "99")
        reply.headers.setdefault("x-rate-limit-reset", str(int(time.time()) + 900))
        return reply


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
