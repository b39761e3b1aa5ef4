"""Facebook Pages: posts on one Page through the Graph API, with a Page access token.

Settings: `page_id` (the Page's numeric id, as a string), `token` (a Page access token, a
${SECRET} reference), `graph` (default https://graph.facebook.com; a setting so tests can point it
at a local server), `version` (default v25.0: pinned, so a new Graph version never changes what
is sent without someone choosing it).

What goes out (Graph API reference: page/feed, page/photos):
- text: `POST /{version}/{page_id}/feed` with `message`, and the first link of the text as `link`
  (Facebook shows its preview);
- one image: `POST /{version}/{page_id}/photos`, multipart `source`, `message`, `alt_text_custom`;
- several: each uploaded with `published=false` (an unpublished photo shows nowhere), then `/feed`
  with `attached_media[i]={"media_fbid": id}`.
The token travels as the documented `access_token` parameter: in the body of every POST, so it is
never part of a URL that urllib3 logs; a GET has no body, so there it is in the query string, and
the redacting filter on urllib3's loggers blanks it (scheduler.channels._secretguard).

The post's URL is made from the id Graph returns (`{page_id}_{post_id}` →
https://www.facebook.com/{page_id}/posts/{post_id}) instead of asking for `permalink_url`: asking
would be a second request after the post is already out, and its failure must not turn a
published post into a retry or a doubt. `lookup` does get `permalink_url`, in the same request.

Exactly once: Graph has no idempotency key (`idempotent_for = 0`). A send that may have gone out
is settled by `lookup`, which reads the Page's posts since the first attempt for the same message;
not found is InDoubt (a person decides), never "send again". Graph's `506` (duplicate post) is
settled the same way.

Replies (`replies_to`) are the comments on a Page post: `GET /{post-id}/comments` with
`filter=stream` (answers to comments too, not only the top level), `order=chronological`, 100 a
page, following `paging.cursors.after` while Graph gives `paging.next` (a page may be empty and
still have a next one); Graph may rank a busy post's comments whatever `order` says, so they are
sorted by `created_time` here. The Page's own comments (`from.id` is the Page) are left out. Graph names
a commenter only where its rules allow (`from` is absent for people it does not disclose to this
app): the author is then said to be unknown, and the comment is kept all the same, since it may be
the one that needs a person. A post Graph no longer has (code 100/33: deleted) has no replies.
Every answer's usage headers (X-Business-Use-Case-Usage, X-App-Usage: percentages of the Page's
and the app's hourly limits) are the `read_budget`, so reading stops while posting still has room.

Errors (Graph API guide "Handling errors"; codes, not HTTP statuses, say what happened):
`190` token expired or revoked → Rejected, alerted with what to do; throttling `4`, `17`, `32`,
`613`, `80001` → RetryLater after `estimated_time_to_regain_access` (minutes) of
X-Business-Use-Case-Usage, or X-App-Usage when it says; `368` blocked → Rejected; `1`, `2` and
5xx → RetryLater; anything else → Rejected with Graph's message and its fbtrace_id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from scheduler.channels import http
from scheduler.channels._secretguard import detached
from scheduler.channels.base import IMAGE_TYPES, Budget, Channel, Counts, Receipt, Reply
from scheduler.content.text import graphemes, urls
from scheduler.errors import ChannelError, ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost
from scheduler.secrets import MASK, redact, remember

log = logging.getLogger(__name__)

DEFAULT_GRAPH = "https://graph.facebook.com"
DEFAULT_VERSION = "v25.0"
#: The longest message Facebook takes on a post.
LENGTH = LengthRule("characters", 63_206, graphemes)
#: Page photos reference: "a photo must be less than 10MB in size"; formats from the photo
#: uploads guide (JPEG, BMP, PNG, GIF, TIFF); a multi-photo post takes at most 10.
MEDIA = MediaRules(
    max_items=10,
    max_bytes=10_000_000,
    kinds=frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff"}),
)
_THROTTLED = frozenset({4, 17, 32, 613, 80001})  # app, user, Page, API-specific, Page BUC limits
_TRANSIENT = frozenset({1, 2})  # "API Unknown", "API Service": wait and retry
_TOKEN = 190
_BLOCKED = 368
_DUPLICATE = 506
_NO_OBJECT = 100  # with subcode 33: no such object, or not visible with this token
_PERMISSION = frozenset({10, *range(200, 300)})
_SKEW = timedelta(minutes=5)  # the lookup reaches back a little: our clock is not Facebook's
_DUPLICATE_WINDOW = timedelta(days=1)  # a 506 compares with the Page's recent posts
_LOOKUP_PAGES = 10  # at most 1,000 posts read per lookup
_USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage")
_USAGE_FIGURES = ("call_count", "total_cputime", "total_time")
_USAGE_LOOK_AGAIN = 300.0  # seconds: Graph's windows roll over an hour and name no reset; look again then
_REPLY_FIELDS = "id,from,message,created_time,permalink_url"
_REPLY_PAGES = 25  # at most 2,500 comments read per post and read, oldest first
_NEWEST_PAGES = 5  # then, for a post with more, up to 500 newer than those, newest first
#: What a reply's author is when Graph does not name the commenter to this app.
UNKNOWN_AUTHOR = "unknown (Facebook does not name this person to the app)"


class _Duplicate(Rejected):
    """Graph answered 506: the same message is already on the Page (settled by lookup)."""


class FacebookChannel(Channel):
    """One Facebook Page."""

    type_name = "facebook"
    idempotent_for = 0.0  # Graph has no idempotency key
    can_lookup = True
    has_counts = True  # GET /{post-id}?fields=reactions,comments,shares (summaries only)
    has_replies = True  # GET /{post-id}/comments?filter=stream: comments and answers to them

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        page_id, token = settings.get("page_id"), settings.get("token")
        if isinstance(page_id, int) and not isinstance(page_id, bool):
            page_id = str(page_id)
        if not isinstance(page_id, str) or not page_id.strip().isdigit():
            raise ConfigError(f'channel {name}: `page_id` must be the Page\'s numeric id, quoted ("1234567890")')
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"channel {name}: `token` is missing (use ${{FACEBOOK_PAGE_TOKEN}}, a Page access token)")
        graph = str(settings.get("graph") or DEFAULT_GRAPH).strip().rstrip("/")
        if not graph.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: `graph` must be an http(s) URL")
        version = str(settings.get("version") or DEFAULT_VERSION).strip()
        if not (version.startswith("v") and version[1:].replace(".", "", 1).isdigit()):
            raise ConfigError(f"channel {name}: `version` must be a Graph API version such as {DEFAULT_VERSION}")
        self.page_id = page_id.strip()
        self._token = token.strip()
        remember(self._token)  # Graph may echo it back; redact() must know it
        self._base = f"{graph}/{version}"
        self.graph, self.version = graph, version
        self._budget: Budget | None = None
        self._http = http.session()

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LENGTH, media=MEDIA)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        self._refuse_what_facebook_would(post)
        started = datetime.now(UTC)
        try:
            if not post.media:
                return self._post_feed(post, self._text_fields(post))
            if len(post.media) == 1:
                return self._post_photo(post, post.media[0])
            ids = [self._upload_unpublished(item) for item in post.media]
            fields = [("message", post.text)]
            fields += [(f"attached_media[{i}]", json.dumps({"media_fbid": fbid})) for i, fbid in enumerate(ids)]
            return self._post_feed(post, fields)
        except _Duplicate as exc:
            return self._settle_duplicate(post, started, exc.reason)

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        """The Page's post with this message since `since`; InDoubt if there is none (never None:
        without a key, "not found" cannot prove that the request never reached Facebook)."""
        wanted = _normal(post.text)
        if not wanted:
            raise InDoubt("a post without text cannot be told apart on the Page")
        try:
            found = self._find(wanted, since - _SKEW)
        except ChannelError as exc:
            raise detached(RetryLater(f"cannot look up the Page's posts: {exc.reason}")) from None
        if found is None:
            when = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise InDoubt(f"no post with this message on Facebook Page {self.page_id} since {when}")
        return found

    def counts(self, published: Sequence[Receipt]) -> dict[str, Counts]:
        found = {}
        for receipt in published:
            body = self._read_post(receipt.remote_id) if receipt.remote_id else None
            if isinstance(body, Mapping):
                shares = body.get("shares")
                found[str(receipt.remote_id)] = Counts(
                    likes=_total(body.get("reactions")),
                    replies=_total(body.get("comments")),
                    # Graph leaves `shares` out of a post no one shared.
                    reposts=_int(shares.get("count")) if isinstance(shares, Mapping) else 0,
                )
        return found

    def _read_post(self, post_id: str) -> Any:
        """A Page post's reactions, comments and shares; None when Graph no longer has it (code 100/33)."""
        return self._call("GET", f"/{quote(post_id, safe='')}", params={"fields": _COUNT_FIELDS}, gone_is_none=True)

    def replies_to(self, published: Receipt) -> list[Reply]:
        if not published.remote_id:
            return []
        path = f"/{quote(published.remote_id, safe='')}/comments"
        params = {"fields": _REPLY_FIELDS, "filter": "stream", "order": "chronological", "limit": "100"}
        found, complete = self._comments(published, path, params, _REPLY_PAGES)
        if found is None:
            return []  # the post was deleted: nothing left to answer
        if not complete:
            # More than the pages read. Graph may rank a busy post's comments whatever `order` says,
            # so the newest, which may need a person now, are asked for by time: those since the
            # newest read, newest first. Any left between are for the team on Facebook itself.
            log.warning(
                "facebook: %s: a post has over %d comments; reading the newest too", self.name, 100 * _REPLY_PAGES
            )
            newest = max((reply.at for reply in found), default=None)
            since = {"since": str(int(newest.timestamp()))} if newest else {}
            more, _ = self._comments(
                published, path, {**params, "order": "reverse_chronological", **since}, _NEWEST_PAGES
            )
            seen = {reply.remote_id for reply in found}
            found += [reply for reply in more or [] if reply.remote_id not in seen]
        return sorted(found, key=lambda reply: reply.at)

    def _comments(
        self, published: Receipt, path: str, params: Mapping[str, str], pages: int
    ) -> tuple[list[Reply] | None, bool]:
        """Up to `pages` pages of a post's comments as replies (None: the post is gone), and whether
        that was all of them."""
        found: list[Reply] = []
        query = params
        for _ in range(pages):
            body = self._call("GET", path, params=query, gone_is_none=True)
            if body is None:
                return None, True
            found += self._replies_in(published, body)
            after = _next_cursor(body)
            if after is None:
                return found, True
            query = {**params, "after": after}
        return found, False

    def _replies_in(self, published: Receipt, body: Any) -> list[Reply]:
        data = body.get("data") if isinstance(body, Mapping) else None
        comments = [item for item in (data if isinstance(data, list) else []) if isinstance(item, Mapping)]
        return [reply for reply in (self._reply(published, item) for item in comments) if reply is not None]

    def _reply(self, published: Receipt, comment: Mapping[str, Any]) -> Reply | None:
        """A comment as a Reply; None for the Page's own."""
        author = comment.get("from")
        author = author if isinstance(author, Mapping) else {}
        if str(author.get("id") or "") == self.page_id:
            return None
        message = str(comment.get("message") or "")
        created = comment.get("created_time")
        comment_id = str(comment.get("id") or "")
        if not comment_id:  # keep it all the same, under a key that stays the same from read to read
            digest = hashlib.sha256(f"{created}\n{message}".encode()).hexdigest()[:16]
            comment_id = f"{published.remote_id}~{digest}"
        permalink = comment.get("permalink_url")
        return Reply(
            remote_id=comment_id,
            author=str(author.get("name") or "").strip() or UNKNOWN_AUTHOR,
            at=_when(created),
            text=message,
            url=permalink if isinstance(permalink, str) and permalink else published.url,
        )

    def read_budget(self) -> Budget | None:
        return self._budget

    def check(self) -> str:
        body = self._call("GET", f"/{self.page_id}", params={"fields": "name"})
        name = body.get("name") if isinstance(body, Mapping) else None
        return f"Page {name or '?'} ({self.page_id}) on {self.graph}, Graph API {self.version}"

    def close(self) -> None:
        self._http.close()

    # -- steps of publish --------------------------------------------------------------------

    def _refuse_what_facebook_would(self, post: RenderedPost) -> None:
        """Rejected before anything is uploaded, so a refused post leaves nothing behind."""
        problems = LENGTH.problems(post.text)
        if MEDIA.max_items is not None and len(post.media) > MEDIA.max_items:
            problems.append(f"{len(post.media)} images, Facebook takes at most {MEDIA.max_items}")
        for item in post.media:
            if item.path.suffix.lower() not in MEDIA.kinds:
                problems.append(f"{item.path.name}: Facebook takes JPEG, PNG, GIF, BMP or TIFF images")
                continue
            try:
                size = item.path.stat().st_size
            except OSError as exc:
                problems.append(f"cannot read {item.path.name}: {exc.strerror}")
                continue
            if MEDIA.max_bytes is not None and size > MEDIA.max_bytes:
                problems.append(f"{item.path.name} is {size:,} bytes, over Facebook's {MEDIA.max_bytes:,}")
        if problems:
            raise Rejected("Facebook would refuse it: " + "; ".join(problems))

    @staticmethod
    def _text_fields(post: RenderedPost) -> list[tuple[str, str]]:
        fields = [("message", post.text)]
        links = urls(post.text)
        if links:
            fields.append(("link", links[0][2]))  # Facebook previews this link
        return fields

    def _post_feed(self, post: RenderedPost, fields: list[tuple[str, str]]) -> Receipt:
        body = self._call("POST", f"/{self.page_id}/feed", may_publish=True, data=fields)
        post_id = body.get("id") if isinstance(body, Mapping) else None
        if not isinstance(post_id, str) or not post_id:
            raise InDoubt("Graph answered the post without an id")
        log.info("facebook: published %s on %s as %s", post.post, self.name, post_id)
        return Receipt(url=self._post_url(post_id), remote_id=post_id)

    def _post_photo(self, post: RenderedPost, item: MediaItem) -> Receipt:
        fields = [("message", post.text), ("alt_text_custom", item.alt)]
        body = self._upload(item, fields, may_publish=True)
        post_id, photo_id = body.get("post_id"), body.get("id")
        remote = post_id if isinstance(post_id, str) and post_id else photo_id
        if not isinstance(remote, str) or not remote:
            raise InDoubt("Graph answered the photo post without an id")
        log.info("facebook: published %s on %s as %s", post.post, self.name, remote)
        return Receipt(url=self._post_url(remote), remote_id=remote)

    def _upload_unpublished(self, item: MediaItem) -> str:
        # An unpublished photo shows nowhere until a post attaches it, so a lost answer is
        # RetryLater (may_publish=False): at worst an unused photo stays behind, unseen.
        body = self._upload(item, [("published", "false"), ("alt_text_custom", item.alt)], may_publish=False)
        photo_id = body.get("id")
        if not isinstance(photo_id, str) or not photo_id:
            raise RetryLater(f"Graph answered the upload of {item.path.name} without an id")
        return photo_id

    def _upload(self, item: MediaItem, fields: list[tuple[str, str]], *, may_publish: bool) -> Mapping[str, Any]:
        suffix = item.path.suffix.lower()
        mime = IMAGE_TYPES.get(suffix) or mimetypes.guess_type(item.path.name)[0] or "application/octet-stream"
        try:
            with item.path.open("rb") as handle:
                body = self._call(
                    "POST",
                    f"/{self.page_id}/photos",
                    may_publish=may_publish,
                    data=fields,
                    files={"source": (item.path.name, handle, mime)},
                )
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
        return body if isinstance(body, Mapping) else {}

    def _settle_duplicate(self, post: RenderedPost, started: datetime, reason: str) -> Receipt:
        """Graph says the message is already on the Page: find that post, else leave it to a person."""
        try:
            found = self._find(_normal(post.text), started - _DUPLICATE_WINDOW) if _normal(post.text) else None
        except ChannelError as exc:
            raise detached(InDoubt(f"{reason}; the lookup failed: {exc.reason}")) from None
        if found is None:
            raise InDoubt(f"{reason}; no post with this message found on the Page")
        log.info("facebook: %s was already on %s as %s", post.post, self.name, found.remote_id)
        return found

    def _find(self, message: str, since: datetime) -> Receipt | None:
        """The newest post of the Page since `since` whose message is `message` (normalised)."""
        params = {
            "since": str(int(since.timestamp())),
            "fields": "id,message,created_time,permalink_url",
            "limit": "100",
        }
        for _ in range(_LOOKUP_PAGES):
            body = self._call("GET", f"/{self.page_id}/posts", params=params)
            data = body.get("data") if isinstance(body, Mapping) else None
            for item in data if isinstance(data, list) else []:
                if isinstance(item, Mapping) and _normal(str(item.get("message") or "")) == message:
                    post_id = str(item.get("id") or "")
                    permalink = item.get("permalink_url")
                    url = permalink if isinstance(permalink, str) and permalink else self._post_url(post_id)
                    return Receipt(url=url, remote_id=post_id or None)
            after = _next_cursor(body)
            if after is None:
                return None
            params = {**params, "after": after}
        return None

    def _post_url(self, post_id: str) -> str:
        page, _, number = post_id.partition("_")
        if number:
            return f"https://www.facebook.com/{page}/posts/{number}"
        return f"https://www.facebook.com/{post_id}"

    # -- the one place where HTTP answers become errors --------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        may_publish: bool = False,
        params: Mapping[str, str] | None = None,
        data: list[tuple[str, str]] | None = None,
        files: Mapping[str, Any] | None = None,
        gone_is_none: bool = False,
    ) -> Any:
        """One Graph request; its JSON body if it succeeded, else the channel error it means.

        `gone_is_none`: the object asked for may be gone (a deleted post); Graph's code 100/33 is
        then None instead of an error."""
        url = self._base + path
        if method == "GET":
            params = {**(params or {}), "access_token": self._token}
        else:
            data = [*(data or []), ("access_token", self._token)]
        try:
            response = http.send(
                self._http,
                method,
                url,
                may_publish=may_publish,
                params=params,
                data=data,
                files=files,
                allow_redirects=False,  # a redirected POST would be replayed as a GET
            )
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"Graph unreachable ({self.graph}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        else:
            self._budget = _usage_budget(response) or self._budget
            if gone_is_none and _is_gone(response):
                return None
            return self._checked(response)
        raise detached(error)

    def _checked(self, response: requests.Response) -> Any:
        status = response.status_code
        body = _json(response)
        graph_error = body.get("error") if isinstance(body, Mapping) else None
        if 200 <= status < 300 and not isinstance(graph_error, Mapping):
            return body
        if 300 <= status < 400:
            target = self._scrub(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"{self.graph} redirects to {target}: set `graph` to that address")
        if not isinstance(graph_error, Mapping):
            text = self._scrub(response.text.strip() or response.reason or "")[:300]
            message = f"HTTP {status} from Graph: {text}"
            if status == 429 or status >= 500:
                raise RetryLater(message, _usage_wait(response) or http.retry_after(response, rate_limit=status == 429))
            raise Rejected(message)
        raise self._error(status, graph_error, response)

    def _error(self, status: int, error: Mapping[str, Any], response: requests.Response) -> ChannelError:
        """The channel error that a Graph error body means (Graph API guide, "Handling errors")."""
        code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
        said = self._said(status, code, subcode, error)
        if code == _TOKEN:
            return Rejected(
                f"token rejected: Facebook refused the Page access token of channel {self.name} (expired or revoked). "
                f"Make a new long-lived Page access token for Page {self.page_id} and store it where "
                f"`token:` points (docs/writing-posts.md, Facebook). {said}"
            )
        if code in _THROTTLED:
            return RetryLater(f"Facebook is throttling calls{_usage_note(response)}. {said}", _usage_wait(response))
        if code == _BLOCKED:
            return Rejected(f"Facebook blocked this post (code 368, not retried). {said}")
        if code == _DUPLICATE:
            return _Duplicate(f"Facebook says this post is a duplicate. {said}")
        if code == _NO_OBJECT and subcode == 33:
            return Rejected(f"Page {self.page_id} does not exist or this token cannot see it. {said}")
        if code in _PERMISSION:
            return Rejected(
                f"the token of channel {self.name} lacks a permission: it must be a Page access token with "
                f"pages_manage_posts, pages_read_engagement and (to read comments) pages_read_user_content "
                f"for Page {self.page_id}. {said}"
            )
        if code in _TRANSIENT or error.get("is_transient") is True or status >= 500:
            return RetryLater(f"Graph had a temporary problem. {said}", _usage_wait(response))
        return Rejected(said)

    def _said(self, status: int, code: int | None, subcode: int | None, error: Mapping[str, Any]) -> str:
        """What Graph said, in its own words, with what support needs (code, fbtrace_id)."""
        parts = [str(error.get(key)) for key in ("message", "error_user_msg") if error.get(key)]
        numbers = f"code {code}" + (f"/{subcode}" if subcode is not None else "") if code is not None else ""
        trace = error.get("fbtrace_id")
        detail = ", ".join(part for part in (f"HTTP {status}", numbers, f"fbtrace_id {trace}" if trace else "") if part)
        return self._scrub(f"Graph said: {' '.join(parts) or 'no message'} ({detail})")[:500]

    def _scrub(self, text: str) -> str:
        return redact(text).replace(self._token, MASK)


_COUNT_FIELDS = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"


def _total(edge: Any) -> int | None:
    summary = edge.get("summary") if isinstance(edge, Mapping) else None
    return _int(summary.get("total_count")) if isinstance(summary, Mapping) else None


def _usage_wait(response: requests.Response) -> float | None:
    """Seconds until Facebook takes calls again, where a usage header says (minutes there)."""
    waits: list[float] = []
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        # X-App-Usage holds percentages only, unless Facebook adds a time to it.
        for entry in _entries(usage):
            minutes = entry.get("estimated_time_to_regain_access")
            if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
                waits.append(float(minutes) * 60)
    return max(waits) if waits else None


def _usage_budget(response: requests.Response) -> Budget | None:
    """The usage headers as a budget of 100: what is left of the fullest figure, and when to look
    again (the time to regain access, where Graph names one)."""
    used: list[float] = []
    wait = _usage_wait(response)
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        for entry in _entries(usage):
            used += [
                float(value)
                for value in (entry.get(key) for key in _USAGE_FIGURES)
                if isinstance(value, int | float) and not isinstance(value, bool)
            ]
    if not used:
        return None
    return Budget(remaining=max(0, 100 - round(max(used))), limit=100, reset_in=wait or _USAGE_LOOK_AGAIN)


def _is_gone(response: requests.Response) -> bool:
    """Graph's answer for an object that does not exist (any more), or that this token cannot see."""
    body = _json(response)
    problem = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(problem, Mapping):
        return False
    return (_int(problem.get("code")), _int(problem.get("error_subcode"))) == (_NO_OBJECT, 33)


def _when(value: Any) -> datetime:
    """Graph's `created_time` (2027-11-15T09:12:00+0000); now where it is missing or unreadable."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _usage_note(response: requests.Response) -> str:
    """ " (X-App-Usage: call_count 100%)" for the usage figures at or over 100%, else ""."""
    full = []
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        for entry in _entries(usage):
            for key in _USAGE_FIGURES:
                value = entry.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and value >= 100:
                    full.append(f"{name}: {key} {value:g}%")
    return f" ({', '.join(full)})" if full else ""


def _entries(usage: Any) -> list[Mapping[str, Any]]:
    """The usage entries of a header: X-Business-Use-Case-Usage maps each business object to a
    list of them; X-App-Usage is one flat entry."""
    if not isinstance(usage, Mapping):
        return []
    if any(key in usage for key in _USAGE_FIGURES):
        return [usage]
    found = [entry for value in usage.values() for entry in (value if isinstance(value, list) else [value])]
    return [entry for entry in found if isinstance(entry, Mapping)]


def _next_cursor(body: Any) -> str | None:
    paging = body.get("paging") if isinstance(body, Mapping) else None
    if not isinstance(paging, Mapping) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, Mapping) else None
    return after if isinstance(after, str) and after else None


def _normal(text: str) -> str:
    """A message as Facebook keeps it, for comparing: line ends unified, outer blanks trimmed."""
    return text.replace("\r\n", "\n").strip()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
