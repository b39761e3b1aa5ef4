"""One Threads account's API client, and the one place where the Threads API's answers become channel errors.

The Threads API is Graph-style (base https://graph.threads.net/v1.0, overridable as `api:` for tests). The
token travels as the documented `access_token` parameter: in the body of every POST, so it is never part of
a URL that urllib3 logs; a GET has no body, so there it is in the query string, and the redacting filter
on urllib3's loggers blanks it (scheduler.channels._secretguard).

Errors are Graph's `{"error": {"message", "code", "error_subcode", "fbtrace_id"}}`; codes, not HTTP
statuses, say what happened: `190` token expired or revoked → TokenRejected; `9` with subcode `2207042`
the publishing limit → RetryLater (the 24-hour window is rolling, so looked at again in an hour); `4` with
subcode `2207051` restricted as spam → Rejected, never retried; throttling `4`, `17`, `32`, `613` and
`1`, `2`, transient ones and 5xx → RetryLater; `100`/`33` (no such object) is None where the caller says
an object may be gone; anything else → Rejected with the API's message and its fbtrace_id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from scheduler.channels import http
from scheduler.channels._secretguard import detached
from scheduler.errors import ChannelError, Rejected, RetryLater, TokenRejected
from scheduler.secrets import MASK, redact, remember

DEFAULT_API = "https://graph.threads.net/v1.0"
LIMIT_LOOK_AGAIN = 3600.0  # seconds: the publishing window rolls over 24 hours and names no reset
_TOKEN = 190
_LIMIT = (9, 2207042)
_SPAM = (4, 2207051)
_THROTTLED = frozenset({4, 17, 32, 613})
_TRANSIENT = frozenset({1, 2})
_NO_OBJECT = (100, 33)
_PERMISSION = frozenset({10, *range(200, 300)})


class ThreadsApi:
    """Requests to the Threads API for one account (`user_id`) of one channel, with its access token."""

    def __init__(self, channel: str, user_id: str, token: str, base: str) -> None:
        self.channel, self.user_id, self.base = channel, user_id, base
        self._token = token
        remember(self._token)  # the API may echo it back; redact() must know it
        self._http = http.session()

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        may_publish: bool = False,
        params: Mapping[str, str] | None = None,
        data: list[tuple[str, str]] | None = None,
        gone_is_none: bool = False,
        root: bool = False,
    ) -> Any:
        """One request; its JSON body if it succeeded, else the channel error it means.

        `gone_is_none`: the object asked for may be gone; the API's 100/33 is then None instead of an error.
        `root`: the path is at the host's root, outside the version (`/refresh_access_token`)."""
        url = (_host(self.base) if root else self.base) + path
        if method == "GET":
            params = {**(params or {}), "access_token": self._token}
        else:
            data = [*(data or []), ("access_token", self._token)]
        try:
            response = http.send(
                self._http,
                method,
                url,
                may_publish=may_publish,
                params=params,
                data=data,
                allow_redirects=False,  # a redirected POST would be replayed as a GET
            )
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"Threads unreachable ({self.base}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        else:
            if gone_is_none and _codes(response) == _NO_OBJECT:
                return None
            return self._checked(response)
        raise detached(error)

    def debug_token(self) -> Mapping[str, Any]:
        """What Threads says of this token (`GET /debug_token`, the token inspecting itself): the `data`
        object, with `is_valid`, `expires_at`, `issued_at`, `scopes`. Threads answers it for the app's testers."""
        body = self.call("GET", "/debug_token", params={"input_token": self._token})
        return mapping(mapping(body).get("data"))

    def _checked(self, response: requests.Response) -> Any:
        status = response.status_code
        body = _json(response)
        problem = body.get("error") if isinstance(body, Mapping) else None
        if 200 <= status < 300 and not isinstance(problem, Mapping):
            return body
        if 300 <= status < 400:
            target = self._scrub(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"{self.base} redirects to {target}: set `api` to that address")
        if not isinstance(problem, Mapping):
            text = self._scrub(response.text.strip() or response.reason or "")[:300]
            message = f"HTTP {status} from Threads: {text}"
            if status == 429 or status >= 500:
                raise RetryLater(message, http.retry_after(response, rate_limit=status == 429))
            raise Rejected(message)
        raise self._error(status, problem, response)

    def _error(self, status: int, error: Mapping[str, Any], response: requests.Response) -> ChannelError:
        """The channel error that an error body means."""
        code, subcode = integer(error.get("code")), integer(error.get("error_subcode"))
        said = self._said(status, code, subcode, error)
        if code == _TOKEN:
            return TokenRejected(
                f"token rejected: Threads refused the access token of channel {self.channel} (expired or revoked). "
                "Make a new long-lived Threads token and store it where `token:` points (docs/writing-posts.md, "
                f"Threads). {said}"
            )
        if (code, subcode) == _LIMIT or code == _LIMIT[0]:
            return RetryLater(
                f"the Threads account of channel {self.channel} reached its publishing limit; sent when the 24-hour "
                f"window frees a place. {said}",
                LIMIT_LOOK_AGAIN,
            )
        if (code, subcode) == _SPAM:
            return Rejected(
                f"Threads restricts the account of channel {self.channel} as spam (code 4/2207051), so this post "
                "is not retried: check the account in the Threads app, and send it again with `campaign retry` "
                f"once the restriction is lifted. {said}"
            )
        if code in _THROTTLED:
            return RetryLater(f"Threads is throttling calls of this app. {said}", http.retry_after(response))
        if code in _PERMISSION:
            return Rejected(
                f"the token of channel {self.channel} lacks a permission: it needs threads_basic and "
                f"threads_content_publish (and threads_manage_replies for threads of replies). {said}"
            )
        if code in _TRANSIENT or error.get("is_transient") is True or status >= 500:
            return RetryLater(f"Threads had a temporary problem. {said}", http.retry_after(response, rate_limit=False))
        return Rejected(said)

    def _said(self, status: int, code: int | None, subcode: int | None, error: Mapping[str, Any]) -> str:
        """What the API said, in its own words, with what support needs (code, fbtrace_id)."""
        parts = [str(error.get(key)) for key in ("message", "error_user_msg") if error.get(key)]
        numbers = f"code {code}" + (f"/{subcode}" if subcode is not None else "") if code is not None else ""
        trace = error.get("fbtrace_id")
        detail = ", ".join(part for part in (f"HTTP {status}", numbers, f"fbtrace_id {trace}" if trace else "") if part)
        return self._scrub(f"Threads said: {' '.join(parts) or 'no message'} ({detail})")[:500]

    def _scrub(self, text: str) -> str:
        return redact(text).replace(self._token, MASK)


def _host(base: str) -> str:
    """`https://graph.threads.net` of `https://graph.threads.net/v1.0`."""
    head, _, last = base.rstrip("/").rpartition("/")
    return head if last.startswith("v") and last[1:].replace(".", "", 1).isdigit() else base.rstrip("/")


def _codes(response: requests.Response) -> tuple[int | None, int | None]:
    body = _json(response)
    problem = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(problem, Mapping):
        return None, None
    return integer(problem.get("code")), integer(problem.get("error_subcode"))


def integer(value: Any) -> int | None:
    """A whole number as the API writes one (a number or a string of digits); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
