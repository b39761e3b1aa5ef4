"""Video on Bluesky through its video service, as docs.bsky.app "Uploading Video" and the lexicons
app.bsky.video.* and app.bsky.embed.video document it:

1. `app.bsky.video.getUploadLimits` on the video service, with a service-auth token from the PDS
   (`com.atproto.server.getServiceAuth`, aud the service's did:web, lxm that method). An account that
   cannot upload a video today (canUpload false, no videos or bytes left) waits: RetryLater with the
   service's reason, tried again in an hour.
2. `app.bsky.video.uploadVideo?did=&name=` with a service-auth token whose aud is the account's PDS
   (did:web of the PDS the DID document names) and lxm `com.atproto.repo.uploadBlob`, valid 30 minutes:
   the service stores the processed video on the PDS for the account. A video it has seen before is
   answered `already_exists` with the earlier job.
3. `app.bsky.video.getJobStatus` polled until JOB_STATE_COMPLETED (its blob) or JOB_STATE_FAILED
   (Rejected: the send fails with an alert, nothing is posted). Longer than `video_timeout` seconds is
   RetryLater; the next attempt polls the same job.
4. Each captions file uploaded as a blob (`text/vtt`; an .srt converted), then the post's
   `app.bsky.embed.video` with `alt`, `aspectRatio` (the probe's width and height) and `captions`.

The job id, and once processed its blob, is kept in the ledger (`Channel.uploads`) for the send, so a
retry or a restart uses it instead of uploading again. Settings: `video_service` (default
https://video.bsky.app), `video_timeout` (default 120).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from scheduler.channels._secretguard import detached
from scheduler.channels.base import UploadMemory
from scheduler.channels.http import check_status, error_message, send, session
from scheduler.channels.uploads import SendUploads, digest
from scheduler.content.text import graphemes
from scheduler.errors import ChannelError, ConfigError, Rejected, RetryLater
from scheduler.media import captions as captions_file
from scheduler.media import video as video_file
from scheduler.posts import MediaItem, VideoRules
from scheduler.secrets import remember

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "https://video.bsky.app"
#: Bluesky's video announcement (2024-09-11) and its update of 2025-03-12: one video per post, up to
#: 3 minutes and 100 MB (app.bsky.embed.video: video maxSize 100000000), .mp4 .mpeg .webm .mov.
VIDEO = VideoRules("Bluesky", kinds=frozenset({".mp4", ".mov", ".webm"}), max_bytes=100_000_000, max_seconds=180)
MAX_ALT_GRAPHEMES, MAX_ALT_BYTES = 1000, 10_000  # app.bsky.embed.video: alt maxGraphemes, maxLength
MAX_CAPTIONS, MAX_CAPTION_BYTES = 20, 20_000  # app.bsky.embed.video: captions maxLength, caption file maxSize
#: A kept job or blob is used for this long; the PDS drops a blob no record refers to, and a createRecord
#: that no longer finds it forgets the upload (`refused`), so the next attempt uploads again.
VIDEO_REUSE = timedelta(hours=6)
LIMITS_WAIT = 3600.0  # seconds: the service says a day's limit is reached, not when it ends
UPLOAD_LXM = "com.atproto.repo.uploadBlob"
LIMITS_LXM = "app.bsky.video.getUploadLimits"
COMPLETED, FAILED = "JOB_STATE_COMPLETED", "JOB_STATE_FAILED"
_POLL_FIRST, _POLL_MAX = 0.1, 2.0  # seconds between looks at a job: doubling up to the most
_JOB = "job:"  # a kept remote id: "job:<id>" while processing, the blob's JSON once processed


class _Did(Protocol):
    @property
    def did(self) -> str: ...


class Account(Protocol):
    """What the video takes from the Bluesky channel: its name, session, PDS calls and ledger memory."""

    name: str
    handle: str
    pds: str
    uploads: UploadMemory | None

    def _ensure_session(self) -> _Did: ...

    def _call(self, method: str, nsid: str, *, may_publish: bool = False, **kwargs: Any) -> requests.Response: ...

    def _upload(self, data: bytes, mime: str) -> dict[str, Any]: ...


class BlueskyVideo:
    """The video of one Bluesky channel's posts (its session, ledger memory and name are the channel's)."""

    def __init__(self, channel: Account, settings: Mapping[str, Any]) -> None:
        self.channel = channel
        self.service = str(settings.get("video_service") or DEFAULT_SERVICE).strip().rstrip("/")
        if not self.service.startswith(("https://", "http://")):
            raise ConfigError(f"channel {channel.name}: `video_service` must be an http(s) URL, not {self.service!r}")
        try:
            self.timeout = float(settings.get("video_timeout", 120))
        except (TypeError, ValueError):
            raise ConfigError(f"channel {channel.name}: `video_timeout` must be a number of seconds") from None
        self.service_did = f"did:web:{urlsplit(self.service).hostname}"
        self._http = session()

    def embed(self, item: MediaItem, key: str) -> dict[str, Any]:
        """The `app.bsky.embed.video` of `item`, its video processed by the service and captions uploaded."""
        uploads = SendUploads(self.channel.uploads, self.channel.name, key, VIDEO_REUSE)
        try:
            tracks, ratio = self._checked(item)
            blob = self._video_blob(item, uploads)
            files = [{"lang": lang, "file": self.channel._upload(data, "text/vtt")} for lang, data in tracks]
        except Rejected:
            uploads.forget()  # refused or failed in processing: a retry after a fix uploads the new file
            raise
        found: dict[str, Any] = {"$type": "app.bsky.embed.video", "video": blob, "aspectRatio": ratio}
        if item.alt:
            found["alt"] = item.alt
        if files:
            found["captions"] = files
        return found

    def forget(self, key: str) -> None:
        """The send's post is out: no attempt may use its upload again."""
        SendUploads(self.channel.uploads, self.channel.name, key, VIDEO_REUSE).forget()

    def refused(self, key: str, record: Mapping[str, Any], response: requests.Response) -> None:
        """createRecord refused a post with a video for good: its upload is forgotten, and one the PDS no
        longer holds is uploaded again at the next attempt (RetryLater) rather than failing the send."""
        embed = record.get("embed")
        status = response.status_code
        if (
            not isinstance(embed, Mapping)
            or embed.get("$type") != "app.bsky.embed.video"
            or status == 429
            or status >= 500
        ):
            return  # not refused for good: the next attempt uses the same video
        self.forget(key)
        body = _json(response)
        name = str(body.get("error") or "") if isinstance(body, Mapping) else ""
        text = f"{name} {body.get('message') if isinstance(body, Mapping) else ''}".lower()
        if status == 400 and ("blobnotfound" in text or "could not find blob" in text):
            raise RetryLater("the PDS no longer holds the processed video; it is uploaded again")

    def close(self) -> None:
        self._http.close()

    # -- before anything goes out --------------------------------------------------------------

    def _checked(self, item: MediaItem) -> tuple[list[tuple[str, bytes]], dict[str, int]]:
        """(captions as WebVTT by language, aspect ratio), or Rejected before anything is uploaded."""
        name, problems = item.path.name, []
        try:
            size = item.path.stat().st_size
        except OSError as exc:
            raise Rejected(f"cannot read {name}: {exc.strerror}") from None
        if VIDEO.max_bytes and size > VIDEO.max_bytes:
            problems.append(f"{name} is {size:,} bytes, over Bluesky's {VIDEO.max_bytes:,} for a video")
        if graphemes(item.alt) > MAX_ALT_GRAPHEMES or len(item.alt.encode()) > MAX_ALT_BYTES:
            problems.append(f"alt text of {name} is over Bluesky's {MAX_ALT_GRAPHEMES} characters")
        if len(item.captions) > MAX_CAPTIONS:
            problems.append(f"{name} has {len(item.captions)} captions files, Bluesky takes at most {MAX_CAPTIONS}")
        tracks = []
        for caption in item.captions:
            try:
                data = captions_file.as_webvtt(caption.path)
            except captions_file.CaptionsUnreadable as exc:
                problems.append(exc.problem.message)
                continue
            if len(data) > MAX_CAPTION_BYTES:
                problems.append(
                    f"{caption.path.name} is {len(data):,} bytes as WebVTT, over Bluesky's {MAX_CAPTION_BYTES:,}"
                )
            tracks.append((caption.language, data))
        facts = item.video
        if facts is None:
            try:
                facts = video_file.probe(item.path)
            except video_file.VideoUnreadable as exc:
                problems.append(exc.message)
        if problems or facts is None:
            raise Rejected("; ".join(problems))
        return tracks, {"width": max(1, facts.width), "height": max(1, facts.height)}

    # -- the video service ---------------------------------------------------------------------

    def _video_blob(self, item: MediaItem, uploads: SendUploads) -> dict[str, Any]:
        try:
            sha = digest(item)
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        kept = uploads.recall(item, sha)
        if kept is not None and not kept.startswith(_JOB):
            blob = _blob(_loads(kept))
            if blob is not None:
                log.info("bluesky: %s uses the processed upload of %s", self.channel.name, item.path.name)
                return blob
        if kept is not None and kept.startswith(_JOB):
            status = self._job(kept.removeprefix(_JOB), known=True)
            if status is not None:
                log.info("bluesky: %s goes on with job %s of %s", self.channel.name, kept, item.path.name)
                return self._until_done(status, item, uploads, sha)
        self._check_limits(item)
        return self._until_done(self._upload(item), item, uploads, sha)

    def _check_limits(self, item: MediaItem) -> None:
        token = self._service_token(self.service_did, LIMITS_LXM)
        response = self._send("GET", LIMITS_LXM, token=token)
        limits = _json(self._checked_response(response))
        limits = limits if isinstance(limits, Mapping) else {}
        size = item.path.stat().st_size
        why = None
        if limits.get("canUpload") is False:
            why = str(limits.get("message") or limits.get("error") or "it cannot upload videos now")
        elif _int(limits.get("remainingDailyVideos")) == 0:
            why = "no videos left for today"
        elif (left := _int(limits.get("remainingDailyBytes"))) is not None and left < size:
            why = f"{left:,} bytes left for today, {item.path.name} is {size:,}"
        if why is not None:
            raise RetryLater(
                f"Bluesky's video service takes no video from {self.channel.handle} now ({why}); "
                "the post waits and is tried again in an hour",
                LIMITS_WAIT,
            )

    def _upload(self, item: MediaItem) -> Mapping[str, Any]:
        did = self.channel._ensure_session().did
        token = self._service_token(self._pds_did(), UPLOAD_LXM, expires_in=1800)
        mime = mimetypes.guess_type(item.path.name)[0] or "video/mp4"
        params = {"did": did, "name": item.path.name}
        try:
            with item.path.open("rb") as handle:
                # Uploading publishes nothing: an answer lost is RetryLater, and the service knows the
                # video again (already_exists) when it comes back.
                response = self._send(
                    "POST", "app.bsky.video.uploadVideo", token=token, params=params, data=handle,
                    headers={"Content-Type": mime, "Content-Length": str(item.path.stat().st_size)},
                )  # fmt: skip
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        status = _status(_json(response))
        if response.status_code == 409 and status is not None and (status.get("jobId") or _blob(status.get("blob"))):
            log.info("bluesky: the video service already has %s", item.path.name)
            return status
        if 400 <= response.status_code < 500 and "limit" in json.dumps(_json(response) or "").lower():
            # The day's limit reached between the look at the limits and the upload: wait, as there.
            words = error_message(response, _text)
            raise RetryLater(
                f"Bluesky's video service refused {item.path.name} for now ({words}); tried again in an hour",
                LIMITS_WAIT,
            )
        self._checked_response(response)
        if status is None or not (status.get("jobId") or _blob(status.get("blob"))):
            raise RetryLater(f"the video service answered the upload of {item.path.name} without a job")
        return status

    def _until_done(self, status: Mapping[str, Any], item: MediaItem, uploads: SendUploads, sha: str) -> dict[str, Any]:
        """The blob of a job, polled until it is processed; RetryLater past `video_timeout`."""
        job = str(status.get("jobId") or "")
        if job and not _blob(status.get("blob")):
            uploads.keep(sha, _JOB + job)  # before the wait: a stop while it is processed uses it
        deadline, delay = time.monotonic() + self.timeout, _POLL_FIRST
        while True:
            blob = _blob(status.get("blob"))
            if blob is not None:
                kept = json.dumps(blob, separators=(",", ":"))
                if len(kept) <= 300:  # media_uploads.remote_id; else the job id stays kept
                    uploads.keep(sha, kept)
                return blob
            if status.get("state") == FAILED or not job:
                said = ": ".join(str(status[k]) for k in ("error", "message") if status.get(k))
                raise Rejected(
                    f"Bluesky's video service could not process {item.path.name}"
                    f"{f' ({said})' if said else ''}; export it again, e.g. as H.264 .mp4, and retry"
                )
            if time.monotonic() + delay > deadline:
                raise RetryLater(f"Bluesky is still processing {item.path.name} after {self.timeout:g} s")
            log.debug("bluesky: job %s is %s", job, status.get("state"))
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
            found = self._job(job)
            status = found if found is not None else {"jobId": job, "state": FAILED, "error": "the job is gone"}

    def _job(self, job: str, known: bool = False) -> Mapping[str, Any] | None:
        """getJobStatus of `job` (no authentication, as documented); None if the service does not know it."""
        response = self._send("GET", "app.bsky.video.getJobStatus", params={"jobId": job})
        if known and 400 <= response.status_code < 500 and response.status_code != 429:
            return None  # a kept job the service no longer has: upload again
        return _status(_json(self._checked_response(response)))

    # -- tokens --------------------------------------------------------------------------------

    def _service_token(self, aud: str, lxm: str, expires_in: int | None = None) -> str:
        params: dict[str, Any] = {"aud": aud, "lxm": lxm}
        if expires_in is not None:
            params["exp"] = int(time.time()) + expires_in
        response = self.channel._call("GET", "com.atproto.server.getServiceAuth", params=params)
        token = _json(self._checked_response(response))
        token = token.get("token") if isinstance(token, Mapping) else None
        if not isinstance(token, str) or not token:
            raise RetryLater("the PDS answered getServiceAuth without a token")
        remember(token)  # a service that echoes the Authorization header must not leak it
        return token

    def _pds_did(self) -> str:
        """did:web of the PDS that holds the account's repository (the DID document's #atproto_pds): the
        video service stores the video there. bsky.social is an entryway, not that PDS."""
        response = self.channel._call("GET", "com.atproto.server.getSession")
        body = _json(self._checked_response(response))
        services = body.get("didDoc", {}).get("service") if isinstance(body, Mapping) else None
        for service in services if isinstance(services, list) else []:
            if isinstance(service, Mapping) and str(service.get("id", "")).endswith("#atproto_pds"):
                host = urlsplit(str(service.get("serviceEndpoint") or "")).hostname
                if host:
                    return f"did:web:{host}"
        return f"did:web:{urlsplit(self.channel.pds).hostname}"

    # -- HTTP ----------------------------------------------------------------------------------

    def _send(self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return send(
                self._http, method, f"{self.service}/xrpc/{nsid}", may_publish=False, headers=headers,
                allow_redirects=False, **kwargs,
            )  # fmt: skip
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"video service unreachable ({self.service}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        raise detached(error)

    def _checked_response(self, response: requests.Response) -> requests.Response:
        """`response` if 2xx; RetryLater for 429 and 5xx; Rejected with the service's words otherwise."""
        return check_status(response, _text)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _status(body: Any) -> Mapping[str, Any] | None:
    """app.bsky.video.defs#jobStatus from an answer: under `jobStatus` (the lexicons' output) or the body itself."""
    if not isinstance(body, Mapping):
        return None
    inner = body.get("jobStatus")
    return inner if isinstance(inner, Mapping) else body


def _blob(value: Any) -> dict[str, Any] | None:
    """A blob reference ({"$type": "blob", "ref": {"$link": cid}, "mimeType", "size"}) if `value` is one."""
    if isinstance(value, Mapping) and isinstance(value.get("ref"), Mapping) and value["ref"].get("$link"):
        return dict(value)
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(body: Any) -> str | None:
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        message = body.get("message")
        return f"{body['error']}: {message}" if isinstance(message, str) and message else body["error"]
    return None
