"""YouTube's resumable upload protocol (videos.insert, uploadType=resumable), as Google documents it:

1. POST the video's metadata with `X-Upload-Content-Length`/`-Type`: the answer's `Location` is the
   session URI. Nothing is on YouTube yet.
2. PUT the bytes in chunks (each a multiple of 256 KiB but the last) with `Content-Range:
   bytes FIRST-LAST/TOTAL`; `308 Resume Incomplete` with `Range: bytes=0-N` says what arrived so far;
   `200`/`201` with the video resource ends it: the video exists (private, as asked).
3. After an interruption, `PUT` an empty body with `Content-Range: bytes */TOTAL` asks the session what it
   has (308 and its Range, or 200/201 and the video); `404`/`410`: the session is gone, start over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from scheduler.channels import http
from scheduler.errors import Rejected, RetryLater

UNIT = 256 * 1024  # Google: every chunk but the last is a multiple of 256 KiB
Checked = Callable[[requests.Response], requests.Response]


class SessionGone(Exception):
    """The session URI is no longer valid (404/410): the upload starts over."""


def start(
    session: requests.Session, url: str, headers: Mapping[str, str], metadata: Any, size: int, mime: str, ok: Checked
) -> str:
    """Open an upload session for `size` bytes; return its URI."""
    response = http.send(
        session,
        "POST",
        url,
        may_publish=False,  # a session without its bytes makes no video
        params={"uploadType": "resumable", "part": "snippet,status"},
        json=metadata,
        headers={**headers, "X-Upload-Content-Length": str(size), "X-Upload-Content-Type": mime},
        allow_redirects=False,
    )
    ok(response)
    location = response.headers.get("Location")
    if not location:
        raise RetryLater("YouTube opened no upload session (no Location in its answer)")
    return location


def ask(session: requests.Session, uri: str, headers: Mapping[str, str], size: int, ok: Checked) -> int | Any:
    """How many bytes the session holds, or the video resource when the upload is complete."""
    response = http.send(
        session,
        "PUT",
        uri,
        may_publish=False,
        data=b"",
        headers={**headers, "Content-Range": f"bytes */{size}"},
        allow_redirects=False,
    )
    return _progress(response, ok)


def send(
    session: requests.Session,
    uri: str,
    headers: Mapping[str, str],
    path: Path,
    offset: int,
    size: int,
    chunk: int,
    ok: Checked,
) -> Any:
    """Send the file from `offset` in chunks of `chunk` bytes; return the video resource."""
    try:
        with path.open("rb") as handle:
            while True:
                handle.seek(offset)
                data = handle.read(chunk)
                last = offset + len(data) - 1
                response = http.send(
                    session,
                    "PUT",
                    uri,
                    may_publish=False,  # only the video made public later publishes anything
                    data=data,
                    headers={**headers, "Content-Range": f"bytes {offset}-{last}/{size}"},
                    allow_redirects=False,
                    timeout=http.upload_timeout(len(data)),
                )
                progress = _progress(response, ok)
                if not isinstance(progress, int):
                    return progress
                if progress <= offset and not data:
                    raise RetryLater("YouTube took none of the upload's last bytes")
                offset = progress
    except OSError as exc:
        raise Rejected(f"cannot read {path.name}: {exc.strerror}") from None


def _progress(response: requests.Response, ok: Checked) -> int | Any:
    if response.status_code in (404, 410):
        raise SessionGone()
    if response.status_code == 308:
        return _received(response.headers.get("Range"))
    ok(response)
    try:
        return response.json()
    except ValueError:
        raise RetryLater("YouTube ended the upload without the video's details") from None


def _received(value: str | None) -> int:
    """Bytes the session holds from `Range: bytes=0-N` (none when the header is absent)."""
    if not value or "-" not in value:
        return 0
    try:
        return int(value.rsplit("-", 1)[1]) + 1
    except ValueError:
        return 0
