"""Media served from the campaign's public address (`media_url:` in channels.yml), for networks that fetch
a post's media from a URL instead of taking an upload (Instagram, Threads).

Each file goes public under a content-addressed name: the SHA-256 of the bytes that go out, and their
suffix (`3f2a….jpg`). An image's bytes are its rendition for the network (scheduler.media.renditions:
scaled to fit, EXIF and GPS stripped), a video's are the file. So no file name, and no storyteller's name
in one, is ever public; a new photo is a new URL that no cache has seen; the same bytes on two networks
are one file.

`campaign media export DIR` writes every file a planned send needs under these names (`export`); the
team deploys DIR at `media_url`. Before a network is asked to fetch one, the adapter checks that the
URL serves these very bytes (scheduler.channels.meta.served).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scheduler.media.renditions import is_image, rendition
from scheduler.posts import MediaItem, MediaRules

_CHUNK = 1 << 20


@dataclass(frozen=True)
class PublicFile:
    """One file as it is served: where its bytes are here, their SHA-256 and size, and its public name."""

    source: Path  # the rendition in the cache (an image) or the video file
    sha256: str
    size: int
    suffix: str  # ".jpg", ".mp4": lower case

    @property
    def name(self) -> str:
        return self.sha256 + self.suffix

    def url(self, base: str) -> str:
        """Its address under `base` (the campaign's `media_url`)."""
        return base.rstrip("/") + "/" + self.name


def of_file(path: Path) -> PublicFile:
    """`path`'s bytes as they are (a video); OSError when the file cannot be read."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return PublicFile(path, sha.hexdigest(), size, path.suffix.lower())


def of_item(item: MediaItem, rules: MediaRules) -> PublicFile:
    """What goes public for one media item on a network with `rules`: an image's rendition (made to fit,
    metadata stripped), a video's file. Raises what `rendition` raises (DoesNotFit, CacheUnwritable, OSError)."""
    if not item.is_video and is_image(item.path):
        return of_file(rendition(item.path, rules).path)
    return of_file(item.path)


def checked_base(value: object) -> str | None:
    """`media_url` as the adapters use it (ending in /), or None when it is not an http(s) address with a host."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        return None
    return value.strip().rstrip("/") + "/"


def export(files: Iterable[PublicFile], directory: Path) -> tuple[int, int]:
    """Write each file into `directory` under its public name; (written, already there). A file already there
    with that name has those bytes (the name is their hash) unless someone changed it: it is written again
    then. Each is written to a temporary name and renamed, so a web server never serves half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    written = present = 0
    for file in {f.name: f for f in files}.values():
        target = directory / file.name
        if target.is_file() and target.stat().st_size == file.size and of_file(target).sha256 == file.sha256:
            present += 1
            continue
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".export-")
        try:
            with os.fdopen(handle, "wb") as out, file.source.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
            os.chmod(temporary, 0o644)  # a web server reads it as another user
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written += 1
    return written, present
