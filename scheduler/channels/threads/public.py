"""Where Threads fetches a post's media: `media_url` + the SHA-256 of the bytes that go out + their suffix,
and the check, before any container is made, that this URL serves exactly those bytes.

Threads downloads images and videos from a public URL itself (Threads API, "Posts": image_url, video_url
"must be on a public server"). So the campaign's renditions are published on a web server of its own
(`campaign media export`, then deployed), named by their content: a changed image is a new URL, never an old
picture under a new post. A URL that is unreachable or serves other bytes holds the send (RetryLater) with
the URL named: nothing is created on Threads until it serves the right file.

(The shared Meta core, scheduler/media/public.py, does the same for Instagram; this module is meant to be
replaced by it.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from scheduler.channels import http
from scheduler.errors import ChannelError, RetryLater

_CHUNK = 1 << 16


def url_for(media_url: str, sha256: str, suffix: str) -> str:
    """The public URL of the bytes with this SHA-256 (hex) under `media_url`."""
    return media_url.rstrip("/") + "/" + sha256 + suffix.lower()


def sha256_of(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks (a video may be a gigabyte)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def check(session: requests.Session, url: str, sha256: str, name: str) -> None:
    """RetryLater unless `url` serves bytes whose SHA-256 is `sha256` (`name`: the file, for the message)."""
    todo = "run `campaign media export` and deploy it to the server behind `media_url`"
    try:
        response = http.send(session, "GET", url, may_publish=False, stream=True)
    except ChannelError as exc:
        raise RetryLater(f"{name} is not reachable at {url} ({exc.reason}); {todo}") from None
    try:
        if response.status_code != 200:
            raise RetryLater(f"{name} is not at {url} (HTTP {response.status_code}); {todo}")
        digest = hashlib.sha256()
        try:
            for chunk in response.iter_content(_CHUNK):
                digest.update(chunk)
        except requests.exceptions.RequestException:
            raise RetryLater(f"{name} could not be read whole from {url}; {todo}") from None
    finally:
        response.close()
    if digest.hexdigest() != sha256:
        raise RetryLater(f"{url} serves other bytes than {name} (another version of the file?); {todo}")
