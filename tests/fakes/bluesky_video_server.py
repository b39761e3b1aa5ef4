"""A fake Bluesky video service (video.bsky.app) over real HTTP on 127.0.0.1, beside a FakePDS.

As docs.bsky.app "Uploading Video" and the lexicons app.bsky.video.* describe it:

- GET  /xrpc/app.bsky.video.getUploadLimits   a service-auth token (from the PDS's getServiceAuth)
  with aud = this service's did:web and lxm = app.bsky.video.getUploadLimits; answers canUpload,
  remainingDailyVideos, remainingDailyBytes (and a message when it cannot)
- POST /xrpc/app.bsky.video.uploadVideo?did=&name=   a service-auth token with aud = the account's PDS
  (did:web of the PDS's host), lxm = com.atproto.repo.uploadBlob, not expired, issued for `did`; the
  video as the body. Answers a jobStatus (JOB_STATE_CREATED); the same video again: 409 `already_exists`
  with the earlier job (and its blob, stored on the PDS again). Each upload takes one of the day's videos and its bytes.
- GET  /xrpc/app.bsky.video.getJobStatus?jobId=   no authentication; {"jobStatus": ...}: processing
  (JOB_STATE_ENCODING with progress) for `processing_polls` polls, then JOB_STATE_COMPLETED with the
  blob the service stored on the PDS (video/mp4), or JOB_STATE_FAILED with an error if
  `failed_processing`; an unknown job: 404 `NotFound`.

Errors are XRPC bodies {"error", "message"}. `fail`/`drop_after_processing` from FakeServer.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.bluesky_server import FakePDS
from tests.fakes.server import FakeServer, Reply, Request

LIMITS = "app.bsky.video.getUploadLimits"
UPLOAD = "app.bsky.video.uploadVideo"
STATUS = "app.bsky.video.getJobStatus"


def _error(status: int, error: str, message: str) -> Reply:
    return Reply(status, {"error": error, "message": message})


class FakeVideoService(FakeServer):
    def __init__(self, pds: FakePDS, *, processing_polls: int = 0) -> None:
        super().__init__()
        self.pds = pds
        self.processing_polls = processing_polls
        self.failed_processing = False
        self.can_upload = True
        self.limit_message = "You have reached your daily upload limit"
        self.remaining_videos = 25
        self.remaining_bytes = 10_000_000_000
        self.jobs: dict[str, dict[str, Any]] = {}  # jobId → jobStatus (+ "_polls_left", "_digest")
        self.uploads: list[bytes] = []  # every video received, in order
        self._by_digest: dict[str, str] = {}
        self._ids = itertools.count(1)

    def count(self, nsid: str) -> int:
        return sum(1 for r in self.requests if r.path == f"/xrpc/{nsid}")

    def finish_processing(self) -> None:
        with self.lock:
            self.processing_polls = 0
            for job in self.jobs.values():
                job["_polls_left"] = 0

    def handle(self, request: Request) -> Reply:
        with self.lock:
            if request.path == f"/xrpc/{LIMITS}" and request.method == "GET":
                return self._limits(request)
            if request.path == f"/xrpc/{UPLOAD}" and request.method == "POST":
                return self._upload(request)
            if request.path == f"/xrpc/{STATUS}" and request.method == "GET":
                return self._status(request)
            return _error(501, "MethodNotImplemented", f"Method Not Implemented: {request.path}")

    def _denied(self, request: Request, aud: str, lxm: str) -> Reply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = self.pds.claims(token)
        if claims is None:
            return _error(401, "AuthMissing", "Authentication Required")
        if claims["aud"] != aud:
            return _error(401, "BadJwtAudience", f"jwt audience does not match service did: {claims['aud']}")
        if claims["lxm"] != lxm:
            return _error(401, "BadJwtLexiconMethod", f"bad jwt lexicon method (lxm): {claims['lxm']}")
        if claims["exp"] < time.time():
            return _error(401, "JwtExpired", "jwt expired")
        return None

    def _limits(self, request: Request) -> Reply:
        denied = self._denied(request, f"did:web:{urlsplit(self.url).hostname}", LIMITS)
        if denied:
            return denied
        can = self.can_upload and self.remaining_videos > 0 and self.remaining_bytes > 0
        body: dict[str, Any] = {
            "canUpload": can,
            "remainingDailyVideos": self.remaining_videos,
            "remainingDailyBytes": self.remaining_bytes,
        }
        if not can:
            body["message"] = self.limit_message
        return Reply(200, body)

    def _upload(self, request: Request) -> Reply:
        endpoint = self.pds.pds_endpoint or self.pds.url
        denied = self._denied(request, f"did:web:{urlsplit(endpoint).hostname}", "com.atproto.repo.uploadBlob")
        if denied:
            return denied
        did = (request.query.get("did") or [""])[0]
        if did != self.pds.did or not (request.query.get("name") or [""])[0]:
            return _error(400, "InvalidRequest", "did and name are required, and did must be the token's issuer")
        if not request.headers.get("content-type", "").startswith("video/"):
            return _error(400, "InvalidRequest", "the body must be a video")
        digest = hashlib.sha256(request.body).hexdigest()
        known = self._by_digest.get(digest)
        if known is not None:
            if "blob" in self.jobs[known]:  # processed before: the PDS holds it (again), as the answer says
                self.pds.store_blob(self.jobs[known]["_data"], "video/mp4")
            earlier = self._public(self.jobs[known])
            return Reply(409, {**earlier, "error": "already_exists", "message": "Video already processed"})
        if not self.can_upload or self.remaining_videos <= 0 or self.remaining_bytes < len(request.body):
            return _error(400, "upload_limit_exceeded", self.limit_message)
        self.remaining_videos -= 1
        self.remaining_bytes -= len(request.body)
        self.uploads.append(request.body)
        job_id = f"job{next(self._ids)}"
        self.jobs[job_id] = {
            "jobId": job_id,
            "did": did,
            "state": "JOB_STATE_CREATED",
            "_polls_left": self.processing_polls,
            "_data": request.body,
        }
        self._by_digest[digest] = job_id
        return Reply(200, self._public(self.jobs[job_id]))

    def _status(self, request: Request) -> Reply:
        job = self.jobs.get((request.query.get("jobId") or [""])[0])
        if job is None:
            return _error(404, "NotFound", "job not found")
        if job["state"] not in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED"):
            if job["_polls_left"] > 0:
                job["_polls_left"] -= 1
                job["state"], job["progress"] = "JOB_STATE_ENCODING", 50
            elif self.failed_processing:
                job["state"], job["error"] = "JOB_STATE_FAILED", "Video is not a supported format"
            else:
                job["state"], job["progress"] = "JOB_STATE_COMPLETED", 100
                job["blob"] = self.pds.store_blob(job["_data"], "video/mp4")  # the processed video, on the PDS
        return Reply(200, {"jobStatus": self._public(job)})

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in job.items() if not key.startswith("_")}
