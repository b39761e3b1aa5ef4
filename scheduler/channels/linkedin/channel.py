"""The LinkedIn Page channel: posts with images and alt text as an organization, through the Posts
and Images APIs (learn.microsoft.com/linkedin, Community Management).

A post is `POST /rest/posts` with the organization as `author`, the text as `commentary` in little
format (scheduler.channels.linkedin.little), PUBLIC on the main feed, PUBLISHED; LinkedIn answers 201
with the post's URN in the `x-restli-id` header. An image is announced first (`POST
/rest/images?action=initializeUpload`, owner the organization), its bytes PUT to the upload URL
LinkedIn gives, and the post waits until `GET /rest/images/{urn}` says AVAILABLE; the post then
carries it in `content.media` (one image) or `content.multiImage` (two or more), each with `altText`.
A video goes alone, through the Videos API (scheduler.channels.linkedin.videos), in `content.media`
with the post's `title:` where it has one.

Exactly once: LinkedIn has no idempotency key. A send whose answer was lost is settled by `lookup`:
the post read back by its URN where this adapter received one, else the organization's recent posts
(`GET /rest/posts?q=author`) searched for the same text since the first attempt; not seen is in
doubt, never "not out". LinkedIn refuses a text the organization posted shortly before with a 422
DUPLICATE_POST naming a URN; that URN is read back and believed only if it is the organization's
post with this text (LinkedIn names URNs of deleted posts too).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from scheduler.channels.base import Channel, Receipt
from scheduler.channels.images import fitted, upload_name
from scheduler.channels.linkedin import little
from scheduler.channels.linkedin.rest import DEFAULT_API, DEFAULT_OAUTH, Rest, input_errors
from scheduler.channels.linkedin.videos import VIDEO, PageVideo
from scheduler.channels.linkedin.videos import problems as video_problems
from scheduler.channels.tokens import TokenHealth
from scheduler.errors import ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost
from scheduler.secrets import remember

log = logging.getLogger(__name__)

WEB = "https://www.linkedin.com/feed/update"
#: Posts API: commentary up to 3,000 characters, counted on the little text as sent.
LENGTH = LengthRule("characters, escaped for LinkedIn", 3000, little.length)
#: Images API: JPG, PNG, GIF, at most 36,152,320 pixels; a multi-image post takes 2 to 20 images. Each image goes
#: out as its rendition (scheduler.channels.images), scaled to fit those pixels and bytes. A video goes alone.
MEDIA = MediaRules(
    max_items=20,
    max_bytes=8_000_000,
    kinds=frozenset({".jpg", ".jpeg", ".png", ".gif"}),
    max_pixels=36_152_320,
    video=VIDEO,
)
#: LinkedIn retires a version about a year after it comes out; `check` warns from this age on.
VERSION_WARN_MONTHS = 11
_VERSION = re.compile(r"^(\d{4})(\d{2})(?:\.\d{2})?$")
_AUTHOR = re.compile(r"^urn:li:organization:\d+$")
_POST_URN = re.compile(r"urn:li:(?:share|ugcPost):\d+")
_SPACE = re.compile(r"\s+")
_CLOCK_SKEW = timedelta(minutes=5)  # the lookup reaches back a little: our clock is not LinkedIn's
_PAGE = 50  # posts per page of the organization's posts
_LOOKUP_PAGES = 4
_POLL_FIRST, _POLL_MAX = 0.1, 2.0  # seconds between looks at a processing image (doubling)
_POSTING_ROLES = frozenset({"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER"})


class LinkedInChannel(Channel):
    """One LinkedIn organization Page, posted to with a Page administrator's token."""

    type_name = "linkedin"
    idempotent_for = 0.0  # LinkedIn has no idempotency key
    can_lookup = True

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        author, token = settings.get("author"), settings.get("token")
        if not isinstance(author, str) or not _AUTHOR.match(author.strip()):
            raise ConfigError(
                f'channel {name}: `author` must be the Page\'s organization URN, such as "urn:li:organization:123"',
                key="author",
            )
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"channel {name}: `token` is missing (use ${{LINKEDIN_TOKEN}})", key="token")
        self.version = version_of(name, settings.get("version"))
        api = settings.get("api", DEFAULT_API)
        if not isinstance(api, str) or not api.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `api` must be an http(s) URL such as {DEFAULT_API}", key="api")
        self.author = author.strip()
        remember(token.strip())  # LinkedIn or a proxy may echo it; redact() must know it
        self.media_timeout = float(settings.get("media_timeout", 60))  # an image's processing; a video's is longer
        self.video_timeout = float(settings.get("media_timeout", 300))
        self._rest = Rest(name, api, token.strip(), self.version, self.author)
        self._token = token.strip()
        # The app's credentials let `token_health` ask LinkedIn when the token ends (introspection).
        self._client = (str(settings.get("client_id") or "").strip(), str(settings.get("client_secret") or "").strip())
        if self._client[1]:
            remember(self._client[1])
        www = settings.get("www", DEFAULT_OAUTH)  # the OAuth host ("oauth" would read as a secret's name)
        if not isinstance(www, str) or not www.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `www` must be an http(s) URL such as {DEFAULT_OAUTH}", key="www")
        self.oauth = www
        self._lock = threading.Lock()
        self._urns: dict[str, str] = {}  # key → the URN LinkedIn gave its post, for `lookup`

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LENGTH, media=MEDIA)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        self._refuse_what_linkedin_would(post)
        video = next((item for item in post.media if item.is_video), None)
        if video is not None:
            return self._publish_video(post, key, video)
        images = [_read_image(item) for item in post.media]
        uploaded = [(self._upload(name, data, mime), alt) for name, data, mime, alt in images]
        media = [{"id": urn, "altText": alt} if alt.strip() else {"id": urn} for urn, alt in uploaded]
        content: dict[str, Any] | None = None
        if len(media) == 1:
            content = {"media": media[0]}
        elif media:
            content = {"multiImage": {"images": media}}
        return self._create(post, key, content)

    def _publish_video(self, post: RenderedPost, key: str, item: MediaItem) -> Receipt:
        video = PageVideo(self._rest, self.name, key, self.uploads, self.pauses, self.video_timeout)
        urn = video.available(post, item)
        video.unless_paused(item.path.name)
        media: dict[str, Any] = {"id": urn}
        if (post.title or "").strip():
            media["title"] = (post.title or "").strip()
        receipt = self._create(post, key, {"media": media})
        video.posted()
        return receipt

    def _create(self, post: RenderedPost, key: str, content: dict[str, Any] | None) -> Receipt:
        """`POST /rest/posts`: the only request that publishes, and the only one that may be in doubt."""
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": little.escape(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if content is not None:
            body["content"] = content
        response = self._rest.call("POST", "/rest/posts", may_publish=True, json=body)
        if response.status_code == 422 and _is_duplicate(response):
            return self._duplicate(post, response)
        if not 200 <= response.status_code < 300:
            self._rest.fail(response)
        urn = response.headers.get("x-restli-id", "").strip()
        if not urn:
            raise InDoubt(f"LinkedIn answered HTTP {response.status_code} without the post's URN (x-restli-id)")
        with self._lock:
            self._urns[key] = urn
        log.info("linkedin: published %s on %s as %s", post.post, self.name, urn)
        return _receipt(urn)

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt:
        """The post sent with `key`: read back by its URN if LinkedIn gave one, else found among the
        Page's posts since `since` by its text; InDoubt if not seen (LinkedIn's lists may lag)."""
        with self._lock:
            urn = self._urns.get(key)
        try:
            if urn is not None and self._is_ours(urn, post):
                return _receipt(urn)
            found = self._find(post, since - _CLOCK_SKEW)
        except Rejected as exc:
            raise RetryLater(f"cannot read the Page's posts: {exc.reason}") from None
        if found is None:
            raise InDoubt(f"no post with this text on {self.author} since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        return found

    def check(self) -> str:
        """The token works, its member may post for the Page, and the pinned version is not near its end."""
        response = self._rest.call(
            "GET",
            "/rest/organizationAcls",
            params={"q": "roleAssignee", "state": "APPROVED"},
            headers={"X-RestLi-Method": "FINDER"},
        )
        if response.status_code == 403:  # the token works, but may not read roles (no rw_organization_admin)
            role = "its role on the Page could not be checked (the token lacks the scope rw_organization_admin)"
        elif 200 <= response.status_code < 300:
            role = self._role(response)
        else:
            self._rest.fail(response)
        verdict = f"token accepted by {self._rest.host}; {role}; API version {self.version}"
        warning = version_warning(self.version, datetime.now(UTC))
        return f"{verdict}. WARNING: {warning}" if warning else verdict

    def token_health(self) -> TokenHealth:
        """From LinkedIn's token introspection, where the channel names its app (`client_id`,
        `client_secret`); without them LinkedIn does not say, and neither does this."""
        renew = (
            "reconnect: make a new access token for the Page's administrator (scope w_organization_social) and put "
            "it in the secret the channel's `token:` names; without a partner refresh token LinkedIn tokens last "
            "60 days, so reconnect before day 60"
        )
        posts_as = f"Page {self.author}"
        client_id, client_secret = self._client
        if not client_id or not client_secret:
            note = "LinkedIn tells only the app: add client_id and client_secret to the channel to see when it ends"
            return TokenHealth(posts_as=posts_as, renew=renew, note=note)
        said = self._rest.introspect(self.oauth, client_id, client_secret, self._token)
        status = str(said.get("status") or "").lower()
        if said.get("active") is False or status in ("expired", "revoked"):
            return TokenHealth(
                posts_as=posts_as, renew=renew, revoked=True, note=f"LinkedIn says {status or 'inactive'}"
            )
        ends = said.get("expires_at")
        if not isinstance(ends, int) or isinstance(ends, bool) or ends <= 0:
            return TokenHealth(posts_as=posts_as, renew=renew, note="LinkedIn did not say when it ends")
        return TokenHealth(posts_as=posts_as, renew=renew, expires=datetime.fromtimestamp(ends, UTC))

    def close(self) -> None:
        self._rest.close()

    # -- steps of publish --------------------------------------------------------------------

    def _refuse_what_linkedin_would(self, post: RenderedPost) -> None:
        """Rejected before anything is uploaded, so a refused post leaves nothing behind."""
        problems = LENGTH.problems(post.text)
        videos = [item for item in post.media if item.is_video]
        if videos and len(post.media) > 1:
            problems.append(f"a video goes alone in a post on LinkedIn; this post has {len(post.media)} media items")
        elif len(post.media) > (MEDIA.max_items or 20):
            problems.append(f"{len(post.media)} images, LinkedIn takes at most {MEDIA.max_items}")
        for item in videos:
            problems += video_problems(item)
        if problems:
            raise Rejected("; ".join(problems))

    def _upload(self, name: str, data: bytes, mime: str) -> str:
        """Announce, upload and wait for one image; its URN once LinkedIn says it is AVAILABLE."""
        body = {"initializeUploadRequest": {"owner": self.author}}
        value = _json(self._rest.checked("POST", "/rest/images", params={"action": "initializeUpload"}, json=body))
        value = value.get("value") if isinstance(value, Mapping) else None
        url = value.get("uploadUrl") if isinstance(value, Mapping) else None
        urn = value.get("image") if isinstance(value, Mapping) else None
        if not (isinstance(url, str) and url and isinstance(urn, str) and urn):
            raise RetryLater(f"LinkedIn answered the upload of {name} without an upload URL and image URN")
        self._rest.upload(url, data, mime, name)
        self._wait_until_available(urn, name)
        return urn

    def _wait_until_available(self, urn: str, name: str) -> None:
        deadline = time.monotonic() + self.media_timeout
        delay = _POLL_FIRST
        while True:
            image = _json(self._rest.checked("GET", f"/rest/images/{quote(urn, safe='')}"))
            status = image.get("status") if isinstance(image, Mapping) else None
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                raise Rejected(f"LinkedIn could not process {name} (PROCESSING_FAILED): check that the file is whole")
            if time.monotonic() + delay > deadline:
                raise RetryLater(f"LinkedIn is still processing {name} after {self.media_timeout:g} s ({status})")
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _duplicate(self, post: RenderedPost, response: requests.Response) -> Receipt:
        """A 422 DUPLICATE_POST: believed only once the URN it names reads back as this post."""
        match = _POST_URN.search(response.text)
        if match is None:
            raise InDoubt("LinkedIn says this text is a duplicate of an earlier post, but names none")
        urn = match.group(0)
        if not self._is_ours(urn, post):
            raise InDoubt(
                f"LinkedIn says this text is a duplicate of {urn}, but that is not a post of {self.author} "
                "with this text (it may have been deleted): look at the Page before sending it again"
            )
        log.info("linkedin: %s was already on %s as %s", post.post, self.name, urn)
        return _receipt(urn)

    # -- reading posts back ------------------------------------------------------------------

    def _is_ours(self, urn: str, post: RenderedPost) -> bool:
        """Whether `urn` is a post of this Page with `post`'s text (False when LinkedIn has no such post)."""
        response = self._rest.call("GET", f"/rest/posts/{quote(urn, safe='')}")
        if response.status_code in (404, 410):
            return False
        if not 200 <= response.status_code < 300:
            self._rest.fail(response)
        found = _json(response)
        return isinstance(found, Mapping) and found.get("author") == self.author and _same(post.text, found)

    def _find(self, post: RenderedPost, since: datetime) -> Receipt | None:
        """The Page's newest post since `since` whose text is `post`'s, if any."""
        since_ms = since.timestamp() * 1000
        for page in range(_LOOKUP_PAGES):
            params = {"q": "author", "author": self.author, "count": str(_PAGE), "start": str(page * _PAGE)}
            params["sortBy"] = "CREATED"
            finder = {"X-RestLi-Method": "FINDER"}
            listed = _json(self._rest.checked("GET", "/rest/posts", params=params, headers=finder))
            elements = listed.get("elements") if isinstance(listed, Mapping) else None
            if not isinstance(elements, list) or not elements:
                return None
            older = False
            for item in elements:
                if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                    continue
                created = item.get("createdAt")
                if isinstance(created, int | float) and created < since_ms:
                    older = True
                    continue
                if _same(post.text, item):
                    return _receipt(item["id"])
            if older or len(elements) < _PAGE:
                return None
        return None

    def _role(self, response: requests.Response) -> str:
        """Which role the token's member holds on this Page, or Rejected if none that may post."""
        listed = _json(response)
        elements = listed.get("elements") if isinstance(listed, Mapping) else None
        roles = sorted(
            str(item.get("role"))
            for item in (elements if isinstance(elements, list) else [])
            if isinstance(item, Mapping) and item.get("organization") == self.author and item.get("state") == "APPROVED"
        )
        posting = [role for role in roles if role in _POSTING_ROLES]
        if not posting:
            held = f" (it holds only {', '.join(roles)})" if roles else ""
            raise Rejected(
                f"channel {self.name}: the member whose token this is is not an administrator of {self.author}{held}: "
                "a Page admin adds them under Page admin tools → Manage admins, then make a new token"
            )
        return f"posts as {self.author} ({posting[0].lower().replace('_', ' ')})"


def version_of(name: str, value: Any) -> str:
    """The channel's `version:` (YYYYMM, as LinkedIn-Version takes it), or ConfigError saying so."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _VERSION.match(value.strip()) or not 1 <= int(value.strip()[4:6]) <= 12:
        raise ConfigError(
            f'channel {name}: `version` must be the LinkedIn API version to use, a month as YYYYMM ("202611")',
            key="version",
        )
    return value.strip()


def version_warning(version: str, now: datetime) -> str | None:
    """Words for a pinned version old enough that LinkedIn will retire it soon, else None."""
    year, month = int(version[:4]), int(version[4:6])
    age = (now.year * 12 + now.month) - (year * 12 + month)
    if age < VERSION_WARN_MONTHS:
        return None
    return (
        f"API version {version} is {age} months old and LinkedIn retires versions about a year after they come "
        "out (then every post fails with HTTP 426): set `version:` in channels.yml to a recent month and check "
        "the channel again"
    )


def _same(text: str, post: Mapping[str, Any]) -> bool:
    commentary = post.get("commentary")
    return isinstance(commentary, str) and _comparable(little.plain(commentary)) == _comparable(text)


def _comparable(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _is_duplicate(response: requests.Response) -> bool:
    body = _json(response)
    codes = [item.get("code") for item in input_errors(body)]
    message = body.get("message") if isinstance(body, Mapping) else None
    return "DUPLICATE_POST" in codes or (isinstance(message, str) and "duplicate" in message.lower())


def _read_image(item: MediaItem) -> tuple[str, bytes, str, str]:
    """(name, bytes, MIME type, alt) of an image's rendition for LinkedIn, checked before anything goes to LinkedIn."""
    if item.path.suffix.lower() not in MEDIA.kinds:
        raise Rejected(f"{item.path.name}: LinkedIn takes JPEG, PNG or GIF images")
    made = fitted(item, MEDIA, "LinkedIn")  # its bytes go out, never the file's (EXIF, GPS)
    try:
        data = made.read_bytes()
    except OSError as exc:
        raise Rejected(f"cannot read the rendition of {item.path.name}: {exc.strerror}") from None
    if MEDIA.max_bytes is not None and len(data) > MEDIA.max_bytes:
        raise Rejected(f"{item.path.name} is {len(data):,} bytes, over {MEDIA.max_bytes:,}")
    return upload_name(item, made), data, made.mime, item.alt


def _receipt(urn: str) -> Receipt:
    return Receipt(url=f"{WEB}/{urn}/", remote_id=urn)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
