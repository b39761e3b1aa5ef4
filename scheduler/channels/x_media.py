"""A video on X: the chunked media upload of the X API v2 and the video's subtitles, as documented
(docs.x.com, x-api/media: quickstart/media-upload-chunked, create-media-subtitles).

1. `POST /2/media/upload/initialize` (JSON `media_type`, `total_bytes`, `media_category=tweet_video`)
   gives the media id; 2. `POST /2/media/upload/:id/append` sends the file in chunks (multipart
   `segment_index`, `media`); 3. `POST /2/media/upload/:id/finalize` ends it, and its `processing_info`
   says whether X still processes the video; 4. `GET /2/media/upload?command=STATUS&media_id=:id` is
   asked after `check_after_secs`, as often as X says, until `state` is `succeeded` (or `failed`:
   Rejected with X's reason, never posted). The alt text goes through `POST /2/media/metadata`, like an
   image's. Each captions file is uploaded as subtitles (`POST /2/media/upload`, `media_category=subtitles`,
   SubRip: a .vtt is converted by webvtt-py) and associated with the video (`POST /2/media/subtitles`,
   language code and the language's name) before the post.

The media id is kept in the ledger (scheduler.channels.uploads) as soon as FINALIZE answered, before
the wait: a retry or a restart asks STATUS for it and attaches it while X still holds it
(`expires_after_secs` more than the wait ahead), else uploads the file again. Only a finalized id is
kept: an id of an unfinished upload would be refused by the post. A subtitle associated with a kept
video is kept too, so a restart does not add it a second time.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import requests
from babel import Locale, UnknownLocaleError

from scheduler.channels import http
from scheduler.channels.base import UploadMemory
from scheduler.channels.uploads import SendUploads, digest
from scheduler.errors import Rejected, RetryLater
from scheduler.media.captions import CaptionsUnreadable, as_srt
from scheduler.posts import Caption, MediaItem, VideoRules

log = logging.getLogger(__name__)

#: docs (media best practices): MP4/MOV, H.264 + AAC, 512 MB, 140 s for most accounts.
VIDEO = VideoRules("X", frozenset({".mp4", ".mov"}), 512 << 20, 140, None, None, ("h264",), ("aac",))
CHUNK = 4 << 20  # bytes per APPEND; X takes chunks of up to 5 MB
MAX_ALT = 1000  # characters of alt text (media metadata), for images and videos
#: The ledger forgets uploads after two days; X says per upload how long it keeps it (STATUS).
REUSE = timedelta(days=1)
DEFAULT_WAIT = 120.0  # seconds to wait for X to process a video (`media_timeout`)
_MIME = {".mp4": "video/mp4", ".mov": "video/quicktime"}

Request = Callable[..., requests.Response]


class XVideo:
    """The videos of one send (`key`) on one X channel. `request` and `checked` are the channel's own
    (OAuth-signed, its errors in a person's words); `wait` is how long one attempt waits for processing."""

    def __init__(
        self,
        request: Request,
        checked: Callable[[requests.Response], requests.Response],
        channel: str,
        memory: UploadMemory | None,
        key: str,
        wait: float = DEFAULT_WAIT,
    ) -> None:
        self._request, self._checked, self._wait = request, checked, wait
        self.uploads = SendUploads(memory, channel, key, REUSE)

    def refuse(self, item: MediaItem) -> list[str]:
        """How `item` is over what X documents, found before anything is uploaded."""
        suffix = item.path.suffix.lower()
        if suffix not in VIDEO.kinds:
            return [f"{item.path.name}: X takes video as .mp4 or .mov (H.264 and AAC)"]
        try:
            size = item.path.stat().st_size
        except OSError as exc:
            return [f"cannot read {item.path.name}: {exc.strerror}"]
        problems = []
        if VIDEO.max_bytes is not None and size > VIDEO.max_bytes:
            problems.append(f"{item.path.name} is {size:,} bytes, over X's {VIDEO.max_bytes:,} for a video")
        seconds = item.video.seconds if item.video is not None else None
        if seconds is not None and VIDEO.max_seconds is not None and seconds > VIDEO.max_seconds:
            problems.append(f"{item.path.name} is {seconds:g} s long, over X's {VIDEO.max_seconds:g} s")
        if len(item.alt) > MAX_ALT:
            problems.append(f"alt text of {item.path.name} is {len(item.alt)} characters, X takes {MAX_ALT}")
        return problems

    def upload(self, item: MediaItem) -> str:
        """The media id of `item` once X has processed it, with its alt text and subtitles: an upload an
        earlier attempt left is attached where X still holds it, else the file is uploaded."""
        try:
            try:
                sha = digest(item)
            except OSError as exc:
                raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
            known = self.uploads.recall(item, sha)
            info = self._still_there(known) if known is not None else None
            if known is not None and info is not None:
                log.info("x: reusing upload %s of %s", known, item.path.name)
                media_id = known
            else:
                media_id = self._send_file(item)
                info = self._finalize(media_id)
                self.uploads.keep(sha, media_id)  # before the wait: a stop while X processes it reuses it
            self._until_processed(media_id, info, item.path.name)
            if item.alt.strip():
                self._describe(media_id, item)
            for caption in item.captions:
                self._subtitle(item, media_id, caption)
        except Rejected:
            self.uploads.forget()  # refused or failed in processing: a retry after a fix uploads the new file
            raise
        return media_id

    def posted(self) -> None:
        """The videos are attached to a post: no attempt may reuse them."""
        self.uploads.forget()

    # -- the steps -----------------------------------------------------------------------------

    def _send_file(self, item: MediaItem) -> str:
        """INITIALIZE and APPEND: the media id of the whole file, not yet finalized."""
        try:
            size = item.path.stat().st_size
            body = {"media_type": _MIME[item.path.suffix.lower()], "total_bytes": size, "media_category": "tweet_video"}
            data = _data(self._checked(self._request("POST", "/2/media/upload/initialize", json=body)))
            media_id = data.get("id")
            if not isinstance(media_id, str) or not media_id:
                raise RetryLater(f"X answered the start of the upload of {item.path.name} without a media id")
            with item.path.open("rb") as handle:
                segment = 0
                while chunk := handle.read(CHUNK):
                    self._checked(
                        self._request(
                            "POST",
                            f"/2/media/upload/{media_id}/append",
                            data={"segment_index": str(segment)},
                            files={"media": ("chunk", chunk, "application/octet-stream")},
                            timeout=http.upload_timeout(len(chunk)),
                        )
                    )
                    segment += 1
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        return media_id

    def _finalize(self, media_id: str) -> Mapping[str, Any]:
        return _data(self._checked(self._request("POST", f"/2/media/upload/{media_id}/finalize")))

    def _status(self, media_id: str) -> requests.Response:
        return self._request("GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id})

    def _still_there(self, media_id: str) -> Mapping[str, Any] | None:
        """STATUS of a kept upload if X holds it long enough to be waited for and posted; else None."""
        response = self._status(media_id)
        if 400 <= response.status_code < 500 and response.status_code != 429:
            return None  # expired or unknown: uploaded again
        info = _data(self._checked(response))
        left = info.get("expires_after_secs")
        if isinstance(left, int | float) and left < self._wait + 60:
            return None  # X drops it before it could be posted
        return info

    def _until_processed(self, media_id: str, info: Mapping[str, Any], name: str) -> None:
        """Ask STATUS as X's `check_after_secs` says until the video is processed (no `processing_info`:
        nothing to process); Rejected if processing failed, RetryLater past this attempt's wait."""
        deadline = time.monotonic() + self._wait
        while True:
            processing = info.get("processing_info")
            state = processing.get("state") if isinstance(processing, Mapping) else "succeeded"
            if state == "succeeded":
                return
            if state == "failed":
                error = processing.get("error") if isinstance(processing, Mapping) else None
                said = error.get("message") if isinstance(error, Mapping) else None
                raise Rejected(
                    f"X could not process {name} ({said or 'no reason given'}); export it again as H.264 and "
                    "AAC in .mp4, within X's limits"
                )
            after = processing.get("check_after_secs") if isinstance(processing, Mapping) else None
            delay = float(after) if isinstance(after, int | float) and after >= 0 else 1.0
            if time.monotonic() + delay > deadline:
                raise RetryLater(f"X is still processing {name} after {self._wait:g} s; the next attempt waits on")
            log.debug("x: X processes %s (%s), asking again in %g s", name, state, delay)
            time.sleep(delay)
            info = _data(self._checked(self._status(media_id)))

    def _describe(self, media_id: str, item: MediaItem) -> None:
        """The video's alt text. X's older documentation gives alt text to images and GIFs only: a video's
        refused (4xx) is said in the log and the video goes without it, with its captions, rather than not at all."""
        body = {"id": media_id, "metadata": {"alt_text": {"text": item.alt}}}
        response = self._request("POST", "/2/media/metadata", json=body)
        if 400 <= response.status_code < 500 and response.status_code not in (401, 429):
            log.warning(
                "x: X did not take the alt text of %s (HTTP %d); the video goes out without it",
                item.path.name,
                response.status_code,
            )
            return
        self._checked(response)

    def _subtitle(self, item: MediaItem, video_id: str, caption: Caption) -> None:
        """Upload one captions file as SubRip subtitles and associate it with the video (once per video)."""
        try:
            text = as_srt(caption.path)
        except CaptionsUnreadable as exc:
            raise Rejected(exc.problem.message) from None
        marker = hashlib.sha256(f"subtitles\0{video_id}\0{caption.language}\0{text}".encode()).hexdigest()
        if self.uploads.recall(item, marker) is not None:
            return  # associated by an earlier attempt with this very video
        name = caption.path.with_suffix(".srt").name
        response = self._request(
            "POST",
            "/2/media/upload",
            files={"media": (name, text.encode("utf-8"), "text/srt")},
            data={"media_category": "subtitles", "media_type": "text/srt"},
        )
        subtitle_id = _data(self._checked(response)).get("id")
        if not isinstance(subtitle_id, str) or not subtitle_id:
            raise RetryLater(f"X answered the upload of {caption.path.name} without a media id")
        body = {
            "id": video_id,
            "media_category": "TweetVideo",
            "subtitles": {
                "id": subtitle_id,
                "language_code": caption.language.upper(),
                "display_name": language_name(caption.language),
            },
        }
        self._checked(self._request("POST", "/2/media/subtitles", json=body))
        self.uploads.keep(marker, subtitle_id)


def language_name(code: str) -> str:
    """The language's own name ("Nederlands" for nl), as viewers pick subtitles; the code if unknown."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return (name[:1].upper() + name[1:]) if name else code


def _data(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, Mapping) else None
    return data if isinstance(data, Mapping) else {}
