"""A video on a LinkedIn Page through the Videos API (learn.microsoft.com/linkedin: Community Management →
Videos API), in steps that a retry or a restart continues from, so a video is uploaded once:

1. `POST /rest/videos?action=initializeUpload` with the organization as `owner`, `fileSizeBytes`,
   `uploadCaptions` (true when the post has a captions file) and `uploadThumbnail: false` gives the
   video's URN (`value.video`), its `uploadInstructions` (byte ranges `firstByte`..`lastByte`, each with
   its signed `uploadUrl`: LinkedIn cuts a file into parts of 4 MB), an `uploadToken` and, with
   captions, a `captionsUploadUrl`.
2. Each part's bytes are PUT to its URL without the API's headers (Rest.upload), keeping the `ETag`
   of each answer in order; the captions file (SubRip: a .vtt is converted) is PUT to its URL.
3. `POST /rest/videos?action=finalizeUpload` with the video, the upload token and the ETags in order
   as `uploadedPartIds`. From here the video's URN is kept in the ledger (media_uploads) for the send.
4. `GET /rest/videos/{urn}` until its `status` is AVAILABLE (PROCESSING waits, up to `media_timeout`
   per attempt; the next attempt waits on for the same video); PROCESSING_FAILED is a refusal in
   LinkedIn's words, and the kept URN is forgotten so a retry after a fix uploads anew.

The post then carries the URN in `content.media`. LinkedIn takes one captions file per video: the one in
the post's language goes, else the first listed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from scheduler.channels.base import PauseWatch, UploadMemory
from scheduler.channels.linkedin.rest import Rest
from scheduler.channels.uploads import SendUploads, digest
from scheduler.errors import LedgerError, Rejected, RetryLater
from scheduler.media.captions import CaptionsUnreadable, as_srt
from scheduler.posts import Caption, MediaItem, RenderedPost, VideoRules

log = logging.getLogger("scheduler.channels.linkedin")

#: Videos API, video specifications: MP4, 75 KB to 5 GB, 3 seconds to 30 minutes.
VIDEO = VideoRules(
    "LinkedIn",
    kinds=frozenset({".mp4"}),
    max_bytes=5_000_000_000,
    max_seconds=30 * 60,
    min_bytes=75_000,
    min_seconds=3,
)
#: How long a video uploaded for a send is reused; LinkedIn is asked whether it still has it before.
REUSE = timedelta(days=1)
DEFAULT_WAIT = 300.0  # seconds one attempt waits for LinkedIn to process a video (`media_timeout`)
_BYTES = "application/octet-stream"  # how the Videos API's examples send a part and a captions file
_POLL_FIRST, _POLL_MAX = 0.2, 5.0


def problems(item: MediaItem) -> list[str]:
    """How a video is outside what LinkedIn documents, in words naming the limit (checked before any upload)."""
    name, found = item.path.name, []
    if item.path.suffix.lower() not in VIDEO.kinds:
        found.append(f"{name}: LinkedIn takes video as .mp4")
    try:
        size = item.path.stat().st_size
    except OSError as exc:
        return [*found, f"cannot read {name}: {exc.strerror}"]
    if VIDEO.max_bytes is not None and size > VIDEO.max_bytes:
        found.append(f"{name} is {size:,} bytes; LinkedIn takes videos up to {VIDEO.max_bytes:,}")
    if VIDEO.min_bytes is not None and size < VIDEO.min_bytes:
        found.append(f"{name} is {size:,} bytes; LinkedIn takes videos of at least {VIDEO.min_bytes:,}")
    seconds = item.video.seconds if item.video is not None else None
    if seconds is not None and VIDEO.max_seconds is not None and seconds > VIDEO.max_seconds:
        found.append(f"{name} is {seconds:.1f} seconds long; LinkedIn takes videos up to {VIDEO.max_seconds:g}")
    if seconds is not None and VIDEO.min_seconds is not None and seconds < VIDEO.min_seconds:
        found.append(f"{name} is {seconds:.1f} seconds long; LinkedIn takes videos of at least {VIDEO.min_seconds:g}")
    return found


class PageVideo:
    """The video of one send (`key`) on one Page."""

    def __init__(
        self,
        rest: Rest,
        channel: str,
        key: str,
        memory: UploadMemory | None,
        pauses: PauseWatch | None,
        wait: float = DEFAULT_WAIT,
    ) -> None:
        self._rest, self._channel, self._pauses, self._wait = rest, channel, pauses, wait
        self.uploads = SendUploads(memory, channel, key, REUSE)

    def available(self, post: RenderedPost, item: MediaItem) -> str:
        """The URN of `item` on LinkedIn once AVAILABLE: the one an earlier attempt of this send
        uploaded where LinkedIn still has it, else uploaded now."""
        caption = _caption_for(post, item)
        try:
            srt = as_srt(caption.path) if caption is not None else None
        except CaptionsUnreadable as exc:
            raise Rejected(exc.problem.message) from None
        try:
            # A changed video, alt text or captions file is a new upload: the captions go in before finalizing.
            sha = hashlib.sha256(f"{digest(item)}\0{srt or ''}".encode()).hexdigest()
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        try:
            urn = self._kept(item, sha) or self._upload(item, sha, caption, srt)
            self._until_available(urn, item.path.name)
        except Rejected:
            self.uploads.forget()  # refused: a retry after a fix starts from a new upload
            raise
        return urn

    def posted(self) -> None:
        """The post carries the video: no attempt may reuse it."""
        self.uploads.forget()

    def unless_paused(self, name: str) -> None:
        """The publisher checked the pause before the upload, which can take long: asked again here."""
        if self._pauses is None:
            return
        try:
            why = self._pauses.paused(self._channel)
        except LedgerError as exc:
            raise RetryLater(f"cannot see whether {self._channel} is paused ({exc}); {name} is not posted") from None
        if why is not None:
            raise RetryLater(f"{why}; {name} is uploaded and is posted once the pause is lifted")

    # -- the steps -----------------------------------------------------------------------------

    def _kept(self, item: MediaItem, sha: str) -> str | None:
        urn = self.uploads.recall(item, sha)
        if urn is None:
            return None
        response = self._rest.call("GET", f"/rest/videos/{quote(urn, safe='')}")
        if response.status_code in (404, 410):
            log.info("linkedin: %s no longer has video %s; uploading %s again", self._channel, urn, item.path.name)
            return None
        if not 200 <= response.status_code < 300:
            self._rest.fail(response)
        log.info("linkedin: %s continues with video %s of %s", self._channel, urn, item.path.name)
        return urn

    def _upload(self, item: MediaItem, sha: str, caption: Caption | None, srt: str | None) -> str:
        """initializeUpload, every part PUT, the captions PUT, finalizeUpload: the video's URN."""
        name = item.path.name
        try:
            size = item.path.stat().st_size
        except OSError as exc:
            raise Rejected(f"cannot read {name}: {exc.strerror}") from None
        request = {
            "owner": self._rest.author,
            "fileSizeBytes": size,
            "uploadCaptions": srt is not None,
            "uploadThumbnail": False,
        }
        answer = self._rest.checked(
            "POST", "/rest/videos", params={"action": "initializeUpload"}, json={"initializeUploadRequest": request}
        )
        value = _mapping(_mapping(_json(answer)).get("value"))
        urn, token = value.get("video"), value.get("uploadToken", "")
        parts = _parts(value.get("uploadInstructions"), size)
        if not isinstance(urn, str) or not urn or not isinstance(token, str) or parts is None:
            raise RetryLater(
                f"LinkedIn answered the upload of {name} without a video URN and instructions for its bytes"
            )
        etags = []
        try:
            with item.path.open("rb") as handle:
                for number, (first, last, url) in enumerate(parts, 1):
                    handle.seek(first)
                    data = handle.read(last - first + 1)
                    etag = self._rest.upload(url, data, _BYTES, f"{name} (part {number} of {len(parts)})")
                    if not etag:
                        raise RetryLater(f"LinkedIn answered part {number} of {name} without its ETag")
                    etags.append(etag)
        except OSError as exc:
            raise Rejected(f"cannot read {name}: {exc.strerror}") from None
        if caption is not None and srt is not None:
            captions_url = value.get("captionsUploadUrl")
            if not isinstance(captions_url, str) or not captions_url:
                raise RetryLater(f"LinkedIn answered the upload of {name} without a URL for its captions")
            self._rest.upload(captions_url, srt.encode("utf-8"), _BYTES, caption.path.name)
        finalize = {"video": urn, "uploadToken": token, "uploadedPartIds": etags}
        self._rest.checked(
            "POST", "/rest/videos", params={"action": "finalizeUpload"}, json={"finalizeUploadRequest": finalize}
        )
        self.uploads.keep(sha, urn)
        return urn

    def _until_available(self, urn: str, name: str) -> None:
        deadline = time.monotonic() + self._wait
        delay = _POLL_FIRST
        while True:
            video = _mapping(_json(self._rest.checked("GET", f"/rest/videos/{quote(urn, safe='')}")))
            status = video.get("status")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                reason = video.get("processingFailureReason")
                said = f": {reason}" if isinstance(reason, str) and reason.strip() else ""
                raise Rejected(
                    f"LinkedIn could not process {name} (PROCESSING_FAILED{said}); export it again as MP4 "
                    "(H.264 video, AAC sound) within LinkedIn's limits"
                )
            if time.monotonic() + delay > deadline:
                raise RetryLater(
                    f"LinkedIn is still processing {name} after {self._wait:g} s ({status}); the next attempt waits on"
                )
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)


def _caption_for(post: RenderedPost, item: MediaItem) -> Caption | None:
    """The one captions file LinkedIn takes: in the post's language, else the first listed."""
    if not item.captions:
        return None
    language = post.language.lower().replace("_", "-")
    same = [c for c in item.captions if c.language.lower().replace("_", "-").split("-")[0] == language.split("-")[0]]
    chosen = same[0] if same else item.captions[0]
    others = [c.language for c in item.captions if c is not chosen]
    if others:
        log.info(
            "linkedin: %s goes with %s captions; LinkedIn takes one file (not %s)",
            item.path.name,
            chosen.language,
            ", ".join(others),
        )
    return chosen


def _parts(instructions: Any, size: int) -> list[tuple[int, int, str]] | None:
    """(firstByte, lastByte, uploadUrl) of each part, if they cover the file's bytes in order; else None."""
    if not isinstance(instructions, list) or not instructions:
        return None
    parts, expected = [], 0
    for entry in instructions:
        part = _mapping(entry)
        first, last, url = part.get("firstByte"), part.get("lastByte"), part.get("uploadUrl")
        if not (isinstance(first, int) and isinstance(last, int) and isinstance(url, str) and url):
            return None
        if first != expected or last < first:
            return None
        parts.append((first, last, url))
        expected = last + 1
    return parts if expected == size else None


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
