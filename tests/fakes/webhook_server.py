"""A fake webhook receiver over real HTTP on 127.0.0.1, in one of four flavours.

`json`: when given a secret, verifies the Standard Webhooks headers (`webhook-id`,
`webhook-timestamp`, `webhook-signature`) with the `standardwebhooks` package's own verifier, as a
receiver would (401 if they are missing, do not match, or the timestamp is over 5 minutes off), or,
with `legacy=True`, the deprecated `X-Campaign-Signature-256` over the body alone; answers {"id"}; `slack`: answers 200 `ok`; `discord`: answers the created message
as JSON when called with `?wait=true`, else 204; `teams`: answers 200 `1`. A POST to any other
path than the hook's gets Slack's 404 `no_service`.

Knobs: `respond_next(status, body, headers)` (Slack/Discord-style errors, nothing is posted),
`drop_next()` (the post is accepted, then the connection closes without an answer),
`echo_next()` (a 400 whose text repeats the request's path and headers, secrets and all),
`head_status` (the answer to HEAD, 405 by default as many receivers give).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.fakes.server import Background, owner, read_raw


@dataclass
class Reply:
    status: int
    body: Any = ""  # a dict is sent as JSON, a str as text
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeWebhook:
    """One webhook URL. `received` holds every request, `posted` those that made a message."""

    def __init__(
        self, *, flavor: str = "json", secret: str | None = None, path: str = "/hooks/T1/B2/x", legacy: bool = False
    ) -> None:
        self.flavor, self.secret, self.path, self.legacy = flavor, secret, path, legacy
        self.head_status = 405
        self.received: list[Received] = []
        self.posted: list[Received] = []
        self._canned: list[Reply] = []
        self._drop_next = False
        self._echo_next = False
        self._ids = itertools.count(1_200_000_000_000_000_001)
        self._lock = threading.Lock()
        self._http = Background(_Handler, self)
        self.base = self._http.url
        self.url = self.base + path

    def __enter__(self) -> FakeWebhook:
        self._http.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.stop()

    def respond_next(self, status: int, body: Any = "", headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._canned.append(Reply(status, body, dict(headers or {})))

    def drop_next(self) -> None:
        with self._lock:
            self._drop_next = True

    def echo_next(self) -> None:
        with self._lock:
            self._echo_next = True

    def handle(self, request: Received) -> Reply | None:
        """The reply to `request`, or None to drop the connection."""
        with self._lock:
            self.received.append(request)
            if request.method == "HEAD":
                return Reply(self.head_status)
            if self._canned:
                return self._canned.pop(0)
            if self._echo_next:
                self._echo_next = False
                return Reply(400, f"invalid_request: {request.path} {request.headers}")
            if request.path != self.path:
                return Reply(404, "no_service")
            if self.secret is not None and not self.verifies(request):
                return Reply(401, {"error": "invalid signature"})
            self.posted.append(request)
            if self._drop_next:
                self._drop_next = False
                return None
            return self._success(request)

    def verifies(self, request: Received) -> bool:
        """Whether `request` is signed with this receiver's secret, checked as a receiver would."""
        assert self.secret is not None
        if self.legacy:
            expected = "sha256=" + hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, request.headers.get("x-campaign-signature-256", ""))
        # A whsec_ secret goes to the library as it is; any other is its UTF-8 bytes (docs/webhooks.md).
        key: str | bytes = self.secret if self.secret.startswith("whsec_") else self.secret.encode()
        try:
            Webhook(key).verify(request.body, request.headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    def _success(self, request: Received) -> Reply:
        if self.flavor == "slack":
            return Reply(200, "ok")
        if self.flavor == "teams":
            return Reply(200, "1")
        if self.flavor == "discord":
            if request.query.get("wait") != "true":
                return Reply(204)
            message_id = str(next(self._ids))
            content = request.json().get("content")
            return Reply(
                200,
                {
                    "id": message_id,
                    "channel_id": "1100000000000000001",
                    "content": content,
                    "webhook_id": "1100000000000000002",
                    "type": 0,
                },
            )
        return Reply(200, {"id": f"receipt-{len(self.posted)}"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        reply = owner(self).handle(Received(method, *read_raw(self)))
        if reply is None:
            self.close_connection = True
            return
        if isinstance(reply.body, str):
            payload, kind = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            payload, kind = json.dumps(reply.body).encode(), "application/json"
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD" and reply.status != 204:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass
