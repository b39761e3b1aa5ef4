"""Whether the campaign's public address serves a file's very bytes, asked before a network is told to
fetch it: a network that fetched another file (an old photo under the same name, an error page) would
publish it, so a post whose media are not served as exported waits, with the step that fixes it."""

from __future__ import annotations

import hashlib

import requests

from scheduler.channels import http
from scheduler.errors import RetryLater
from scheduler.media.public import PublicFile

#: An attempt that finds its media not served looks again after this (the team deploys meanwhile).
LOOK_AGAIN = 600.0
_CHUNK = 1 << 16


class NotServed(RetryLater):
    """The URL does not serve the file's bytes (unreachable, another status, other or more bytes)."""

    for_a_person = True


def verify(session: requests.Session, file: PublicFile, url: str, what: str) -> None:
    """Fetch `url` (streamed, never more than the file's size plus one byte) and compare its SHA-256 with
    the file's; NotServed naming the URL and `what` it should be (the post's file) otherwise."""
    fix = "run `campaign media export DIR` and deploy DIR at the campaign's media_url (docs/writing-posts.md)"
    try:
        with session.get(url, stream=True, timeout=http.TIMEOUT, allow_redirects=False) as response:
            if response.status_code != 200:
                raise NotServed(
                    f"{url} answers HTTP {response.status_code}, not {what}: the post waits; {fix}", LOOK_AGAIN
                )
            sha, size = hashlib.sha256(), 0
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > file.size:
                    break
                sha.update(chunk)
    except requests.exceptions.RequestException as exc:
        raise NotServed(
            f"{url} cannot be fetched ({exc.__class__.__name__}), so {what} is not served: the post waits; {fix}",
            LOOK_AGAIN,
        ) from None
    if size != file.size or sha.hexdigest() != file.sha256:
        raise NotServed(
            f"{url} serves other bytes than {what} ({size:,} bytes, not the {file.size:,} exported): the post "
            f"waits; {fix}",
            LOOK_AGAIN,
        )
