"""Whether URLs answer: HEAD, else GET when HEAD is refused; redirects followed hop by hop.

Each URL gets at most `timeout` seconds (every hop included, the whole answer, however slowly it
comes: its connections are cut then), a check of many URLs at most its `budget` (what is not
answered by then is failing, and its fetch is cut off too), and `workers` fetch at once. Every hop
goes only to a public address (scheduler.links.transport): a link or redirect to an address inside
this network is refused, never requested. A URL asked for again while it is being fetched waits
for that fetch; with `remember`, its result is kept that many seconds (a thread, or one post on
four channels, is fetched once), and a site that gave no answer at all (a timeout, no connection)
is not asked again for that long: its other links fail at once instead of each waiting (ten posts
linking to a site that is down wait once, not ten times). requests' errors are translated here,
and only here, into a `Result`.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import NameResolutionError

from scheduler import __version__, settings
from scheduler.links.transport import Adapter, Deadline, NotPublic, OutOfTime, Unresolved

USER_AGENT = f"campaign-scheduler/{__version__} (checks the links of posts before they go out)"
MAX_REDIRECTS = 10
#: Answers that say "not to you, not now" rather than "this page is gone": a bot wall, a login, a
#: rate limit. Such a link is failing (it could not be checked), never dead.
REFUSED = frozenset({401, 403, 407, 408, 425, 429, 451})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_FETCHABLE = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)


class Kind(StrEnum):
    OK = "ok"
    DEAD = "dead"  # the server says the page is not there (404, 410, most 4xx)
    FAILING = "failing"  # no answer that tells: a timeout, a name that does not resolve, TLS, 5xx
    REDIRECTED = "redirected"  # works, but ends on another site
    REFUSED = "refused"  # it, or a redirect, leads to an address that is not public: not fetched


@dataclass(frozen=True)
class Result:
    """What one URL did when fetched."""

    url: str
    kind: Kind
    detail: str = ""  # "404 Not Found", "no answer within 3 seconds", ...
    status: int | None = None  # the last answer's HTTP status
    final: str | None = None  # where the redirects ended

    def describe(self) -> str:
        """The result in a person's words: `link https://x.nl/a is dead (404 Not Found)`."""
        if self.kind is Kind.DEAD:
            return f"link {self.url} is dead ({self.detail})"
        if self.kind is Kind.FAILING:
            return f"link {self.url} could not be checked: {self.detail}"
        if self.kind is Kind.REDIRECTED:
            return f"link {self.url} leads to another site: {self.final}"
        if self.kind is Kind.REFUSED:
            return f"link {self.url} {self.detail}"
        return f"link {self.url} works"


def site(url: str) -> str:
    """The host a person would call the site: lower case, without a leading `www.`."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host.removeprefix("www.")


def allowed_hosts() -> frozenset[str]:
    """CAMPAIGN_LINKS_ALLOW_HOSTS: names fetched without looking at their addresses (tests only)."""
    return frozenset(h.strip().lower() for h in settings.get("CAMPAIGN_LINKS_ALLOW_HOSTS").split(",") if h.strip())


class Checker:
    """Fetches URLs with one requests session and a pool of `workers` threads. Thread-safe.

    `allow`: host names fetched without looking at their addresses; default CAMPAIGN_LINKS_ALLOW_HOSTS.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        workers: int = 8,
        remember: float = 0.0,
        allow: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout, self.workers, self.remember, self.clock = timeout, workers, remember, clock
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = Adapter(allowed_hosts() if allow is None else allow)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[str, Future[Result]] = {}
        self._remembered: dict[str, tuple[float, Result]] = {}
        self._silent: dict[str, float] = {}  # site → until when it counts as not answering
        self.fetched = 0  # URLs fetched (not taken from memory): what the tests count

    def check(self, urls: Iterable[str], budget: float | None = None) -> dict[str, Result]:
        """A result for each of `urls` (each fetched once), within `budget` seconds if given."""
        results: dict[str, Result] = {}
        waiting: dict[str, Future[Result]] = {}
        started: list[tuple[str, Future[Result]]] = []
        limit = self.timeout if budget is None else min(self.timeout, budget)
        until = time.monotonic() + (limit if budget is None else budget)  # no fetch of this check goes past it
        with self._lock:
            now = self.clock()
            self._remembered = {u: known for u, known in self._remembered.items() if known[0] > now}
            self._silent = {host: until for host, until in self._silent.items() if until > now}
            for url in dict.fromkeys(urls):
                if url in self._remembered:
                    results[url] = self._remembered[url][1]
                    continue
                if site(url) in self._silent and url not in self._pending:
                    results[url] = Result(url, Kind.FAILING, "its site did not answer a moment ago")
                    continue
                if url not in self._pending:
                    if self._pool is None:
                        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="links")
                    future = self._pool.submit(self._fetch, url, limit, until)
                    self._pending[url] = future
                    self.fetched += 1
                    started.append((url, future))
                waiting[url] = self._pending[url]
        # Outside the lock: a fetch that is already done runs its callback here, at once, and the
        # callback takes the lock (inside it, that deadlocked whenever a fetch beat this thread).
        for url, future in started:
            future.add_done_callback(functools.partial(self._done, url))
        if waiting:
            wait(waiting.values(), timeout=budget)
        for url, future in waiting.items():
            if not future.done():
                results[url] = Result(url, Kind.FAILING, f"no answer within {_seconds(budget or limit)}")
                self._silence(url)
            elif (error := future.exception()) is not None:
                results[url] = Result(url, Kind.FAILING, f"the check failed ({error.__class__.__name__})")
            else:
                results[url] = future.result()
        return results

    def close(self) -> None:
        """Stop taking URLs; fetches under way end by their own time limit."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _done(self, url: str, future: Future[Result]) -> None:
        with self._lock:
            self._pending.pop(url, None)
            if self.remember > 0 and not future.cancelled() and future.exception() is None:
                result = future.result()
                self._remembered[url] = (self.clock() + self.remember, result)
                if result.kind is Kind.FAILING and result.status is None:  # no answer at all
                    self._silent[site(url)] = self.clock() + self.remember

    def _silence(self, url: str) -> None:
        if self.remember > 0:
            with self._lock:
                self._silent[site(url)] = self.clock() + self.remember

    def _fetch(self, url: str, limit: float, until: float) -> Result:
        """`url` fetched within `limit` seconds from now, and not past `until` (its check's end)."""
        deadline = min(time.monotonic() + limit, until)
        late = Result(url, Kind.FAILING, f"no answer within {_seconds(limit)}")
        if deadline <= time.monotonic():  # it waited for a free worker until its check was over
            return late
        with Deadline(deadline - time.monotonic()) as cut:
            try:
                answer = self._follow("HEAD", url, cut, deadline)
                if answer[0] >= 400:  # some servers refuse HEAD (405, 501) or answer it wrongly (403, 404)
                    answer = self._follow("GET", url, cut, deadline)
            except OutOfTime:
                return late
            except _Refused as refused:
                return Result(url, Kind.REFUSED, refused.why)
            except Unresolved as unresolved:
                return Result(url, Kind.FAILING, f"its host name {unresolved.host} does not resolve")
            except requests.RequestException as exc:
                return late if cut.expired else Result(url, Kind.FAILING, _why(exc, limit))
        return _judge(url, *answer)

    def _follow(self, method: str, url: str, cut: Deadline, deadline: float) -> tuple[int, str]:
        """(status, URL) of the answer at the end of the redirects from `url`."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutOfTime
            try:
                response = self._session.request(
                    method, current, allow_redirects=False, timeout=(left, left), stream=True
                )
            except NotPublic as inside:
                if current == url:
                    raise _Refused(f"leads to {inside.host}, {inside.what()}: not checked and not followed") from None
                raise _Refused(f"redirects to {current}, {inside.what()}: not followed") from None
            response.close()  # the body is never read: the status and headers tell
            if cut.expired:  # cut off while its headers came: they end there, so the answer looks whole
                raise OutOfTime
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response.status_code, current
            current = urljoin(current, location)
        raise requests.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")


class _Refused(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _judge(url: str, status: int, final: str) -> Result:
    phrase = f"{status} {_phrase(status)}".strip()
    if status < 400:
        if site(final) != site(url):
            return Result(url, Kind.REDIRECTED, f"redirected to {final}", status, final)
        return Result(url, Kind.OK, phrase, status, final)
    if status < 500 and status not in REFUSED:
        return Result(url, Kind.DEAD, phrase, status, final)
    return Result(url, Kind.FAILING, f"the server answered {phrase}", status, final)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _why(exc: requests.RequestException, limit: float) -> str:
    """A request that got no answer, in a person's words."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {_seconds(limit)}"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the secure connection failed (its certificate or TLS)"
    if isinstance(exc, requests.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(
        exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema
    ):
        return "it is not a web address that can be fetched"
    if isinstance(exc, requests.ConnectionError):
        if _caused_by(exc, (socket.gaierror, NameResolutionError)):
            host = urlsplit(_url_of(exc)).hostname
            return f"its host name {host} does not resolve" if host else "its host name does not resolve"
        return "the connection failed"
    return f"the request failed ({exc.__class__.__name__})"


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether `kinds` is among the causes of `exc` (urllib3 wraps them in its own errors' args)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        stack += [a for a in current.args if isinstance(a, BaseException)]
    return False


def _url_of(exc: requests.RequestException) -> str:
    request = exc.request
    return str(request.url) if request is not None and request.url else ""


def _seconds(value: float) -> str:
    return "1 second" if value == 1 else f"{value:g} seconds"
