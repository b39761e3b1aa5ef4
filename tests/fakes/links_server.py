"""A website for link checks: pages that answer as web servers do (RFC 9110), on 127.0.0.1.

It serves as an HTTP proxy too (`HTTP_PROXY=<address>`: requests then asks it for absolute URLs),
so posts can link to `http://site.example.nl/...` as real posts do: the networks, and so the
link finder, see no link in `http://127.0.0.1:port/...`. Every host gets the same pages.

    /ok          200 to HEAD and GET
    /gone        404 (and /removed 410)
    /no-head     405 with `Allow: GET` to HEAD (as many servers do), 200 to GET
    /moved       301 to /ok on the same host
    /away        302 to /ok on `other_url`: another site
    /busy        503 with Retry-After
    /slow        answers 200 after `slow_seconds` (released at once by stop())
    /drip...     a status line, then one header line a second, `drip_lines` of them (released by
                 stop()): every socket read of a checker gets something, the answer never ends;
                 `cut_off` counts the drips the checker hung up on before their end
    /endless     405 to HEAD; to GET 200 and a body without end (cut_off counted the same way)

`answer(path, status)` makes a path answer `status` from then on (a page that breaks);
`redirect(path, location)` makes it a 302 to `location`; `requests` lists (method, path) of every
request, in order, and `host_headers` the Host header of each.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import urlsplit

from tests.fakes.server import Background, owner


class LinkSite:
    def __init__(
        self,
        slow_seconds: float = 30.0,
        latency_seconds: float = 0.0,
        drip_lines: int = 600,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: serve HTTPS with this server-side context (its `address` is then https://...)."""
        self.slow_seconds = slow_seconds
        self.drip_lines = drip_lines
        self.cut_off = 0
        self.host_headers: list[str] = []
        self._redirects: dict[str, str] = {}
        self.latency_seconds = latency_seconds  # before every answer (benchmarks)
        self.requests: list[tuple[str, str]] = []
        self.user_agents: set[str] = set()
        self._answers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = Background(_Handler, self)
        self.address = self._server.url  # where it listens: the proxy to set
        if tls is not None:
            self._server.secure(tls)
            self.address = self.address.replace("http://", "https://", 1)
        self.url = "http://site.example.nl"  # the site posts link to (through the proxy)
        self.other_url = "http://elders.example.nl"
        self.hosts = "site.example.nl,elders.example.nl"  # CAMPAIGN_LINKS_ALLOW_HOSTS: they stand for public sites

    def answer(self, path: str, status: int) -> None:
        with self._lock:
            self._answers[path] = status

    def redirect(self, path: str, location: str) -> None:
        with self._lock:
            self._redirects[path] = location

    def cut(self) -> int:
        with self._lock:
            return self.cut_off

    def drip(self, write: Callable[[bytes], object]) -> None:
        """A status line, then a header line a second until `drip_lines` or stop(); the checker's hang-up is counted."""
        try:
            write(b"HTTP/1.1 200 OK\r\n")
            for number in range(self.drip_lines):
                if self._released.wait(1.0):
                    return
                write(f"X-Drip-{number}: {'.' * 20}\r\n".encode())
            write(b"Content-Length: 0\r\n\r\n")
        except OSError:  # the checker hung up
            with self._lock:
                self.cut_off += 1

    def pour(self, write: Callable[[bytes], object]) -> None:
        """200 and a body that does not end (at most a few GB, or until stop())."""
        try:
            write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
            for _ in range(50_000):
                if self._released.is_set():
                    return
                write(b"<p>" + b"x" * 65_536 + b"</p>\n")
        except OSError:  # the checker hung up
            with self._lock:
                self.cut_off += 1

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, p in self.requests if p == path)

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def reply(self, method: str, path: str, agent: str, host: str = "") -> tuple[int, dict[str, str]]:
        with self._lock:
            self.requests.append((method, path))
            self.user_agents.add(agent)
            self.host_headers.append(host)
            fixed = self._answers.get(path)
            elsewhere = self._redirects.get(path)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if fixed is not None:
            return fixed, {}
        if elsewhere is not None:
            return 302, {"Location": elsewhere}
        if path == "/slow":
            self._released.wait(self.slow_seconds)
            return 200, {}
        if path in ("/no-head", "/endless") and method == "HEAD":
            return 405, {"Allow": "GET"}
        return {
            "/ok": (200, {}),
            "/no-head": (200, {}),
            "/gone": (404, {}),
            "/removed": (410, {}),
            "/moved": (301, {"Location": "/ok"}),
            "/away": (302, {"Location": f"{self.other_url}/ok"}),
            "/busy": (503, {"Retry-After": "120"}),
        }.get(path, (404, {}))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        site: LinkSite = owner(self)
        target = urlsplit(self.path)  # an absolute URL when asked as a proxy
        path = target.path
        host = target.netloc or self.headers.get("Host", "")
        status, headers = site.reply(self.command, path, self.headers.get("User-Agent", ""), host)
        if path.startswith("/drip") or (path == "/endless" and self.command == "GET"):
            (site.drip if path.startswith("/drip") else site.pour)(self.wfile.write)
            self.close_connection = True
            return
        body = b"" if status in (204, 304) else f"<html><body>{status}</body></html>".encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass  # the checker gave up and closed the connection

    do_GET = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass
