"""HTTP for adapters: one requests session each, and the translation of requests' errors.

Whether a failed request may have reached the network decides between RetryLater and InDoubt:
a connection that was never made cannot have published anything; a timeout or a connection
dropped after the request was sent can have.
"""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from scheduler import __version__
from scheduler.channels._secretguard import guard_urllib3_logs
from scheduler.errors import ChannelError, InDoubt, Rejected, RetryLater
from scheduler.secrets import redact

USER_AGENT = f"campaign-scheduler/{__version__}"
TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
SLOWEST_UPLOAD = 250_000  # bytes/s (2 Mbit/s): the slowest link a file upload is given the time to cross


def upload_timeout(size: int) -> tuple[float, float]:
    """The timeout of a request that sends `size` bytes of file in one body. urllib3 sends a body under
    the connect timeout, a bound on the whole send: 5 s would fail any 100 MB video below 20 MB/s."""
    return (max(TIMEOUT[0], size / SLOWEST_UPLOAD), TIMEOUT[1])


_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset")


def session(read_retries: int = 2) -> requests.Session:
    """A session that retries only idempotent methods (GET, HEAD) on connection errors and 5xx."""
    guard_urllib3_logs()
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    retry = Retry(
        total=read_retries,
        allowed_methods=frozenset({"GET", "HEAD"}),
        status_forcelist=(502, 503, 504),
        backoff_factor=0.2,
        respect_retry_after_header=False,  # waits belong to the daemon, not to a blocked thread
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def retry_after(response: requests.Response, now: float | None = None, rate_limit: bool = True) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or, for a rate limit, its reset header."""
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    if not rate_limit:  # Mastodon sends X-RateLimit-Reset on every answer; it says nothing about an outage
        return None
    for name in _RESET_HEADERS:
        value = response.headers.get(name)
        if not value:
            continue
        seconds = _until(value, now)
        if seconds is not None:
            return seconds
    return None


def _until(value: str, now: float) -> float | None:
    """Seconds until a rate-limit reset: an epoch (Bluesky, X), an ISO 8601 time (Mastodon), or for
    small numbers seconds from now; None if it is none of these."""
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            return max(0.0, datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now)
        except ValueError:
            return None
    return max(0.0, number - now) if number > 1_000_000_000 else number


def budget(response: requests.Response) -> tuple[int, int, float] | None:
    """(remaining, limit, seconds to reset) from a response's rate-limit headers, where it has them
    (X-RateLimit-* on Mastodon, ratelimit-* on Bluesky, x-rate-limit-* on X)."""
    headers = response.headers
    for prefix in ("x-ratelimit-", "ratelimit-", "x-rate-limit-"):
        remaining, limit = headers.get(prefix + "remaining"), headers.get(prefix + "limit")
        if remaining is None or limit is None:
            continue
        try:
            left, most = int(remaining.strip()), int(limit.split(";")[0].strip())
        except ValueError:
            return None
        reset = headers.get(prefix + "reset")
        return left, most, (_until(reset, time.time()) if reset else None) or 0.0
    return None


def error_message(response: requests.Response, extract: Callable[[Any], str | None] | None = None) -> str:
    """The network's own words for a failed response, without secrets, at most 500 characters."""
    text: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if body is not None and extract is not None:
        text = extract(body)
    if text is None and isinstance(body, Mapping):
        for key in ("error_description", "error", "message", "description"):
            if isinstance(body.get(key), str):
                text = body[key]
                break
    if text is None:
        text = response.text.strip() or response.reason or ""
    return redact(f"HTTP {response.status_code}: {text}")[:500]  # redact first: a cut may split a secret


def check_status(response: requests.Response, extract: Callable[[Any], str | None] | None = None) -> requests.Response:
    """`response` if 2xx; else RetryLater for 429 and 5xx, Rejected for other 4xx."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    message = error_message(response, extract)
    if status == 429 or status >= 500:
        raise RetryLater(message, after=retry_after(response, rate_limit=status == 429))
    raise Rejected(message)


def send(http: requests.Session, method: str, url: str, *, may_publish: bool, **kwargs: Any) -> requests.Response:
    """One request, with requests' errors translated.

    `may_publish`: the request creates a post, so a failure after sending is InDoubt.
    """
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        return http.request(method, url, **kwargs)
    except requests.exceptions.RequestException as exc:
        error = _translate(exc, may_publish)
    # Raised outside the except block: requests' exception (whose text has the URL) stays unlinked.
    raise error


def _translate(exc: requests.exceptions.RequestException, may_publish: bool) -> ChannelError:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RetryLater(redact(f"could not connect: {exc.__class__.__name__}"))
    if isinstance(exc, requests.exceptions.SSLError):
        return RetryLater("TLS handshake failed")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if may_publish and _was_sent(exc):
            return InDoubt("the connection dropped after the request was sent")
        return RetryLater(redact(f"could not connect: {_why_not_connected(exc)}"))
    if isinstance(exc, requests.exceptions.Timeout):
        return (
            InDoubt("no answer in time after the request was sent") if may_publish else RetryLater("no answer in time")
        )
    return ChannelError(redact(f"request failed: {exc.__class__.__name__}"))


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _why_not_connected(exc: requests.exceptions.ConnectionError) -> str:
    """In a person's words where the cause is a common one: offline, a misspelt server, a server down."""
    cause = _root_cause(exc)
    request = getattr(exc, "request", None)
    host = urlsplit(request.url).hostname if request is not None and request.url else None
    server = f"the server name {host}" if host else "the server's name"
    if isinstance(cause, socket.gaierror) or "NameResolutionError" in repr(exc):
        return f"{server} could not be looked up; check that this computer is online and that the name is spelt right"
    if isinstance(cause, ConnectionRefusedError):
        where = host or "the server"
        return f"{where} refused the connection; the service may be down, or the address or port is wrong"
    return cause.__class__.__name__


def _was_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True unless the connection was never established (refused, DNS, unreachable)."""
    text = repr(exc)
    never_connected = (
        "NewConnectionError",
        "Connection refused",
        "Name or service not known",
        "Failed to resolve",
        "No route to host",
        "Network is unreachable",
        "NameResolutionError",
    )
    return not any(marker in text for marker in never_connected)
