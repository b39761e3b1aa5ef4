"""YouTube: each post is one video on one YouTube channel, through the YouTube Data API v3.

A post goes out in steps, each kept where a retry or a restart finds it, so it continues from the step it
reached and never makes a second video:

1. upload (resumable, `videos.insert`) as `privacyStatus: private`: the session URI, then the video id,
   kept in the ledger (media_uploads);
2. wait while YouTube processes it (`videos.list` part=status: uploadStatus `uploaded` → `processed`;
   `failed` or `rejected` is a refusal);
3. insert each caption track that the video does not have yet (`captions.list` says which it has);
4. `videos.update` privacyStatus `public`: the step that publishes, the only one that may be in doubt.

Never `publishAt`: YouTube would publish on its own clock, through a pause. A video whose ledger row was
lost is found again among the channel's uploads (uploads playlist) by a tag that marks its send
(`cs-` and 16 hex digits of the send's key), and by its title.

Settings: `client_id`, `client_secret`, `refresh_token` (secrets), `category` (YouTube category id,
default 22 "People & Blogs"), `made_for_kids` (default false), `chunk_bytes` (a multiple of 256 KiB,
default 8 MiB), `processing_timeout` (seconds to wait in one attempt, default 300), `api` and `accounts`
(the API's and Google's OAuth server's addresses, for tests).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import requests

from scheduler.channels import http
from scheduler.channels.base import Channel, Receipt
from scheduler.channels.uploads import SendUploads, digest
from scheduler.channels.youtube import google, resumable
from scheduler.content.text import utf8_bytes
from scheduler.errors import ConfigError, InDoubt, LedgerError, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, TitleRule, VideoRules

log = logging.getLogger(__name__)

API = "https://www.googleapis.com"
#: YouTube's documented limits: a title of at most 100 characters and a description of at most 5,000
#: bytes, neither with < or > (videos resource, snippet.title/description); uploads of at most 256 GB
#: or 12 hours (help: "Upload videos longer than 15 minutes"; accounts not verified take 15 minutes,
#: which YouTube enforces itself and says so in its refusal).
TITLE = TitleRule(100, forbidden="<>")
VIDEO = VideoRules(
    "YouTube",
    kinds=frozenset({".mp4", ".mov", ".webm"}),
    max_bytes=256 * 1000**3,
    max_seconds=12 * 3600,
)
MEDIA = MediaRules(max_items=1, kinds=frozenset(), video=VIDEO)
#: A session URI is valid for a week and a video is there until deleted; the ledger keeps rows two days,
#: after which the uploads playlist finds the video.
REUSE = timedelta(days=2)
_SESSION, _VIDEO = "session:", "video:"
_POLL_FIRST, _POLL_MAX = 0.2, 5.0


def marker(key: str) -> str:
    """The tag that marks the video of send `key`, so it can be found among the channel's uploads."""
    return "cs-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class YouTubeChannel(Channel):
    """One YouTube channel, as the account that granted the refresh token."""

    type_name = "youtube"
    can_lookup = True  # the video's id is in the ledger, or its tag among the channel's uploads

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        values = {}
        for setting, secret in (
            ("client_id", None),
            ("client_secret", "YOUTUBE_CLIENT_SECRET"),
            ("refresh_token", "YOUTUBE_REFRESH_TOKEN"),
        ):
            value = settings.get(setting)
            if not isinstance(value, str) or not value.strip():
                hint = f" (use ${{{secret}}})" if secret else " (the OAuth client's id, from the Google Cloud console)"
                raise ConfigError(f"channel {name}: `{setting}` is missing{hint}", key=setting)
            values[setting] = value.strip()
        chunk = settings.get("chunk_bytes", 8 * 1024 * 1024)
        if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk <= 0 or chunk % resumable.UNIT:
            raise ConfigError(
                f"channel {name}: `chunk_bytes` must be a multiple of 262144 (256 KiB)", key="chunk_bytes"
            )
        self.chunk = chunk
        self.api = str(settings.get("api") or API).rstrip("/")
        self.category = str(settings.get("category") or "22")
        self.made_for_kids = bool(settings.get("made_for_kids", False))
        self.processing_timeout = float(settings.get("processing_timeout", 300))
        self._http = http.session()
        self._token = google.AccessToken(
            name,
            self._http,
            str(settings.get("accounts") or google.ACCOUNTS).rstrip("/") + "/token",
            (values["client_id"], values["client_secret"]),
            values["refresh_token"],
        )
        self._uploads_playlist: str | None = None

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LengthRule("bytes", 5000, utf8_bytes), media=MEDIA, title=TITLE, needs_video=True)

    # -- publishing -------------------------------------------------------------------------

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        videos = [item for item in post.media if item.is_video]
        if len(videos) != 1 or not (post.title or "").strip():
            raise Rejected("a post on YouTube is one video with a `title:`; `campaign validate` says what is missing")
        item = videos[0]
        uploads = SendUploads(self.uploads, self.name, key, REUSE)
        try:
            sha = digest(item)
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        try:
            video_id = self._uploaded(post, item, key, uploads, sha)
            self._wait_until_processed(video_id, item.path.name)
        except Rejected:
            uploads.forget()  # the video refused: a retry after a fix starts from a new upload
            raise
        self._add_captions(video_id, item)  # a caption refused leaves the (private) video for the retry
        self._unless_paused(item.path.name)
        self._make_public(video_id)
        uploads.forget()
        receipt = _receipt(video_id)
        log.info("youtube: published %s on %s as %s", post.post, self.name, video_id)
        return receipt

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """The video is out only once it is public; a private one is continued by the next send."""
        video_id = self._known_video(key, post)
        if video_id is None:
            return None
        found = self._video(video_id, "status")
        if found is not None and _mapping(found.get("status")).get("privacyStatus") == "public":
            return _receipt(video_id)
        return None

    def _known_video(self, key: str, post: RenderedPost) -> str | None:
        videos = [item for item in post.media if item.is_video]
        if not videos:
            return None
        uploads = SendUploads(self.uploads, self.name, key, REUSE)
        try:
            kept = uploads.recall(videos[0], digest(videos[0]))
        except OSError:
            kept = None
        if kept is not None and kept.startswith(_VIDEO):
            return kept.removeprefix(_VIDEO)
        if kept is not None and kept.startswith(_SESSION):
            try:
                progress = resumable.ask(
                    self._http, kept.removeprefix(_SESSION), self._auth(), videos[0].path.stat().st_size, self._ok
                )
            except (resumable.SessionGone, OSError):
                progress = None
            if isinstance(progress, Mapping) and progress.get("id"):
                return str(progress["id"])
        return self._find(key, post.title or "")

    def _uploaded(self, post: RenderedPost, item: MediaItem, key: str, uploads: SendUploads, sha: str) -> str:
        """The id of this send's video: the one an earlier attempt made or began, else a new upload."""
        size = item.path.stat().st_size
        kept = uploads.recall(item, sha)
        if kept is not None and kept.startswith(_VIDEO):
            video_id = kept.removeprefix(_VIDEO)
            if self._video(video_id, "status") is not None:
                return video_id
            raise Rejected(
                f"the video uploaded for this post ({video_id}) is no longer on YouTube (deleted?); "
                "send the post again with `campaign retry` to upload it anew"
            )
        if kept is not None and kept.startswith(_SESSION):
            uri = kept.removeprefix(_SESSION)
            try:
                progress = resumable.ask(self._http, uri, self._auth(), size, self._ok)
            except resumable.SessionGone:
                log.info("youtube: %s: the upload session of %s is gone; starting over", self.name, item.path.name)
            else:
                if isinstance(progress, int):
                    log.info("youtube: %s resumes %s at byte %d of %d", self.name, item.path.name, progress, size)
                    return self._finish(uploads, sha, uri, item, progress, size)
                return self._committed(uploads, sha, progress)
        found = self._find(key, post.title or "")
        if found is not None:  # the ledger lost it, YouTube has it: continue with that one
            uploads.keep(sha, _VIDEO + found)
            return found
        mime = mimetypes.guess_type(item.path.name)[0] or "application/octet-stream"
        metadata = {
            "snippet": {
                "title": (post.title or "").strip(),
                "description": post.text,
                "tags": [marker(key)],
                "categoryId": self.category,
                "defaultLanguage": post.language,
            },
            "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": self.made_for_kids},
        }
        uri = resumable.start(
            self._http, f"{self.api}/upload/youtube/v3/videos", self._auth(), metadata, size, mime, self._ok
        )
        if len(_SESSION + uri) <= 300:  # the ledger's column; a longer one is simply not resumed
            uploads.keep(sha, _SESSION + uri)
        return self._finish(uploads, sha, uri, item, 0, size)

    def _finish(self, uploads: SendUploads, sha: str, uri: str, item: MediaItem, offset: int, size: int) -> str:
        try:
            video = resumable.send(self._http, uri, self._auth(), item.path, offset, size, self.chunk, self._ok)
        except resumable.SessionGone:
            uploads.forget()
            raise RetryLater(f"YouTube dropped the upload session of {item.path.name}; it starts over") from None
        return self._committed(uploads, sha, video)

    def _committed(self, uploads: SendUploads, sha: str, video: Any) -> str:
        video_id = _mapping(video).get("id")
        if not video_id:
            raise RetryLater("YouTube ended the upload without the video's id")
        uploads.keep(sha, _VIDEO + str(video_id))
        return str(video_id)

    def _wait_until_processed(self, video_id: str, name: str) -> None:
        deadline = time.monotonic() + self.processing_timeout
        delay = _POLL_FIRST
        while True:
            found = self._video(video_id, "status,processingDetails")
            if found is None:
                raise RetryLater(f"YouTube does not list the video {video_id} yet")
            status = _mapping(found.get("status"))
            state = status.get("uploadStatus")
            if state == "processed":
                return
            if state in ("failed", "rejected", "deleted"):
                why = status.get("failureReason") or status.get("rejectionReason") or state
                raise Rejected(f"YouTube could not take {name}: {state} ({why}); export it again, e.g. as H.264 .mp4")
            if time.monotonic() + delay > deadline:
                raise RetryLater(f"YouTube is still processing {name} after {self.processing_timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _add_captions(self, video_id: str, item: MediaItem) -> None:
        """Insert each caption track the video does not have yet (one per language)."""
        if not item.captions:
            return
        listed = self._get("/youtube/v3/captions", {"videoId": video_id, "part": "snippet"})
        have = {
            str(_mapping(track.get("snippet")).get("language"))
            for track in _mapping(listed).get("items") or []
            if isinstance(track, Mapping)
        }
        for caption in item.captions:
            if caption.language in have:
                continue
            try:
                data = caption.path.read_bytes()
            except OSError as exc:
                raise Rejected(f"cannot read {caption.path.name}: {exc.strerror}") from None
            boundary = uuid.uuid4().hex
            meta = {"snippet": {"videoId": video_id, "language": caption.language, "name": "", "isDraft": False}}
            body = (
                (
                    f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(meta)}\r\n"
                    f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode()
                + data
                + f"\r\n--{boundary}--\r\n".encode()
            )
            response = http.send(
                self._http,
                "POST",
                f"{self.api}/upload/youtube/v3/captions",
                may_publish=False,  # a caption on a private video publishes nothing; the list above dedups
                params={"uploadType": "multipart", "part": "snippet"},
                data=body,
                headers={**self._auth(), "Content-Type": f"multipart/related; boundary={boundary}"},
                allow_redirects=False,
            )
            self._ok(response)
            have.add(caption.language)

    def _unless_paused(self, name: str) -> None:
        """The publisher checked the pause before the upload, which can take long: asked again here."""
        if self.pauses is None:
            return
        try:
            why = self.pauses.paused(self.name)
        except LedgerError as exc:
            raise RetryLater(f"cannot see whether {self.name} is paused ({exc}); {name} stays private") from None
        if why is not None:
            raise RetryLater(f"{why}; {name} is uploaded and stays private until the pause is lifted")

    def _make_public(self, video_id: str) -> None:
        body = {
            "id": video_id,
            "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": self.made_for_kids},
        }
        response = http.send(
            self._http,
            "PUT",
            f"{self.api}/youtube/v3/videos",
            may_publish=True,
            params={"part": "status"},
            json=body,
            headers=self._auth(),
            allow_redirects=False,
        )
        self._ok(response)
        answer = _json(response)
        if _mapping(_mapping(answer).get("status")).get("privacyStatus") != "public":
            raise InDoubt(f"YouTube answered the update of {video_id} without saying it is public")

    # -- reading ------------------------------------------------------------------------------

    def _video(self, video_id: str, part: str) -> Mapping[str, Any] | None:
        items = _mapping(self._get("/youtube/v3/videos", {"id": video_id, "part": part})).get("items") or []
        return items[0] if items and isinstance(items[0], Mapping) else None

    def _find(self, key: str, title: str) -> str | None:
        """This send's video among the channel's latest 50 uploads: its tag and its title."""
        playlist = self._uploads()
        listed = self._get("/youtube/v3/playlistItems", {"playlistId": playlist, "part": "snippet", "maxResults": "50"})
        ids = []
        for entry in _mapping(listed).get("items") or []:
            snippet = _mapping(_mapping(entry).get("snippet"))
            video_id = _mapping(snippet.get("resourceId")).get("videoId")
            if video_id and snippet.get("title") == title.strip():
                ids.append(str(video_id))
        if not ids:
            return None
        found = _mapping(self._get("/youtube/v3/videos", {"id": ",".join(ids), "part": "snippet"})).get("items") or []
        tag = marker(key)
        mine = [
            str(v["id"])
            for v in found
            if isinstance(v, Mapping) and tag in (_mapping(v.get("snippet")).get("tags") or [])
        ]
        if len(mine) > 1:
            raise InDoubt(f"YouTube has {len(mine)} videos of this send ({', '.join(mine)}); keep one and resolve it")
        return mine[0] if mine else None

    def _uploads(self) -> str:
        if self._uploads_playlist is None:
            channel = self._mine("contentDetails")
            playlist = _mapping(_mapping(channel.get("contentDetails")).get("relatedPlaylists")).get("uploads")
            if not playlist:
                raise RetryLater("YouTube did not say which playlist holds the channel's uploads")
            self._uploads_playlist = str(playlist)
        return self._uploads_playlist

    def _mine(self, part: str) -> Mapping[str, Any]:
        items = _mapping(self._get("/youtube/v3/channels", {"mine": "true", "part": part})).get("items") or []
        if not items or not isinstance(items[0], Mapping):
            raise Rejected(
                f"channel {self.name}: the Google account of `refresh_token` has no YouTube channel; "
                "make one on youtube.com, or sign in with the channel's account when making the token"
            )
        return items[0]

    def check(self) -> str:
        channel = self._mine("snippet,contentDetails")
        title = _mapping(channel.get("snippet")).get("title") or "?"
        return f"posts as the YouTube channel {title} ({channel.get('id')})"

    def close(self) -> None:
        self._http.close()

    # -- the one place where answers become errors ------------------------------------------

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        response = http.send(self._http, "GET", self.api + path, may_publish=False, params=params, headers=self._auth())
        return _json(self._ok(response))

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get()}"}

    def _ok(self, response: requests.Response) -> requests.Response:
        if response.status_code == 401:
            self._token.drop()
        return google.checked(response)


def _receipt(video_id: str) -> Receipt:
    return Receipt(url=f"https://www.youtube.com/watch?v={video_id}", remote_id=video_id)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
