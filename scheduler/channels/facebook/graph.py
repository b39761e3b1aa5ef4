"""One Facebook Page's Graph API client, and the one place where Graph's answers become channel errors.

The token travels as the documented `access_token` parameter: in the body of every POST, so it is
never part of a URL that urllib3 logs; a GET has no body, so there it is in the query string, and
the redacting filter on urllib3's loggers blanks it (scheduler.channels._secretguard).

Every answer's usage headers (X-Business-Use-Case-Usage, X-App-Usage: percentages of the Page's
and the app's hourly limits) are the `budget`, so reading stops while posting still has room.

Errors (Graph API guide "Handling errors"; codes, not HTTP statuses, say what happened):
`190` token expired or revoked → Rejected, alerted with what to do; throttling `4`, `17`, `32`,
`613`, `80001` → RetryLater after `estimated_time_to_regain_access` (minutes) of
X-Business-Use-Case-Usage, or X-App-Usage when it says; `368` blocked → Rejected; `506` duplicate →
Duplicate (settled by the feed); `1`, `2` and 5xx → RetryLater; anything else → Rejected with
Graph's message and its fbtrace_id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from scheduler.channels import http
from scheduler.channels._secretguard import detached
from scheduler.channels.base import Budget
from scheduler.errors import ChannelError, Rejected, RetryLater, TokenRejected
from scheduler.secrets import MASK, redact, remember

DEFAULT_GRAPH = "https://graph.facebook.com"
DEFAULT_VERSION = "v25.0"
THROTTLED = frozenset({4, 17, 32, 613, 80001})  # app, user, Page, API-specific, Page BUC limits
TRANSIENT = frozenset({1, 2})  # "API Unknown", "API Service": wait and retry
_TOKEN = 190
_BLOCKED = 368
_DUPLICATE = 506
_NO_OBJECT = 100  # with subcode 33: no such object, or not visible with this token
_PERMISSION = frozenset({10, *range(200, 300)})
_USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage")
_USAGE_FIGURES = ("call_count", "total_cputime", "total_time")
_USAGE_LOOK_AGAIN = 300.0  # seconds: Graph's windows roll over an hour and name no reset; look again then


class Duplicate(Rejected):
    """Graph answered 506: the same message is already on the Page (settled by lookup)."""


class Graph:
    """Requests to Graph for one Page of one channel, with the Page access token."""

    def __init__(self, channel: str, page_id: str, token: str, graph: str, version: str) -> None:
        self.channel, self.page_id = channel, page_id
        self._token = token
        remember(self._token)  # Graph may echo it back; redact() must know it
        self.graph, self.version = graph, version
        self._base = f"{graph}/{version}"
        self.budget: Budget | None = None
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
        files: Mapping[str, Any] | None = None,
        gone_is_none: bool = False,
        timeout: tuple[float, float] = http.TIMEOUT,
    ) -> Any:
        """One Graph request; its JSON body if it succeeded, else the channel error it means.

        `gone_is_none`: the object asked for may be gone (a deleted post); Graph's code 100/33 is
        then None instead of an error."""
        url = self._base + path
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
                files=files,
                allow_redirects=False,  # a redirected POST would be replayed as a GET
                timeout=timeout,
            )
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"Graph unreachable ({self.graph}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        else:
            self.budget = _usage_budget(response) or self.budget
            if gone_is_none and _is_gone(response):
                return None
            return self._checked(response)
        raise detached(error)

    def debug_token(self) -> Mapping[str, Any]:
        """What Graph says of this channel's token (GET /debug_token with the token inspecting itself):
        the `data` object, with `is_valid`, `expires_at`, `data_access_expires_at` (0: never), `scopes`."""
        body = self.call("GET", "/debug_token", params={"input_token": self._token})
        data = body.get("data") if isinstance(body, Mapping) else None
        return data if isinstance(data, Mapping) else {}

    def _checked(self, response: requests.Response) -> Any:
        status = response.status_code
        body = _json(response)
        graph_error = body.get("error") if isinstance(body, Mapping) else None
        if 200 <= status < 300 and not isinstance(graph_error, Mapping):
            return body
        if 300 <= status < 400:
            target = self._scrub(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"{self.graph} redirects to {target}: set `graph` to that address")
        if not isinstance(graph_error, Mapping):
            text = self._scrub(response.text.strip() or response.reason or "")[:300]
            message = f"HTTP {status} from Graph: {text}"
            if status == 429 or status >= 500:
                raise RetryLater(message, usage_wait(response) or http.retry_after(response, rate_limit=status == 429))
            raise Rejected(message)
        raise self._error(status, graph_error, response)

    def _error(self, status: int, error: Mapping[str, Any], response: requests.Response) -> ChannelError:
        """The channel error that a Graph error body means (Graph API guide, "Handling errors")."""
        code, subcode = integer(error.get("code")), integer(error.get("error_subcode"))
        said = self._said(status, code, subcode, error)
        if code == _TOKEN:
            return TokenRejected(
                f"token rejected: Facebook refused the Page access token of channel {self.channel} (expired or "
                f"revoked). Make a new long-lived Page access token for Page {self.page_id} and store it where "
                f"`token:` points (docs/writing-posts.md, Facebook). {said}"
            )
        if code in THROTTLED:
            return RetryLater(f"Facebook is throttling calls{_usage_note(response)}. {said}", usage_wait(response))
        if code == _BLOCKED:
            return Rejected(f"Facebook blocked this post (code 368, not retried). {said}")
        if code == _DUPLICATE:
            return Duplicate(f"Facebook says this post is a duplicate. {said}")
        if code == _NO_OBJECT and subcode == 33:
            return Rejected(f"Page {self.page_id} does not exist or this token cannot see it. {said}")
        if code in _PERMISSION:
            return Rejected(
                f"the token of channel {self.channel} lacks a permission: it must be a Page access token with "
                f"pages_manage_posts, pages_read_engagement and (to read comments) pages_read_user_content "
                f"for Page {self.page_id}. {said}"
            )
        if code in TRANSIENT or error.get("is_transient") is True or status >= 500:
            return RetryLater(f"Graph had a temporary problem. {said}", usage_wait(response))
        return Rejected(said)

    def _said(self, status: int, code: int | None, subcode: int | None, error: Mapping[str, Any]) -> str:
        return self._scrub(said(status, code, subcode, error))[:500]

    def _scrub(self, text: str) -> str:
        return redact(text).replace(self._token, MASK)


def said(status: int, code: int | None, subcode: int | None, error: Mapping[str, Any], who: str = "Graph") -> str:
    """What a Graph-style API said, in its own words, with what support needs (code, fbtrace_id); not
    yet scrubbed of secrets. Instagram and Threads answer in the same shape (scheduler.channels.meta)."""
    parts = [str(error.get(key)) for key in ("message", "error_user_msg") if error.get(key)]
    numbers = f"code {code}" + (f"/{subcode}" if subcode is not None else "") if code is not None else ""
    trace = error.get("fbtrace_id")
    detail = ", ".join(part for part in (f"HTTP {status}", numbers, f"fbtrace_id {trace}" if trace else "") if part)
    return f"{who} said: {' '.join(parts) or 'no message'} ({detail})"


def usage_wait(response: requests.Response) -> float | None:
    """Seconds until Meta takes calls again, where a usage header says (minutes there)."""
    waits: list[float] = []
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        # X-App-Usage holds percentages only, unless Facebook adds a time to it.
        for entry in _entries(usage):
            minutes = entry.get("estimated_time_to_regain_access")
            if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
                waits.append(float(minutes) * 60)
    return max(waits) if waits else None


def _usage_budget(response: requests.Response) -> Budget | None:
    """The usage headers as a budget of 100: what is left of the fullest figure, and when to look
    again (the time to regain access, where Graph names one)."""
    used: list[float] = []
    wait = usage_wait(response)
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        for entry in _entries(usage):
            used += [
                float(value)
                for value in (entry.get(key) for key in _USAGE_FIGURES)
                if isinstance(value, int | float) and not isinstance(value, bool)
            ]
    if not used:
        return None
    return Budget(remaining=max(0, 100 - round(max(used))), limit=100, reset_in=wait or _USAGE_LOOK_AGAIN)


def _is_gone(response: requests.Response) -> bool:
    """Graph's answer for an object that does not exist (any more), or that this token cannot see."""
    body = _json(response)
    problem = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(problem, Mapping):
        return False
    return (integer(problem.get("code")), integer(problem.get("error_subcode"))) == (_NO_OBJECT, 33)


def _usage_note(response: requests.Response) -> str:
    """ " (X-App-Usage: call_count 100%)" for the usage figures at or over 100%, else ""."""
    full = []
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        for entry in _entries(usage):
            for key in _USAGE_FIGURES:
                value = entry.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and value >= 100:
                    full.append(f"{name}: {key} {value:g}%")
    return f" ({', '.join(full)})" if full else ""


def _entries(usage: Any) -> list[Mapping[str, Any]]:
    """The usage entries of a header: X-Business-Use-Case-Usage maps each business object to a
    list of them; X-App-Usage is one flat entry."""
    if not isinstance(usage, Mapping):
        return []
    if any(key in usage for key in _USAGE_FIGURES):
        return [usage]
    found = [entry for value in usage.values() for entry in (value if isinstance(value, list) else [value])]
    return [entry for entry in found if isinstance(entry, Mapping)]


def next_cursor(body: Any) -> str | None:
    """The `after` cursor of a page of a Graph list, while Graph says there is a next page."""
    paging = body.get("paging") if isinstance(body, Mapping) else None
    if not isinstance(paging, Mapping) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, Mapping) else None
    return after if isinstance(after, str) and after else None


def integer(value: Any) -> int | None:
    """A whole number as Graph writes one (a number or a string of digits); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
