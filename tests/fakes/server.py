"""The machinery shared by the fake networks: a threaded HTTP/1.1 server and its failure knobs.

A subclass implements `handle(request) -> Reply`. Around it the base class offers:

    fail(method, path, status, body, headers, times)   answer without processing (outage, 429)
    drop_after_processing(method, path, times)          process, then close without answering
    latency_ms                                          sleep before every answer (benchmarks)
    upload_rate                                         read request bodies at most this fast, bytes/s (benchmarks)
    requests                                            every request received, in order
    images, image_traces                                every image uploaded, and the metadata found in them
                                                        (tests.fakes.images.traces: EXIF, XMP, GPS bytes)
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

from tests.fakes import images


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Request:
    """One request as the server saw it; header names are lower case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)  # urlencoded, multipart or JSON
    files: dict[str, Upload] = field(default_factory=dict)
    body: bytes = b""  # as received, for fakes that check a signature or read nested JSON

    def value(self, name: str, default: str | None = None) -> str | None:
        """The first value of `name` in the form, else in the query string."""
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable; bytes are sent as they are; None sends no body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Rule:
    method: str
    path: str  # a prefix of the request path
    times: int
    reply: Reply | None  # None: drop the connection after processing


class FakeServer:
    """A real HTTP server on 127.0.0.1 (port chosen by the OS), run in a thread."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.upload_rate = 0.0  # bytes/s a request body is read at (a slow network); 0: as fast as it comes
        self.requests: list[Request] = []
        self.images: list[bytes] = []
        self.image_traces: list[str] = []
        self.lock = threading.RLock()
        self._rules: list[_Rule] = []
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- to be implemented by each network ---------------------------------------------------

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    # -- failure knobs -----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with this reply, without processing them."""
        with self.lock:
            self._rules.append(_Rule(method, path, times, Reply(status, body, headers or {})))

    def drop_after_processing(self, method: str, path: str, times: int = 1) -> None:
        """Process the next `times` matching requests, then close the connection unanswered."""
        with self.lock:
            self._rules.append(_Rule(method, path, times, None))

    def _take_rule(self, request: Request) -> _Rule | None:
        with self.lock:
            for rule in self._rules:
                if rule.method == request.method and request.path.startswith(rule.path):
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    # -- life cycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        with self.lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):  # wakes handlers waiting on kept-alive sockets
                    connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        request = _read_request(handler, self.upload_rate)
        with self.lock:
            self.requests.append(request)
        self._check_images(request)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        rule = self._take_rule(request)
        if rule is not None and rule.reply is not None:
            _write(handler, rule.reply)
            return
        reply = self.handle(request)
        if rule is not None:  # processed; now vanish without a word
            handler.close_connection = True
            return
        _write(handler, reply)

    def _check_images(self, request: Request) -> None:
        """No image may arrive with a trace of where it was taken: each upload is parsed and searched."""
        found = [(u.filename, u.data) for u in request.files.values() if images.is_image(u.content_type, u.data)]
        if images.is_image(request.headers.get("content-type", ""), request.body):
            found.append((request.path, request.body))
        for name, data in found:
            problems = images.traces(data)
            with self.lock:
                self.images.append(data)
                self.image_traces += [f"{name}: {problem}" for problem in problems]


class _OwnedServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: Any  # the fake whose handler answers


class Background:
    """A threaded HTTP server on 127.0.0.1 (port chosen by the OS) for fakes with a handler of their own.

    Its URL is known once made; it serves between start() and stop(). The handler reaches the fake
    as `owner(handler)`.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: Any) -> None:
        self._httpd = _OwnedServer(("127.0.0.1", 0), handler)
        self._httpd.owner = owner
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def secure(self, context: ssl.SSLContext) -> None:
        """Serve HTTPS (before start()): each connection's TLS handshake is made as it is accepted."""
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def owner(handler: BaseHTTPRequestHandler) -> Any:
    """The fake that a Background server's handler answers for."""
    return cast(_OwnedServer, handler.server).owner


def read_raw(handler: BaseHTTPRequestHandler) -> tuple[str, dict[str, str], dict[str, str], bytes]:
    """(path, query with first values, headers with lower-case names, raw body) of the request."""
    parts = urlsplit(handler.path)
    body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    headers = {key.lower(): value for key, value in handler.headers.items()}
    return parts.path, query, headers, body


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes; without this, Nagle and delayed ACK add 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with server.lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server.lock:
                server._connections.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            server._serve(self)

        do_POST = do_PUT = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests read `requests`; stderr stays quiet

    return Handler


def _read_request(handler: BaseHTTPRequestHandler, rate: float = 0.0) -> Request:
    parts = urlsplit(handler.path)
    headers = {name.lower(): value for name, value in handler.headers.items()}
    length = int(headers.get("content-length") or 0)
    body = _read_body(handler, length, rate) if length else b""
    request = Request(handler.command, parts.path, parse_qs(parts.query), headers, body=body)
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        request.form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    elif content_type.startswith("application/json") and body:
        data = json.loads(body)
        if isinstance(data, dict):
            request.form = {
                key: [str(item) for item in value] if isinstance(value, list) else [str(value)]
                for key, value in data.items()
            }
    elif content_type.startswith("multipart/form-data"):
        boundary = content_type.split("boundary=", 1)[1].strip('"')
        request.form, request.files = _parse_multipart(body, boundary)
    return request


def _read_body(handler: BaseHTTPRequestHandler, length: int, rate: float) -> bytes:
    """`length` bytes of body; at most `rate` bytes/s if given (the client's sends wait, as on a slow link)."""
    if not rate:
        return handler.rfile.read(length)
    chunks, got, started = [], 0, time.monotonic()
    while got < length:
        chunk = handler.rfile.read(min(64 * 1024, length - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        ahead = got / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    return b"".join(chunks)


def _parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    form: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8").strip().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = {}
        for item in headers["content-disposition"].split(";"):
            key, _, value = item.partition("=")
            params[key.strip()] = value.strip('"')
        if "filename" in params:
            kind = headers.get("content-type", "")
            files[params["name"]] = Upload(params["filename"], kind, data)
        else:
            form.setdefault(params["name"], []).append(data.decode("utf-8"))
    return form, files


def _write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    if reply.body is None:
        payload = b""
    elif isinstance(reply.body, bytes):
        payload = reply.body
    else:
        payload = json.dumps(reply.body).encode("utf-8")
    handler.send_response(reply.status)
    headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
