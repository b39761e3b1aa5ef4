"""A fake PDS: the XRPC calls the Bluesky adapter makes, over real HTTP on 127.0.0.1.

It keeps the documented contract: sessions with expiring access tokens and rotating refresh
tokens, a login limit, `createRecord` with client-chosen TID keys that refuses a taken key (HTTP
500 like the reference PDS, or 409 `RecordAlreadyExists`), `getRecord` with `RecordNotFound`,
`uploadBlob` with a size limit, `resolveHandle`, `ratelimit-*` headers and `{"error","message"}`
bodies. After publishing (AppView methods, proxied by the PDS): `app.bsky.feed.getPosts` (at most
25 uris; deleted posts left out) with likeCount/repostCount/replyCount/quoteCount, and
`app.bsky.feed.getPostThread` (NotFound for an unknown uri) with nested replies; tests add
other people's replies with `add_reply` and change counts with `set_counts`. For video
(tests.fakes.bluesky_video_server): `com.atproto.server.getServiceAuth` (aud, lxm, exp at most an
hour ahead), `getSession` with the DID document naming the PDS (`pds_endpoint`), and records with
`app.bsky.embed.video` checked against the lexicon (video and caption blobs known, mime types, sizes,
alt, aspectRatio). Knobs: `fail_next`, `rate_limit_next`, `drop_after_next` (process, then close the
connection without answering), `expire_access_tokens`, `echo_credentials`.

    with FakePDS(password="...") as pds:
        settings = {"handle": pds.handle, "app_password": "...", "pds": pds.url}
        channel = BlueskyChannel("bsky", settings)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import regex

from tests.fakes import images
from tests.fakes.server import Background, owner, read_raw

POST = "app.bsky.feed.post"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_GRAPHEME = regex.compile(r"\X")


@dataclass
class Reply:
    status: int
    body: Any = None  # a dict or list is sent as JSON, a str as text
    headers: dict[str, str] = field(default_factory=dict)


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": error, "message": message}, dict(headers or {}))


@dataclass
class Call:
    method: str
    nsid: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    multi: dict[str, list[str]] = field(default_factory=dict)  # every value of each query parameter


class FakePDS:
    """One account's PDS. Every attribute below is safe to read after a call returned."""

    def __init__(
        self,
        *,
        handle: str = "campagne.test",
        password: str = "app-pass-1234",
        did: str = "did:plc:campagne7test",
        handles: dict[str, str] | None = None,
        max_blob_bytes: int = 1_000_000,
        access_ttl: float = 7200.0,
        login_limit: int = 30,
    ) -> None:
        self.handle, self.password, self.did = handle, password, did
        self.handles = {handle: did, **(handles or {})}
        self.max_blob_bytes = max_blob_bytes
        self.access_ttl = access_ttl
        self.login_limit = login_limit
        self.duplicate_status = 500  # the reference PDS today; 409 is the newer explicit error
        self.echo_credentials = False  # errors repeat the Authorization header / the password
        self.records: dict[str, dict[str, Any]] = {}  # rkey → {"uri", "cid", "value"}
        self.blobs: dict[str, tuple[bytes, str]] = {}  # cid → (bytes, MIME type)
        self.image_traces: list[str] = []  # metadata found in an uploaded image (tests.fakes.images.traces)
        self.pds_endpoint = ""  # the DID document's #atproto_pds; "" is this server (an entryway names another)
        self.service_tokens: dict[str, dict[str, Any]] = {}  # token → {"aud", "lxm", "exp", "iss"}
        self.logins = 0
        self.refreshes = 0
        self.calls: list[Call] = []
        self.counts: dict[str, dict[str, int]] = {}  # uri → likeCount, repostCount, quoteCount
        self._threads_seen: tuple[int, list[dict[str, Any]]] | None = None
        self.foreign: dict[str, dict[str, Any]] = {}  # uri → a reply by someone else: {"uri", "cid", "author", "value"}
        self._access: dict[str, float] = {}  # token → expiry (epoch)
        self._refresh: set[str] = set()
        self._canned: defaultdict[str, list[Reply]] = defaultdict(list)
        self._drop_after: set[str] = set()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._http = Background(_Handler, self)
        self.url = self._http.url

    def __enter__(self) -> FakePDS:
        self._http.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.stop()

    # -- knobs -----------------------------------------------------------------------------

    def fail_next(self, nsid: str, reply: Reply) -> None:
        """Answer the next call to `nsid` with `reply`, without carrying it out."""
        with self._lock:
            self._canned[nsid].append(reply)

    def rate_limit_next(self, nsid: str, reset_in: int = 120) -> int:
        """The next call to `nsid` gets a 429; returns the `ratelimit-reset` epoch it carries."""
        reset = int(time.time()) + reset_in
        headers = {
            "ratelimit-limit": "30",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(reset),
            "ratelimit-policy": "30;w=300",
        }
        self.fail_next(nsid, xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers))
        return reset

    def drop_after_next(self, nsid: str) -> None:
        """Carry out the next call to `nsid`, then close the connection without answering."""
        with self._lock:
            self._drop_after.add(nsid)

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = dict.fromkeys(self._access, 0.0)

    def set_counts(self, uri: str, *, likes: int = 0, reposts: int = 0, quotes: int = 0) -> None:
        with self._lock:
            self.counts[uri] = {"likeCount": likes, "repostCount": reposts, "quoteCount": quotes}

    def add_reply(self, parent_uri: str, handle: str, text: str, created_at: str | None = None) -> str:
        """Someone else (`handle`) replies to `parent_uri`; the reply's uri."""
        with self._lock:
            number = next(self._counter)
            did = f"did:plc:other{number}"
            uri = f"at://{did}/{POST}/{_tid_now(number)}"
            parent = self._entry(parent_uri)
            root = (parent or {}).get("value", {}).get("reply", {}).get("root") or {"uri": parent_uri}
            record = {
                "$type": POST,
                "text": text,
                "createdAt": created_at or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "reply": {"root": root, "parent": {"uri": parent_uri, "cid": (parent or {}).get("cid")}},
            }
            cid = "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:40]
            self.foreign[uri] = {"uri": uri, "cid": cid, "author": {"did": did, "handle": handle}, "value": record}
            return uri

    def seed_post(self, text: str) -> str:
        """A post of the account made without the API (benchmarks); its uri."""
        with self._lock:
            rkey = _tid_now(next(self._counter))
            uri = f"at://{self.did}/{POST}/{rkey}"
            cid = "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:40]
            record = {"$type": POST, "text": text, "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
            self.records[rkey] = {"uri": uri, "cid": cid, "value": record}
            return uri

    def count(self, nsid: str) -> int:
        return sum(1 for call in self.calls if call.nsid == nsid)

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [entry["value"] for entry in self.records.values()]

    # -- XRPC ------------------------------------------------------------------------------

    def handle_call(self, call: Call) -> Reply | None:
        """The reply to `call`, or None to drop the connection."""
        with self._lock:
            self.calls.append(call)
            if self._canned[call.nsid]:
                return self._canned[call.nsid].pop(0)
            route = getattr(self, "_" + call.nsid.replace(".", "_"), None)
            if route is None:
                return xrpc_error(501, "MethodNotImplemented", f"Method Not Implemented: {call.nsid}")
            reply = cast(Reply, route(call))
            if call.nsid in self._drop_after:
                self._drop_after.discard(call.nsid)
                return None
            return reply

    def _com_atproto_server_createSession(self, call: Call) -> Reply:
        data = _json(call.body)
        if self.logins >= self.login_limit:
            reset = str(int(time.time()) + 300)
            return xrpc_error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                {
                    "ratelimit-limit": str(self.login_limit),
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": reset,
                    "ratelimit-policy": f"{self.login_limit};w=300",
                },
            )
        if data.get("identifier") not in (self.handle, self.did) or data.get("password") != self.password:
            tail = f" (got {data.get('password')})" if self.echo_credentials else ""
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password" + tail)
        self.logins += 1
        return Reply(200, self._new_session())

    def _com_atproto_server_refreshSession(self, call: Call) -> Reply:
        token = _bearer(call)
        if token not in self._refresh:
            return xrpc_error(400, "ExpiredToken", "Token has been revoked")
        self._refresh.discard(token)  # refresh tokens rotate: the old one is spent
        self.refreshes += 1
        return Reply(200, self._new_session())

    def _com_atproto_server_getSession(self, call: Call) -> Reply:
        document = {
            "id": self.did,
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.pds_endpoint or self.url,
                }
            ],
        }
        return self._denied(call) or Reply(
            200, {"handle": self.handle, "did": self.did, "active": True, "didDoc": document}
        )

    def _com_atproto_server_getServiceAuth(self, call: Call) -> Reply:
        denied = self._denied(call)
        if denied:
            return denied
        aud, lxm = call.query.get("aud", ""), call.query.get("lxm")
        if not aud.startswith("did:"):
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "aud"')
        exp = int(call.query.get("exp") or time.time() + 60)
        if exp > time.time() + 3600:  # the reference PDS: no token more than an hour ahead
            return xrpc_error(
                400, "BadExpiration", "cannot request a token with an expiration more than an hour in the future"
            )
        token = f"eyJ.service-{next(self._counter)}.sig"
        self.service_tokens[token] = {"aud": aud, "lxm": lxm, "exp": exp, "iss": self.did}
        return Reply(200, {"token": token})

    def claims(self, token: str) -> dict[str, Any] | None:
        """What a service-auth token says (the video service checks it, as the real one checks the JWT)."""
        with self._lock:
            return self.service_tokens.get(token)

    def store_blob(self, data: bytes, mime: str) -> dict[str, Any]:
        """A blob stored for the account by a service (the video service's processed video)."""
        with self._lock:
            cid = "bafkrei" + hashlib.sha256(data).hexdigest()[:40]
            self.blobs[cid] = (data, mime)
            return {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}

    def drop_blobs(self) -> None:
        """Blobs no record refers to are gone (the PDS removes them after a while)."""
        with self._lock:
            used = json.dumps([e["value"] for e in self.records.values()])
            self.blobs = {cid: blob for cid, blob in self.blobs.items() if cid in used}

    def _com_atproto_identity_resolveHandle(self, call: Call) -> Reply:
        did = self.handles.get(call.query.get("handle", "").lower())
        if did is None:
            return xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        return Reply(200, {"did": did})

    def _com_atproto_repo_uploadBlob(self, call: Call) -> Reply:
        denied = self._denied(call)
        if denied:
            return denied
        if len(call.body) > self.max_blob_bytes:
            return xrpc_error(400, "BlobTooLarge", f"This file is too large: {len(call.body)} bytes")
        mime = call.headers.get("content-type", "application/octet-stream")
        cid = "bafkrei" + hashlib.sha256(call.body).hexdigest()[:40]
        self.blobs[cid] = (call.body, mime)
        if images.is_image(mime, call.body):  # no image may arrive with a trace of where it was taken
            self.image_traces += [f"{cid}: {problem}" for problem in images.traces(call.body)]
        return Reply(
            200,
            {
                "blob": {
                    "$type": "blob",
                    "ref": {"$link": cid},
                    "mimeType": mime,
                    "size": len(call.body),
                }
            },
        )

    def _com_atproto_repo_createRecord(self, call: Call) -> Reply:
        denied = self._denied(call)
        if denied:
            return denied
        data = _json(call.body)
        if data.get("repo") not in (self.did, self.handle):
            return xrpc_error(400, "InvalidRequest", f"Could not find repo: {data.get('repo')}")
        if data.get("collection") != POST:
            return xrpc_error(400, "InvalidRequest", "this fake knows app.bsky.feed.post only")
        rkey = data.get("rkey") or _tid_now(next(self._counter))
        if not isinstance(rkey, str) or not TID.match(rkey):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key for {POST}: {rkey}")
        problem = self._invalid(data.get("record"))
        if problem == "BlobNotFound":
            return xrpc_error(400, "BlobNotFound", "Could not find blob")
        if problem:
            return xrpc_error(400, "InvalidRequest", f"Invalid {POST} record: {problem}")
        if rkey in self.records:
            if self.duplicate_status == 409:
                return xrpc_error(409, "RecordAlreadyExists", f"Record already exists: {rkey}")
            return xrpc_error(500, "InternalServerError", "Internal Server Error")
        uri = f"at://{self.did}/{POST}/{rkey}"
        cid = "bafyrei" + hashlib.sha256(call.body).hexdigest()[:40]
        self.records[rkey] = {"uri": uri, "cid": cid, "value": data["record"]}
        return Reply(
            200,
            {
                "uri": uri,
                "cid": cid,
                "commit": {"cid": cid, "rev": rkey},
                "validationStatus": "valid",
            },
        )

    def _com_atproto_repo_getRecord(self, call: Call) -> Reply:
        rkey = call.query.get("rkey", "")
        if call.query.get("repo") not in (self.did, self.handle):
            return xrpc_error(400, "InvalidRequest", f"Could not find repo: {call.query.get('repo')}")
        entry = self.records.get(rkey) if call.query.get("collection") == POST else None
        if entry is None:
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: at://{self.did}/{POST}/{rkey}")
        return Reply(200, entry)

    def _app_bsky_feed_getPosts(self, call: Call) -> Reply:
        denied = self._denied(call)
        if denied:
            return denied
        uris = call.multi.get("uris", [])
        if len(uris) > 25:
            return xrpc_error(400, "InvalidRequest", "Error: uris must not have more than 25 elements")
        return Reply(200, {"posts": [self._view(e) for uri in uris if (e := self._entry(uri)) is not None]})

    def _app_bsky_feed_getPostThread(self, call: Call) -> Reply:
        denied = self._denied(call)
        if denied:
            return denied
        uri = call.query.get("uri", "")
        entry = self._entry(uri)
        if entry is None:
            return xrpc_error(400, "NotFound", f"Post not found: {uri}")
        depth = int(call.query.get("depth", "6"))
        return Reply(200, {"thread": self._thread(entry, depth)})

    def _entry(self, uri: str) -> dict[str, Any] | None:
        if uri in self.foreign:
            return self.foreign[uri]
        rkey = uri.rsplit("/", 1)[-1]
        entry = self.records.get(rkey)
        return entry if entry is not None and entry["uri"] == uri else None

    def _children(self, uri: str) -> list[dict[str, Any]]:
        if not self.foreign and not any("reply" in e["value"] for e in self._recent_replies()):
            return []
        every = [*self.records.values(), *self.foreign.values()]
        return [e for e in every if (e["value"].get("reply") or {}).get("parent", {}).get("uri") == uri]

    def _recent_replies(self) -> list[dict[str, Any]]:
        """The account's own replies (thread parts): none in a benchmark's 10,000 single posts."""
        if self._threads_seen is None or len(self.records) != self._threads_seen[0]:
            self._threads_seen = (len(self.records), [e for e in self.records.values() if "reply" in e["value"]])
        return self._threads_seen[1]

    def _view(self, entry: dict[str, Any]) -> dict[str, Any]:
        """app.bsky.feed.defs#postView"""
        counts = self.counts.get(entry["uri"], {})
        author = entry.get("author") or {"did": self.did, "handle": self.handle}
        return {
            "uri": entry["uri"],
            "cid": entry["cid"],
            "author": author,
            "record": entry["value"],
            "replyCount": len(self._children(entry["uri"])),
            "repostCount": counts.get("repostCount", 0),
            "likeCount": counts.get("likeCount", 0),
            "quoteCount": counts.get("quoteCount", 0),
            "indexedAt": entry["value"].get("createdAt"),
        }

    def _thread(self, entry: dict[str, Any], depth: int) -> dict[str, Any]:
        """app.bsky.feed.defs#threadViewPost, replies to `depth` levels"""
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self._view(entry)}
        if depth > 0:
            node["replies"] = [self._thread(child, depth - 1) for child in self._children(entry["uri"])]
        return node

    # -- helpers ---------------------------------------------------------------------------

    def _new_session(self) -> dict[str, Any]:
        number = next(self._counter)
        access, refresh = f"eyJ.access-{number}.sig", f"eyJ.refresh-{number}.sig"
        self._access[access] = time.time() + self.access_ttl
        self._refresh.add(refresh)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.handle,
            "did": self.did,
            "active": True,
        }

    def _denied(self, call: Call) -> Reply | None:
        """None if the call carries a live access token, else the error the PDS gives."""
        if self.echo_credentials:
            header = call.headers.get("authorization", "")
            return xrpc_error(400, "InvalidRequest", f"cannot use credentials {header!r}")
        token = _bearer(call)
        expiry = self._access.get(token)
        if expiry is None:
            return xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        if expiry <= time.time():
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        return None

    def _invalid(self, record: Any) -> str | None:
        if not isinstance(record, dict) or record.get("$type") != POST:
            return "$type must be app.bsky.feed.post"
        text = record.get("text")
        if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
            return "text and createdAt are required"
        if len(_GRAPHEME.findall(text)) > 300 or len(text.encode()) > 3000:
            return "Record/text must not be longer than 300 graphemes"
        size = len(text.encode())
        for facet in record.get("facets", []):
            index = facet.get("index", {})
            if not 0 <= index.get("byteStart", -1) < index.get("byteEnd", -1) <= size:
                return f"facet out of range: {index}"
        embed = record.get("embed") or {}
        images = embed.get("images", []) if isinstance(embed, dict) else []
        if len(images) > 4:
            return "Record/embed/images must not have more than 4 elements"
        for image in images:
            if "alt" not in image or image.get("image", {}).get("ref", {}).get("$link") not in self.blobs:
                return "image without alt or with an unknown blob"
        if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.video":
            problem = self._invalid_video(embed)
            if problem:
                return problem
        reply = record.get("reply")
        if reply is not None:  # app.bsky.feed.post#replyRef: strong refs (uri + cid) to root and parent
            known = {(e["uri"], e["cid"]) for e in self.records.values()}
            for side in ("root", "parent"):
                ref = reply.get(side) if isinstance(reply, dict) else None
                if not isinstance(ref, dict) or (ref.get("uri"), ref.get("cid")) not in known:
                    return f"Record/reply/{side} must be a strong reference to an existing post"
        return None

    def _invalid_video(self, embed: dict[str, Any]) -> str | None:
        """app.bsky.embed.video: video (video/mp4, at most 100000000 bytes), alt (1000 graphemes),
        aspectRatio (width and height at least 1), captions (at most 20; lang and a text/vtt file of
        at most 20000 bytes)."""
        video = embed.get("video") or {}
        found = self.blobs.get(video.get("ref", {}).get("$link", ""))
        if found is None:
            return "BlobNotFound"
        if video.get("mimeType") != "video/mp4" or found[1] != "video/mp4" or len(found[0]) > 100_000_000:
            return "Record/embed/video must be a video/mp4 blob of at most 100000000 bytes"
        if len(_GRAPHEME.findall(str(embed.get("alt", "")))) > 1000:
            return "Record/embed/alt must not be longer than 1000 graphemes"
        ratio = embed.get("aspectRatio")
        if ratio is not None and not (
            isinstance(ratio, dict)
            and all(isinstance(ratio.get(k), int) and ratio[k] >= 1 for k in ("width", "height"))
        ):
            return "Record/embed/aspectRatio must have a width and height of at least 1"
        tracks = embed.get("captions", [])
        if len(tracks) > 20:
            return "Record/embed/captions must not have more than 20 elements"
        for track in tracks:
            file = self.blobs.get(track.get("file", {}).get("ref", {}).get("$link", ""))
            if not track.get("lang") or file is None or file[1] != "text/vtt" or len(file[0]) > 20_000:
                return "Record/embed/captions: each needs a lang and a text/vtt file of at most 20000 bytes"
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle and delayed ACK add 40 ms a call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        path, query, headers, body = read_raw(self)
        multi = parse_qs(urlsplit(self.path).query)
        reply = owner(self).handle_call(Call(method, path.removeprefix("/xrpc/"), query, headers, body, multi))
        if reply is None:
            self.close_connection = True  # carried out, never answered
            return
        if isinstance(reply.body, str):
            payload, kind = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            payload, kind = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        self.send_response(reply.status)
        headers_out = {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "2999",
            "ratelimit-reset": str(int(time.time()) + 300),
            "ratelimit-policy": "3000;w=300",
            **reply.headers,
        }
        for name, value in headers_out.items():
            self.send_header(name, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _bearer(call: Call) -> str:
    return call.headers.get("authorization", "").removeprefix("Bearer ")


def _tid_now(clock: int) -> str:
    value = (int(time.time() * 1_000_000) << 10) | (clock & 0x3FF)
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(value >> shift) & 31] for shift in range(60, -1, -5))
