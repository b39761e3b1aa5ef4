"""X (formerly Twitter): posts with images or a video, alt text and subtitles, through the X API v2.

Settings: `consumer_key`, `consumer_secret`, `access_token`, `access_token_secret` (each a ${SECRET} reference: the
app's API key and secret, and the account's access token and secret made with "Read and write" permission), `api`
(default https://api.x.com; a setting only so tests can point it at a local server), `media_timeout` (seconds one
attempt waits for X to process a video, default 120).

Every request is signed with OAuth 1.0a in user context by requests-oauthlib (HMAC-SHA1). A post is `POST /2/tweets`
with a JSON body; images go first to `POST /2/media/upload` (multipart, `media_category=tweet_image`) and get their
alt text through `POST /2/media/metadata`; a video goes by the chunked upload, with its subtitles (x_media). The
post's URL is made from the account's username (`GET /2/users/me`, fetched once per adapter).

Exactly once: X has no idempotency key (`idempotent_for = 0`). A send whose answer was lost is settled by `lookup`,
which searches the account's own posts since the first attempt (`GET /2/users/:id/tweets`) for the same text: found is
published with its URL; not found is in doubt (raised, never None), because X's timeline may lag and "not seen" is not
"not out". A 403 "duplicate content" answer means the text is probably out already: it is settled by the same search
inside `publish`, and never retried.

Comparing texts: X gives every link back as a t.co link (and appends one for attached media),
and escapes &, < and > as HTML entities. So X's text is unescaped, each t.co link in it is read as
"one word-piece without white space" (it stands for one link of ours, with or without a scheme),
a trailing t.co link may be the media's, and white space runs count as one space.

Errors: 429 is RetryLater until `x-rate-limit-reset` (unix seconds); 5xx and unreachable are
RetryLater; 401 (and a 403 for a read-only token) is Rejected with what to do; other 4xx are
Rejected with X's problem JSON (`title`, `detail`, `errors`) in a person's words.

A reply (a thread's next part) is the same post with `reply.in_reply_to_tweet_id` (`_send_post`).

Replies to a published post are its conversation: `GET /2/tweets/search/recent` with
`query=conversation_id:<id>` (a thread's parts and every answer in it share its first post's id),
newest first, 100 a page, paged by `meta.next_token`; the account's own posts are left out. Recent
search covers only the last 7 days: replies written later than 7 days before a read are never
seen. Many X plans have no search: their 403 is NotPermitted, and the collector stops asking.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

import requests
from requests_oauthlib import OAuth1

from scheduler.channels import http
from scheduler.channels._secretguard import detached
from scheduler.channels.base import Budget, Channel, Counts, Receipt, Reply
from scheduler.channels.x_images import read_image, upload_image
from scheduler.channels.x_media import DEFAULT_WAIT, MAX_ALT, VIDEO, XVideo
from scheduler.content.text import x_weighted_length
from scheduler.errors import ChannelError, ConfigError, InDoubt, NotPermitted, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaRules, RenderedPost
from scheduler.secrets import redact, remember

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.x.com"
WEB = "https://x.com"
KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
#: docs.x.com, x-api/media: "Image: 5 MB"; a post takes up to 4 photos.
TEXT = LengthRule("weighted characters", 280, x_weighted_length)  # twitter-text v3: URLs 23, CJK and emoji 2
#: X keeps a PNG's transparency (it turns opaque PNGs into JPEGs itself).
MEDIA = MediaRules(max_items=4, max_bytes=5_000_000, kinds=frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"}))
#: How far back a "duplicate content" answer is searched for the post it duplicates.
DUPLICATE_LOOKBACK = timedelta(hours=24)
#: Our clock and X's may differ; the search starts this much before the first attempt.
CLOCK_SKEW = timedelta(minutes=2)
LOOKUP_PAGES = 5  # of 100 posts each
SEARCH = "/2/tweets/search/recent"
#: Pages of 100 replies one read takes, newest first: a busy conversation costs at most this many
#: requests, and its older replies were kept by the reads before.
REPLY_PAGES = 5
_NO_SEARCH = (
    "X does not let this app search posts, and reading replies needs recent search, which only some "
    "X API plans include (see Products in the X developer portal) ({message})"
)
_TCO = re.compile(r"https?://t\.co/\w+")
_TRAILING_TCO = re.compile(r"\s*https?://t\.co/\w+$")
_SPACE = re.compile(r"\s+")
_ADVICE = (
    'regenerate the access token and secret with "Read and write" permission in the X developer portal '
    "(the app's User authentication settings), then update the channel's secrets"
)


@dataclass(frozen=True)
class _Account:
    id: str
    username: str


class XChannel(Channel):
    """One X account, through one developer app's keys."""

    type_name = "x"
    idempotent_for = 0.0  # X has no idempotency key
    can_lookup = True
    has_counts = True  # GET /2/tweets?ids=…&tweet.fields=public_metrics
    counts_batch = 100  # `ids` takes at most 100
    has_replies = True  # GET /2/tweets/search/recent: the last 7 days, on plans that include search

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self._budget: Budget | None = None
        keys: dict[str, str] = {}
        for key in KEYS:
            value = settings.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"channel {name}: an x channel needs `{key}: ${{X_{key.upper()}}}`")
            keys[key] = value.strip()
            remember(keys[key])  # X or a proxy may echo them; redact() must know them
        api = settings.get("api", DEFAULT_API)
        if not isinstance(api, str) or not api.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `api` must be an http(s) URL such as {DEFAULT_API}")
        self._base = api.rstrip("/")
        self.host = urlsplit(self._base).netloc
        self._http = http.session()
        self._http.auth = OAuth1(
            keys["consumer_key"],
            client_secret=keys["consumer_secret"],
            resource_owner_key=keys["access_token"],
            resource_owner_secret=keys["access_token_secret"],
            signature_type="AUTH_HEADER",
        )
        self._lock = threading.Lock()
        self._me: _Account | None = None
        self._too_busy: set[str] = set()  # the posts whose replies were more than one read takes (said once)
        self.media_timeout = float(settings.get("media_timeout", DEFAULT_WAIT))

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=TEXT, media=replace(MEDIA, video=VIDEO), replies=True)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        return self._send_post(post, None if reply_to is None else reply_to.remote_id, key)

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt:
        """The post with `post`'s text on the account since `since`; InDoubt if not seen."""
        try:
            found = self._find(post, since - CLOCK_SKEW)
        except Rejected as exc:
            raise RetryLater(f"cannot search the account's posts: {exc.reason}") from None
        if found is None:
            raise InDoubt(f"no post with this text on @{self._account().username} since {_iso(since)}")
        return found

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        ids = [r.remote_id for r in published if r.remote_id][: self.counts_batch]
        if not ids:
            return {}
        params = {"ids": ",".join(ids), "tweet.fields": "public_metrics"}
        response = self._request("GET", "/2/tweets", params=params)
        found_budget = http.budget(response)
        self._budget = Budget(*found_budget) if found_budget else None
        body = _json(self._checked(response))
        found = {}
        for item in (body.get("data") if isinstance(body, Mapping) else None) or []:  # a deleted post is in `errors`
            metrics = item.get("public_metrics") if isinstance(item, Mapping) else None
            if isinstance(metrics, Mapping) and item.get("id"):
                found[str(item["id"])] = Counts(
                    likes=_int(metrics.get("like_count")),
                    reposts=_int(metrics.get("retweet_count")),
                    replies=_int(metrics.get("reply_count")),
                    quotes=_int(metrics.get("quote_count")),
                    views=_int(metrics.get("impression_count")),
                )
        return found

    def replies_to(self, published: Receipt) -> list[Reply]:
        """Other people's posts in the conversation `published` began, oldest first (NotPermitted
        when the app's plan has no search)."""
        if not published.remote_id:
            return []
        account = self._account()
        params = {
            "query": f"conversation_id:{published.remote_id}",
            "tweet.fields": "author_id,created_at,conversation_id,in_reply_to_user_id",
            "expansions": "author_id",
            "user.fields": "username",
            "max_results": "100",
        }
        found: dict[str, Reply] = {}
        for page_number in range(1, REPLY_PAGES + 1):
            response = self._request("GET", SEARCH, params=params)
            found_budget = http.budget(response)
            self._budget = Budget(*found_budget) if found_budget else None
            if response.status_code == 403:
                message = "X: " + http.error_message(response, problem_text)
                raise NotPermitted(_NO_SEARCH.format(message=message))
            page = _json(self._checked(response))
            page = page if isinstance(page, Mapping) else {}
            includes = page.get("includes")
            users = includes.get("users") if isinstance(includes, Mapping) else None
            names = {
                str(user["id"]): str(user["username"])
                for user in (users if isinstance(users, list) else [])
                if isinstance(user, Mapping) and user.get("id") and user.get("username")
            }
            for item in page.get("data") or ():
                if not (isinstance(item, Mapping) and item.get("id") and isinstance(item.get("text"), str)):
                    continue
                author_id = str(item.get("author_id") or "")
                if author_id == account.id:
                    continue  # the campaign's own thread parts and answers
                reply_id = str(item["id"])
                username = names.get(author_id)
                found[reply_id] = Reply(
                    remote_id=reply_id,
                    author=f"@{username}" if username else f"X user {author_id or '?'}",
                    at=_when(item.get("created_at")),
                    text=html.unescape(item["text"]),
                    url=f"{WEB}/{username or 'i/web'}/status/{reply_id}",
                )
            meta = page.get("meta")
            token = meta.get("next_token") if isinstance(meta, Mapping) else None
            if not isinstance(token, str) or not token:
                break
            if page_number == REPLY_PAGES and published.remote_id not in self._too_busy:
                self._too_busy.add(published.remote_id)
                log.warning(
                    "x: %s has more replies than %d pages of 100: this read kept the newest; any older ones "
                    "that no read before kept are not read",
                    published.url or published.remote_id,
                    REPLY_PAGES,
                )
            params["next_token"] = token
        # X's times are to the second; its ids grow with time and break the ties.
        return sorted(found.values(), key=lambda reply: (reply.at, len(reply.remote_id), reply.remote_id))

    def read_budget(self) -> Budget | None:
        return self._budget

    def check(self) -> str:
        with self._lock:
            self._me = None  # check asks again, whatever was cached
        account = self._account()
        return f"authenticated as @{account.username} on {self.host}; {self._replies_readable(account)}"

    def _replies_readable(self, account: _Account) -> str:
        """Whether this app's plan lets replies be read (one search of the account's own posts), in
        words: the team learns before the campaign that X's replies must be watched by hand."""
        params = {"query": f"from:{account.username}", "max_results": "10"}
        try:
            response = self._request("GET", SEARCH, params=params)
        except ChannelError as exc:
            return f"replies: could not check ({exc.reason})"
        if response.status_code == 403:
            return "replies are not read: this app's X plan has no recent search; watch them on x.com by hand"
        if not 200 <= response.status_code < 300:
            return f"replies: could not check ({http.error_message(response, problem_text)})"
        return "replies are read (recent search, the last 7 days)"

    def close(self) -> None:
        self._http.close()

    # -- steps of publish --------------------------------------------------------------------

    def _send_post(self, post: RenderedPost, in_reply_to: str | None = None, key: str = "") -> Receipt:
        """Publish `post`, as a reply to `in_reply_to` if given (a thread's next part)."""
        videos = XVideo(self._request, self._checked, self.name, self.uploads, key, self.media_timeout)
        self._refuse_what_x_would(post, videos)
        images = [read_image(item, MEDIA) for item in post.media if not item.is_video]
        account = self._account()  # before any upload: bad keys leave nothing behind
        media_ids = [videos.upload(item) for item in post.media if item.is_video]
        media_ids += [upload_image(self._request, self._checked, image) for image in images]
        body: dict[str, Any] = {"text": post.text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if in_reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": in_reply_to}
        started = datetime.now(UTC)
        response = self._request("POST", "/2/tweets", may_publish=True, json=body)
        if _is_duplicate(response):
            # Probably out already (an earlier attempt whose answer was lost): find it, never resend.
            found = self._find(post, started - DUPLICATE_LOOKBACK)
            if found is None:
                raise InDoubt(f"X says this text is a duplicate, but it is not among @{account.username}'s posts")
            log.info("x: %s was already on %s as %s", post.post, self.name, found.remote_id)
            return found
        data = _data(self._checked(response))
        post_id = data.get("id") if isinstance(data, Mapping) else None
        if not isinstance(post_id, str) or not post_id:
            raise InDoubt(f"X answered HTTP {response.status_code} without the post's id")
        log.info("x: published %s on %s as %s", post.post, self.name, post_id)
        videos.posted()
        return Receipt(url=_post_url(account, post_id), remote_id=post_id)

    def _refuse_what_x_would(self, post: RenderedPost, videos: XVideo) -> None:
        """Rejected before anything is uploaded, so a refused post leaves nothing behind."""
        problems = self.limits(self.settings).length.problems(post.text)
        if len(post.media) > (MEDIA.max_items or 4):
            problems.append(f"{len(post.media)} images, X takes at most {MEDIA.max_items}")
        for item in post.media:
            if item.is_video:
                problems += videos.refuse(item)
            elif len(item.alt) > MAX_ALT:
                problems.append(f"alt text of {item.path.name} is {len(item.alt)} characters, X takes {MAX_ALT}")
        if problems:
            raise Rejected("; ".join(problems))

    # -- the account and its posts -----------------------------------------------------------

    def _account(self) -> _Account:
        """The account the access token belongs to, asked once per adapter."""
        with self._lock:
            if self._me is None:
                response = self._checked(self._request("GET", "/2/users/me"))
                data = _data(response)
                user_id = data.get("id") if isinstance(data, Mapping) else None
                username = data.get("username") if isinstance(data, Mapping) else None
                if not (isinstance(user_id, str) and user_id and isinstance(username, str) and username):
                    raise RetryLater("X answered /2/users/me without the account's id and username")
                self._me = _Account(user_id, username)
            return self._me

    def _find(self, post: RenderedPost, since: datetime) -> Receipt | None:
        """The newest of the account's posts since `since` whose text is `post`'s, if any."""
        account = self._account()
        params = {
            "start_time": _iso(since),
            "max_results": "100",
            "tweet.fields": "created_at,text",
            "exclude": "retweets",
        }
        for _ in range(LOOKUP_PAGES):
            page = _json(self._checked(self._request("GET", f"/2/users/{account.id}/tweets", params=params)))
            page = page if isinstance(page, Mapping) else {}
            for item in page.get("data") or ():
                if not (isinstance(item, Mapping) and isinstance(item.get("text"), str) and item.get("id")):
                    continue
                if same_text(post.text, item["text"], has_media=bool(post.media)):
                    return Receipt(url=_post_url(account, str(item["id"])), remote_id=str(item["id"]))
            meta = page.get("meta")
            token = meta.get("next_token") if isinstance(meta, Mapping) else None
            if not isinstance(token, str) or not token:
                return None
            params["pagination_token"] = token
        return None

    # -- the one place where HTTP answers become errors --------------------------------------

    def _request(self, method: str, path: str, *, may_publish: bool = False, **kwargs: Any) -> requests.Response:
        # A redirected POST would be replayed as a GET by requests: never follow, say so instead.
        kwargs.setdefault("allow_redirects", False)
        try:
            return http.send(self._http, method, self._base + path, may_publish=may_publish, **kwargs)
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"X unreachable ({self.host}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        raise detached(error)

    def _checked(self, response: requests.Response) -> requests.Response:
        """`response` if 2xx; else the channel error its status and problem JSON mean."""
        status = response.status_code
        if 200 <= status < 300:
            return response
        self._fail(response)

    def _fail(self, response: requests.Response) -> NoReturn:
        status = response.status_code
        if 300 <= status < 400:
            target = redact(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"X redirects to {target}: set the channel's `api` to that address")
        message = "X: " + http.error_message(response, problem_text)
        if status == 401:
            raise Rejected(f"channel {self.name}: X refused the keys ({message}): {_ADVICE}")
        if status == 403 and _problem_type(response).endswith("oauth1-permissions"):
            raise Rejected(f"channel {self.name}: the access token may not post ({message}): {_ADVICE}")
        if status == 429:
            raise RetryLater(message, after=http.retry_after(response))
        if status >= 500:
            # x-rate-limit-reset is on every answer; only Retry-After speaks about an outage.
            raise RetryLater(message, after=http.retry_after(response, rate_limit=False))
        raise Rejected(message)


def same_text(ours: str, theirs: str, *, has_media: bool = False) -> bool:
    """Whether X's text of a post (links as t.co, HTML-escaped) is the text we sent."""
    wanted = _comparable(ours)
    theirs = _comparable(html.unescape(theirs))
    if _pattern(theirs).fullmatch(wanted):
        return True
    if has_media:  # X appends a t.co link to the attached media
        media_link = _TRAILING_TCO.search(theirs)
        if media_link is not None:
            return bool(_pattern(theirs[: media_link.start()]).fullmatch(wanted))
    return False


def _comparable(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _pattern(theirs: str) -> re.Pattern[str]:
    """X's text as a pattern in which each t.co link stands for one link of ours."""
    pieces = [re.escape(piece) for piece in _TCO.split(theirs)]
    return re.compile(r"\S+?".join(pieces) if len(pieces) > 1 else pieces[0], re.DOTALL)


def problem_text(body: Any) -> str | None:
    """X's problem JSON in a person's words: title, detail, and what each error says."""
    if not isinstance(body, Mapping):
        return None
    parts: list[str] = []
    for key in ("title", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    errors = body.get("errors")
    for error in (errors if isinstance(errors, list) else [])[:3]:
        if isinstance(error, Mapping):
            said = error.get("message") or error.get("detail")
            if isinstance(said, str) and said and said not in parts:
                parts.append(said)
    return ": ".join(parts) or None


def _problem_type(response: requests.Response) -> str:
    body = _json(response)
    kind = body.get("type") if isinstance(body, Mapping) else None
    return kind if isinstance(kind, str) else ""


def _is_duplicate(response: requests.Response) -> bool:
    """X's 403 for a text the account has already posted."""
    if response.status_code != 403:
        return False
    return "duplicate" in (problem_text(_json(response)) or "").lower()


def _post_url(account: _Account, post_id: str) -> str:
    return f"{WEB}/{account.username}/status/{post_id}"


def _iso(moment: datetime) -> str:
    """RFC 3339 in UTC to the second, as X's start_time takes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: Any) -> datetime:
    """X's created_at (RFC 3339, UTC); now when it is missing or unreadable."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _data(response: requests.Response) -> Any:
    body = _json(response)
    return body.get("data") if isinstance(body, Mapping) else None
