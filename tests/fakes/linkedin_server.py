"""A fake LinkedIn REST API for one organization Page: the parts that publishing a campaign touches.

As documented (learn.microsoft.com/linkedin: Community Management → Posts API, Images API, little
text format, Organization Access Control by Role; API versioning; rate limits; error handling):
- every /rest/ call needs `Authorization: Bearer <token>`, `LinkedIn-Version: YYYYMM` and
  `X-Restli-Protocol-Version: 2.0.0`; a wrong token is 401 INVALID_ACCESS_TOKEN, a retired version
  426 NONEXISTENT_VERSION, a missing version 400 VERSION_MISSING
- POST /rest/images?action=initializeUpload   {"initializeUploadRequest": {"owner"}} →
                                              {"value": {"uploadUrl", "image", "uploadUrlExpiresAt"}}
- PUT  <uploadUrl>                            the bytes (a signed URL: no API headers needed)
- GET  /rest/images/{urn}                     {"id", "status"}: WAITING_UPLOAD, PROCESSING (for
                                              `processing_polls` looks), AVAILABLE
- POST /rest/videos?action=initializeUpload   {"initializeUploadRequest": {"owner", "fileSizeBytes",
                                              "uploadCaptions", "uploadThumbnail"}} → {"value": {"video",
                                              "uploadInstructions": [{"uploadUrl", "firstByte", "lastByte"}]
                                              (parts of `part_bytes`, 4 MB as LinkedIn's), "uploadToken",
                                              "uploadUrlsExpireAt", "captionsUploadUrl" (with uploadCaptions)}}
- PUT  <uploadUrl of a part>                  the part's bytes (exactly its range) → 201 with an `ETag`
- PUT  <captionsUploadUrl>                    the captions file (SubRip)
- POST /rest/videos?action=finalizeUpload     {"finalizeUploadRequest": {"video", "uploadToken",
                                              "uploadedPartIds"}}: the parts' ETags in order, every part
                                              received, else 400
- GET  /rest/videos/{urn}                     {"id", "owner", "status"}: WAITING_UPLOAD, PROCESSING (for
                                              `processing_polls` looks), AVAILABLE; PROCESSING_FAILED with
                                              `processingFailureReason` while `video_processing_fails`
- POST /rest/posts                            {"author", "commentary", "visibility", "distribution":
                                              {"feedDistribution"}, "lifecycleState", "content":
                                              {"media": {"id", "altText" | "title"}} or {"multiImage": {"images"}}}
                                              → 201, no body, the post's URN in `x-restli-id`;
                                              422 DUPLICATE_POST naming the earlier post's URN for a
                                              commentary the Page posted before
- GET  /rest/posts/{urn}                      the post (its `commentary` in little, as stored); 404 once deleted
- GET  /rest/posts?q=author&author=&count=&start=&sortBy=   the Page's posts, newest first, `elements`
- GET  /rest/organizationAcls?q=roleAssignee  the token's member's roles (ADMINISTRATOR while `admin`)
- errors are {"status", "serviceErrorCode", "code", "message"}; 403 ACCESS_DENIED once `admin` is off
- POST /oauth/v2/introspectToken               form client_id, client_secret, token (Token Introspection;
                                              on www.linkedin.com, no API headers) → {"active", "client_id",
                                              "authorized_at", "created_at", "status" (active, expired,
                                              revoked), "expires_at", "scope", "auth_type"}; wrong client
                                              credentials are 401. `token_status` and `expires_at` set the scene.

Like LinkedIn, the commentary is cut at the first reserved character of little that is neither
escaped nor part of an element (`#tag`, `{hashtag|\\#|tag}`, `@[name](urn)`), and the cut post is
published with a 201. Use `fail` and `drop_after_processing` (FakeServer) for 429s, outages and lost
answers; `delete` removes a post (its URN then reads 404, as a deleted post's does).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any
from urllib.parse import unquote

from tests.fakes.server import FakeServer, Reply, Request

TOKEN = "fake-linkedin-token"
ORGANIZATION = "urn:li:organization:2414183"
MEMBER = "urn:li:person:f4k3M3mb3r"
VERSION = "202611"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
RESERVED = set("|{}@[]()<>#*_~\\")
_HASHTAG = re.compile(r"#\w+")
_TEMPLATE = re.compile(r"\{hashtag\|\\#\|[^{}|]*\}")
_MENTION = re.compile(r"@\[[^\]]*\]\(urn:li:[a-zA-Z]+:[^)]+\)")
MAX_COMMENTARY = 3000


def error(status: int, code: str, message: str, service_code: int = 100) -> Reply:
    return Reply(status, {"status": status, "serviceErrorCode": service_code, "code": code, "message": message})


def as_linkedin_keeps(commentary: str) -> str:
    """`commentary` as LinkedIn publishes it: cut at the first reserved character that is neither
    escaped nor the start of a little element."""
    at = 0
    while at < len(commentary):
        char = commentary[at]
        if char == "\\" and at + 1 < len(commentary):
            at += 2
            continue
        if char in RESERVED:
            element = next(
                (m for pattern in (_TEMPLATE, _MENTION, _HASHTAG) if (m := pattern.match(commentary, at))),
                None,
            )
            if element is None:
                return commentary[:at]
            at = element.end()
            continue
        at += 1
    return commentary


class FakeLinkedIn(FakeServer):
    """One organization Page, posted to with the token of one member who administers it."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        organization: str = ORGANIZATION,
        retired: frozenset[str] = frozenset({"202301", "202401"}),
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(latency_ms)
        self.token, self.organization, self.retired = token, organization, retired
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.token_status = "active"  # what introspection says of `token`: active, expired, revoked
        self.expires_at = int(time.time()) + 60 * 86400  # what introspection says (unix seconds)
        self.admin = True  # False: the member is no longer an administrator of the Page (403)
        self.processing_polls = 1  # looks at an uploaded image that still say PROCESSING
        self.posts: list[dict[str, Any]] = []  # oldest first, as LinkedIn keeps them
        self.deleted: list[dict[str, Any]] = []
        self.image_assets: dict[str, dict[str, Any]] = {}  # urn → {"status", "data", "owner", "polls", "upload"}
        self.uploads: list[Request] = []  # every PUT to an upload URL, as received
        self.videos: dict[str, dict[str, Any]] = {}  # urn → {"status", "owner", "size", "parts", "etags", ...}
        self.part_bytes = 4 * 1024 * 1024  # LinkedIn's part size in upload instructions
        self.video_processing_fails = False  # True: an uploaded video ends PROCESSING_FAILED
        self._ids = itertools.count(7_300_000_000_000_000_001)
        self._image_ids = itertools.count(1)
        self._video_ids = itertools.count(1)
        self._etags = itertools.count(1)

    # -- scene setting ---------------------------------------------------------------------

    def delete(self, urn: str) -> None:
        with self.lock:
            post = next(p for p in self.posts if p["id"] == urn)
            self.posts.remove(post)
            self.deleted.append(post)

    def add_post(self, commentary: str, *, created_ms: int | None = None) -> str:
        """A post the Page made some other way (by hand on linkedin.com), `commentary` in little."""
        with self.lock:
            return self._store(commentary, None, created_ms)

    # -- the API -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self.lock:
            if request.method == "PUT" and request.path.startswith("/dms-uploads/videos/"):
                return self._receive_video_upload(request)
            if request.method == "PUT" and request.path.startswith("/dms-uploads/"):
                return self._receive_upload(request)
            if (request.method, request.path) == ("POST", "/oauth/v2/introspectToken"):
                return self._introspect(request)
            refusal = self._refuse(request)
            if refusal is not None:
                return refusal
            route = (request.method, request.path)
            if route == ("POST", "/rest/images") and request.query.get("action") == ["initializeUpload"]:
                return self._initialize_upload(request)
            if request.method == "GET" and request.path.startswith("/rest/images/"):
                return self._image(unquote(request.path.removeprefix("/rest/images/")))
            if route == ("POST", "/rest/videos") and request.query.get("action") == ["initializeUpload"]:
                return self._initialize_video(request)
            if route == ("POST", "/rest/videos") and request.query.get("action") == ["finalizeUpload"]:
                return self._finalize_video(request)
            if request.method == "GET" and request.path.startswith("/rest/videos/"):
                return self._video(unquote(request.path.removeprefix("/rest/videos/")))
            if route == ("POST", "/rest/posts"):
                return self._create(request)
            if route == ("GET", "/rest/posts") and request.query.get("q") == ["author"]:
                return self._by_author(request)
            if request.method == "GET" and request.path.startswith("/rest/posts/"):
                return self._read(unquote(request.path.removeprefix("/rest/posts/")))
            if route == ("GET", "/rest/organizationAcls") and request.query.get("q") == ["roleAssignee"]:
                return self._acls()
            return error(404, "NOT_FOUND", f"No virtual resource found for {request.path}", 0)

    def _introspect(self, request: Request) -> Reply:
        if (request.value("client_id"), request.value("client_secret")) != (self.client_id, self.client_secret):
            return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        if request.value("token") != self.token:
            return Reply(200, {"active": False, "status": "revoked"})
        active = self.token_status == "active"
        return Reply(
            200,
            {
                "active": active,
                "client_id": self.client_id,
                "authorized_at": self.expires_at - 60 * 86400,
                "created_at": self.expires_at - 60 * 86400,
                "status": self.token_status,
                "expires_at": self.expires_at,
                "scope": "r_organization_admin,w_organization_social",
                "auth_type": "3L",
            },
        )

    def _refuse(self, request: Request) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            # Unlike LinkedIn, the refused token is echoed, so tests prove the adapter never passes it on.
            given = request.headers.get("authorization", "")
            return error(401, "INVALID_ACCESS_TOKEN", f"Invalid access token: {given}", 65600)
        version = request.headers.get("linkedin-version")
        if not version:
            return error(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            )
        if version in self.retired or not re.fullmatch(r"\d{6}", version):
            return error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return error(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required")
        if not self.admin and request.method == "POST":
            return error(403, "ACCESS_DENIED", "Not enough permissions to access: partnerApiPostsExternal.CREATE")
        return None

    def _initialize_upload(self, request: Request) -> Reply:
        body = json.loads(request.body or b"{}")
        owner = (body.get("initializeUploadRequest") or {}).get("owner")
        if owner != self.organization:
            return error(403, "ACCESS_DENIED", f"Not enough permissions to upload for {owner}")
        number = next(self._image_ids)
        urn = f"urn:li:image:D4E10AQ{number:010d}"
        self.image_assets[urn] = {"status": "WAITING_UPLOAD", "data": b"", "owner": owner, "polls": 0, "upload": number}
        expires = int(time.time() * 1000) + 3_600_000
        value = {
            "uploadUrlExpiresAt": expires,
            "uploadUrl": f"{self.url}/dms-uploads/{number}?sig=s1gn3d",
            "image": urn,
        }
        return Reply(200, {"value": value})

    def _receive_upload(self, request: Request) -> Reply:
        self.uploads.append(request)
        number = int(request.path.removeprefix("/dms-uploads/"))
        image = next((i for i in self.image_assets.values() if i["upload"] == number), None)
        if image is None or request.query.get("sig") != ["s1gn3d"]:
            return Reply(403, b"", {"Content-Type": "text/plain"})
        image["data"], image["status"] = request.body, "PROCESSING"
        return Reply(201, None)

    def _image(self, urn: str) -> Reply:
        image = self.image_assets.get(urn)
        if image is None:
            return error(404, "NOT_FOUND", f"Image {urn} does not exist")
        if image["status"] == "PROCESSING":
            image["polls"] += 1
            if image["polls"] > self.processing_polls:
                image["status"] = "AVAILABLE"
        return Reply(200, {"id": urn, "owner": image["owner"], "status": image["status"]})

    def _initialize_video(self, request: Request) -> Reply:
        asked = json.loads(request.body or b"{}").get("initializeUploadRequest") or {}
        owner, size = asked.get("owner"), asked.get("fileSizeBytes")
        if owner != self.organization:
            return error(403, "ACCESS_DENIED", f"Not enough permissions to upload for {owner}")
        if not isinstance(size, int) or size <= 0:
            return error(400, "ILLEGAL_ARGUMENT", "fileSizeBytes must be a positive number")
        number = next(self._video_ids)
        urn = f"urn:li:video:D5F10AQ{number:010d}"
        ranges = [(first, min(first + self.part_bytes, size) - 1) for first in range(0, size, self.part_bytes)]
        signed = f"{self.url}/dms-uploads/videos/{number}"
        instructions = [
            {"uploadUrl": f"{signed}/part/{index}?sig=s1gn3d", "firstByte": first, "lastByte": last}
            for index, (first, last) in enumerate(ranges)
        ]
        token = f"upload-token-{number}" if len(ranges) > 1 else ""  # as LinkedIn: empty for one part
        self.videos[urn] = {
            "status": "WAITING_UPLOAD",
            "owner": owner,
            "size": size,
            "number": number,
            "ranges": ranges,
            "data": {},
            "etags": {},
            "token": token,
            "captions": None,
            "polls": 0,
        }
        value: dict[str, Any] = {
            "uploadUrlsExpireAt": int(time.time() * 1000) + 3_600_000,
            "video": urn,
            "uploadInstructions": instructions,
            "uploadToken": token,
            "thumbnailUploadUrl": "",
        }
        if asked.get("uploadCaptions") is True:
            value["captionsUploadUrl"] = f"{signed}/captions?sig=s1gn3d"
        return Reply(200, {"value": value})

    def _receive_video_upload(self, request: Request) -> Reply:
        self.uploads.append(request)
        number, _, what = request.path.removeprefix("/dms-uploads/videos/").partition("/")
        video = next((v for v in self.videos.values() if str(v["number"]) == number), None)
        if video is None or request.query.get("sig") != ["s1gn3d"] or video["status"] != "WAITING_UPLOAD":
            return Reply(403, b"", {"Content-Type": "text/plain"})
        if what == "captions":
            video["captions"] = request.body
            return Reply(201, None)
        index = int(what.removeprefix("part/"))
        first, last = video["ranges"][index]
        if len(request.body) != last - first + 1:
            return Reply(400, b"the part's bytes do not match its range", {"Content-Type": "text/plain"})
        video["data"][index] = request.body
        etag = f'"{number}-{index}-{next(self._etags)}"'  # a part sent again gets a new ETag
        video["etags"][index] = etag
        return Reply(201, None, {"ETag": etag})

    def _finalize_video(self, request: Request) -> Reply:
        asked = json.loads(request.body or b"{}").get("finalizeUploadRequest") or {}
        video = self.videos.get(str(asked.get("video")))
        if video is None:
            return error(404, "NOT_FOUND", f"Video {asked.get('video')} does not exist")
        expected = [video["etags"].get(index) for index in range(len(video["ranges"]))]
        if asked.get("uploadToken") != video["token"] or asked.get("uploadedPartIds") != expected:
            return error(400, "ILLEGAL_ARGUMENT", "uploadedPartIds do not match the uploaded parts")
        video["status"] = "PROCESSING"
        return Reply(200, None)

    def _video(self, urn: str) -> Reply:
        video = self.videos.get(urn)
        if video is None:
            return error(404, "NOT_FOUND", f"Video {urn} does not exist")
        if video["status"] == "PROCESSING":
            video["polls"] += 1
            if video["polls"] > self.processing_polls:
                video["status"] = "PROCESSING_FAILED" if self.video_processing_fails else "AVAILABLE"
        found = {"id": urn, "owner": video["owner"], "status": video["status"]}
        if video["status"] == "PROCESSING_FAILED":
            found["processingFailureReason"] = "Video could not be transcoded: unsupported codec"
        return Reply(200, found)

    def video_bytes(self, urn: str) -> bytes:
        """The video's bytes as LinkedIn put them together from its parts."""
        with self.lock:
            data = self.videos[urn]["data"]
            return b"".join(data[index] for index in sorted(data))

    def _create(self, request: Request) -> Reply:
        body = json.loads(request.body or b"{}")
        if body.get("author") != self.organization:
            return error(403, "ACCESS_DENIED", f"Member is not allowed to post as {body.get('author')}")
        distribution = body.get("distribution") or {}
        if (
            not isinstance(body.get("commentary"), str)
            or body.get("visibility") != "PUBLIC"
            or distribution.get("feedDistribution") != "MAIN_FEED"
            or body.get("lifecycleState") != "PUBLISHED"
        ):
            return error(422, "UNPROCESSABLE_ENTITY", f"Invalid post body: {sorted(body)}")
        content = body.get("content")
        media = self._media(content) if content else []
        if media is None:
            return error(
                422, "UNPROCESSABLE_ENTITY", "content.media.id must be an AVAILABLE image or video of the author"
            )
        commentary = as_linkedin_keeps(body["commentary"])
        if len(body["commentary"]) > MAX_COMMENTARY:
            return error(422, "UNPROCESSABLE_ENTITY", f"commentary is longer than {MAX_COMMENTARY} characters")
        earlier = next((p for p in self.posts + self.deleted if p["commentary"] == commentary), None)
        if earlier is not None:  # as LinkedIn does: the duplicate of a deleted post names its URN too
            return Reply(
                422,
                {
                    "errorDetailType": "com.linkedin.common.error.BadRequest",
                    "message": f"com.linkedin.content.common.exception.BadRequestResponseException: "
                    f"Content is a duplicate of {earlier['id']}",
                    "errorDetails": {
                        "inputErrors": [
                            {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
                        ]
                    },
                    "status": 422,
                },
            )
        urn = self._store(commentary, content, None, media)
        return Reply(201, None, {"x-restli-id": urn})

    def _media(self, content: Any) -> list[dict[str, Any]] | None:
        """The images `content` names ({"id", "altText"} each), or None if one is not AVAILABLE."""
        if not isinstance(content, dict):
            return None
        items = [content["media"]] if "media" in content else (content.get("multiImage") or {}).get("images")
        if not isinstance(items, list) or not items:
            return None
        for item in items:
            urn = str(item.get("id")) if isinstance(item, dict) else ""
            asset = self.image_assets.get(urn) or self.videos.get(urn)
            if asset is None or asset["status"] != "AVAILABLE" or asset["owner"] != self.organization:
                return None
            if urn in self.videos and len(items) > 1:
                return None  # a video goes alone
        return items

    def _store(
        self, commentary: str, content: Any, created_ms: int | None, media: list[dict[str, Any]] | None = None
    ) -> str:
        urn = f"urn:li:share:{next(self._ids)}"
        now = int(time.time() * 1000) if created_ms is None else created_ms
        post = {
            "id": urn,
            "author": self.organization,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "createdAt": now,
            "publishedAt": now,
            "lastModifiedAt": now,
            "isReshareDisabledByAuthor": False,
        }
        if content:
            post["content"] = content
        self.posts.append(post)
        return urn

    def _read(self, urn: str) -> Reply:
        post = next((p for p in self.posts if p["id"] == urn), None)
        if post is None:
            return error(404, "NOT_FOUND", f"Post {urn} does not exist")
        return Reply(200, post)

    def _by_author(self, request: Request) -> Reply:
        if request.query.get("author") != [self.organization]:
            return error(403, "ACCESS_DENIED", "Not enough permissions to read this author's posts")
        start = int((request.query.get("start") or ["0"])[0])
        count = min(int((request.query.get("count") or ["10"])[0]), 100)
        newest = sorted(self.posts, key=lambda p: p["createdAt"], reverse=True)
        page = newest[start : start + count]
        return Reply(200, {"elements": page, "paging": {"start": start, "count": count, "total": len(newest)}})

    def _acls(self) -> Reply:
        elements = (
            [{"roleAssignee": MEMBER, "organization": self.organization, "role": "ADMINISTRATOR", "state": "APPROVED"}]
            if self.admin
            else []
        )
        return Reply(200, {"elements": elements, "paging": {"start": 0, "count": 10, "total": len(elements)}})
