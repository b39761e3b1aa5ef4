"""A video on a Page, with its captions, as the Graph API documents it (Video API "Publishing", chunked
upload to the Page's videos edge; reference: page/videos, video, video/captions).

A post goes out in steps, each kept where a retry or a restart finds it, so it continues from the step it
reached and never makes a second video:

1. upload to `POST /{page_id}/videos` in chunks: `upload_phase=start` (`file_size`) gives the video's id
   and an upload session; `transfer` sends the bytes from each `start_offset` Graph names
   (`video_file_chunk`) until it names the end; `finish` gives the post's text as the video's
   `description` and `published=false`, so nothing shows yet. The video's id is kept in the ledger
   (media_uploads) once `finish` answered; an upload cut off before that is done again (Graph drops
   an unfinished session; it never shows).
2. wait while Facebook processes it: `GET /{video_id}?fields=status` until `status.video_status` is
   `ready` (`processing_progress` is logged); `error` is a refusal with Graph's reasons, never published.
3. add each captions file not there yet (`GET /{video_id}/captions` says which locales are):
   `POST /{video_id}/captions` with `captions_file` named `name.nl_NL.srt` (Facebook reads the locale
   from the name) and `locale`; a .vtt is converted to SubRip first.
4. ask the channel's pauses again, then `POST /{video_id}` `published=true`: the only step that
   publishes, and the only one that may be in doubt.

A send interrupted after Facebook committed is settled by the video in the ledger (published or not), or,
where the ledger has none, by the Page's videos (`GET /{page_id}/videos`) since the first attempt with the
post's text as their description: one published video is the post; none is InDoubt (a person decides).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from babel.core import get_global

from scheduler.channels import http
from scheduler.channels.base import PauseWatch, Receipt, UploadMemory
from scheduler.channels.facebook.feed import normal
from scheduler.channels.facebook.graph import Graph, integer, next_cursor
from scheduler.channels.uploads import SendUploads, digest
from scheduler.errors import InDoubt, LedgerError, Rejected, RetryLater
from scheduler.media.captions import CaptionsUnreadable, as_srt
from scheduler.posts import Caption, MediaItem, RenderedPost

log = logging.getLogger("scheduler.channels.facebook")

#: An unpublished video stays on the Page until deleted; the ledger keeps rows two days.
REUSE = timedelta(days=2)
DEFAULT_WAIT = 300.0  # seconds one attempt waits for Facebook to process a video (`media_timeout`)
_VIDEO = "video:"
_POLL_FIRST, _POLL_MAX = 0.2, 5.0
_LOOKUP_PAGES = 5  # of 100 videos each
_MIME = {".mp4": "video/mp4", ".mov": "video/quicktime"}


def locale_of(language: str) -> str:
    """Facebook's locale for a captions language: `nl` → `nl_NL`, `nl-BE` → `nl_BE`, `en` → `en_US`,
    `zh-Hant` → `zh_TW` (the likely region, from CLDR through Babel)."""
    parts = language.replace("-", "_").split("_")
    if len(parts) > 1 and len(parts[-1]) == 2:
        return f"{parts[0].lower()}_{parts[-1].upper()}"
    subtags = get_global("likely_subtags")
    likely = str(subtags.get("_".join(parts[:2])) or subtags.get(parts[0].lower(), ""))
    region = likely.split("_")[-1] if likely.count("_") >= 1 else ""
    return f"{parts[0].lower()}_{region.upper()}" if region else parts[0].lower()


class PageVideo:
    """The video of one send (`key`) on one Page."""

    def __init__(
        self,
        graph: Graph,
        channel: str,
        key: str,
        memory: UploadMemory | None,
        pauses: PauseWatch | None,
        wait: float = DEFAULT_WAIT,
    ) -> None:
        self._graph, self._channel, self._pauses, self._wait = graph, channel, pauses, wait
        self.uploads = SendUploads(memory, channel, key, REUSE)

    def publish(self, post: RenderedPost, item: MediaItem) -> Receipt:
        try:
            sha = digest(item)
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        try:
            video_id = self._uploaded(post, item, sha)
            self._until_ready(video_id, item.path.name)
        except Rejected:
            self.uploads.forget()  # refused: a retry after a fix starts from a new upload
            raise
        self._add_captions(video_id, item)  # a caption refused leaves the unpublished video for the retry
        self._unless_paused(item.path.name)
        self._graph.call("POST", f"/{quote(video_id, safe='')}", may_publish=True, data=[("published", "true")])
        self.uploads.forget()
        log.info("facebook: published %s on %s as video %s", post.post, self._channel, video_id)
        return receipt(self._graph.page_id, video_id)

    def kept(self, item: MediaItem) -> str | None:
        """The video an earlier attempt of this send uploaded, if the ledger has it."""
        try:
            found = self.uploads.recall(item, digest(item))
        except OSError:
            return None
        return found.removeprefix(_VIDEO) if found is not None and found.startswith(_VIDEO) else None

    def published(self, video_id: str) -> bool | None:
        """Whether the video is published; None when Facebook no longer has it."""
        body = self._graph.call(
            "GET", f"/{quote(video_id, safe='')}", params={"fields": "published"}, gone_is_none=True
        )
        return None if body is None else bool(_mapping(body).get("published"))

    # -- the steps -----------------------------------------------------------------------------

    def _uploaded(self, post: RenderedPost, item: MediaItem, sha: str) -> str:
        known = self.kept(item)
        if known is not None:
            if self.published(known) is not None:
                log.info("facebook: %s continues with video %s of %s", self._channel, known, item.path.name)
                return known
            raise Rejected(
                f"the video uploaded for this post ({known}) is no longer on the Page (deleted?); "
                "send the post again with `campaign retry` to upload it anew"
            )
        video_id = self._upload(post, item)
        self.uploads.keep(sha, _VIDEO + video_id)
        return video_id

    def _upload(self, post: RenderedPost, item: MediaItem) -> str:
        """start, transfer from each offset Graph names, finish (unpublished): the video's id."""
        path = f"/{self._graph.page_id}/videos"
        try:
            size = item.path.stat().st_size
            started = _mapping(
                self._graph.call(
                    "POST", path, data=[("upload_phase", "start"), ("file_size", str(size))], may_publish=False
                )
            )
            video_id, session = str(started.get("video_id") or ""), str(started.get("upload_session_id") or "")
            if not video_id or not session:
                raise RetryLater(f"Graph answered the start of the upload of {item.path.name} without ids")
            start, end = integer(started.get("start_offset")), integer(started.get("end_offset"))
            with item.path.open("rb") as handle:
                while start is not None and end is not None and start < end:
                    handle.seek(start)
                    chunk = handle.read(end - start)
                    answer = _mapping(
                        self._graph.call(
                            "POST",
                            path,
                            may_publish=False,
                            data=[
                                ("upload_phase", "transfer"),
                                ("upload_session_id", session),
                                ("start_offset", str(start)),
                            ],
                            files={"video_file_chunk": (item.path.name, chunk, _MIME.get(item.path.suffix.lower()))},
                            timeout=http.upload_timeout(len(chunk)),
                        )
                    )
                    start, end = integer(answer.get("start_offset")), integer(answer.get("end_offset"))
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        if start != size:
            raise RetryLater(f"Graph stopped the upload of {item.path.name} at byte {start} of {size}")
        fields = [
            ("upload_phase", "finish"),
            ("upload_session_id", session),
            ("description", post.text),
            ("published", "false"),  # published at step 4, once its captions are in
        ]
        if (post.title or "").strip():
            fields.append(("title", (post.title or "").strip()))
        finished = _mapping(self._graph.call("POST", path, data=fields, may_publish=False))
        if finished.get("success") is not True:
            raise RetryLater(f"Graph did not confirm the end of the upload of {item.path.name}")
        return video_id

    def _until_ready(self, video_id: str, name: str) -> None:
        deadline = time.monotonic() + self._wait
        delay = _POLL_FIRST
        while True:
            body = self._graph.call("GET", f"/{quote(video_id, safe='')}", params={"fields": "status"})
            status = _mapping(_mapping(body).get("status"))
            state = status.get("video_status")
            if state == "ready":
                return
            if state in ("error", "expired"):
                raise Rejected(
                    f"Facebook could not process {name} ({_errors(status) or state}); export it again, e.g. as "
                    "H.264 and AAC in .mp4, within Facebook's limits"
                )
            if time.monotonic() + delay > deadline:
                raise RetryLater(
                    f"Facebook is still processing {name} after {self._wait:g} s; the next attempt waits on"
                )
            log.debug("facebook: processing %s: %s %s%%", name, state, status.get("processing_progress"))
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _add_captions(self, video_id: str, item: MediaItem) -> None:
        if not item.captions:
            return
        listed = self._graph.call("GET", f"/{quote(video_id, safe='')}/captions", params={"fields": "locale"})
        data = _mapping(listed).get("data")
        have = {str(_mapping(entry).get("locale")) for entry in data} if isinstance(data, list) else set()
        for caption in item.captions:
            locale = locale_of(caption.language)
            if locale in have:
                continue
            self._caption(video_id, caption, locale)
            have.add(locale)

    def _caption(self, video_id: str, caption: Caption, locale: str) -> None:
        try:
            text = as_srt(caption.path)
        except CaptionsUnreadable as exc:
            raise Rejected(exc.problem.message) from None
        stem = caption.path.name.split(".")[0] or "captions"
        self._graph.call(
            "POST",
            f"/{quote(video_id, safe='')}/captions",
            may_publish=False,  # captions on an unpublished video show nowhere; the list above dedups
            data=[("locale", locale)],
            files={"captions_file": (f"{stem}.{locale}.srt", text.encode("utf-8"), "application/x-subrip")},
        )

    def _unless_paused(self, name: str) -> None:
        """The publisher checked the pause before the upload, which can take long: asked again here."""
        if self._pauses is None:
            return
        try:
            why = self._pauses.paused(self._channel)
        except LedgerError as exc:
            raise RetryLater(
                f"cannot see whether {self._channel} is paused ({exc}); {name} stays unpublished"
            ) from None
        if why is not None:
            raise RetryLater(f"{why}; {name} is uploaded and stays unpublished until the pause is lifted")


def find(graph: Graph, text: str, since: datetime) -> Receipt | None:
    """The Page's published video since `since` whose description is `text` (normalised); InDoubt if
    there are several."""
    wanted = normal(text)
    params = {
        "since": str(int(since.timestamp())),
        "fields": "id,description,published,created_time,permalink_url",
        "limit": "100",
    }
    found: list[str] = []
    for _ in range(_LOOKUP_PAGES):
        body = graph.call("GET", f"/{graph.page_id}/videos", params=params)
        data = _mapping(body).get("data")
        for entry in data if isinstance(data, list) else []:
            video = _mapping(entry)
            if video.get("published") and normal(str(video.get("description") or "")) == wanted and video.get("id"):
                found.append(str(video["id"]))
        after = next_cursor(body)
        if after is None:
            break
        params = {**params, "after": after}
    if len(found) > 1:
        raise InDoubt(f"the Page has {len(found)} videos with this text ({', '.join(found)}); keep one and resolve it")
    return receipt(graph.page_id, found[0]) if found else None


def receipt(page_id: str, video_id: str) -> Receipt:
    return Receipt(url=f"https://www.facebook.com/{page_id}/videos/{video_id}", remote_id=video_id)


def _errors(status: Mapping[str, Any]) -> str:
    """The reasons Graph gives for a failed video (`processing_phase.errors[].message`)."""
    errors = _mapping(status.get("processing_phase")).get("errors")
    said = (
        [str(_mapping(e).get("message")) for e in errors if _mapping(e).get("message")]
        if isinstance(errors, list)
        else []
    )
    return "; ".join(said)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
