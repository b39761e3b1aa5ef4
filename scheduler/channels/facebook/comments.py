"""Replies to Page posts: the comments on them, and the counts of a post.

Replies are the comments on a Page post: `GET /{post-id}/comments` with `filter=stream` (answers
to comments too, not only the top level), `order=chronological`, 100 a page, following
`paging.cursors.after` while Graph gives `paging.next` (a page may be empty and still have a next
one); Graph may rank a busy post's comments whatever `order` says, so they are sorted by
`created_time` here. The Page's own comments (`from.id` is the Page) are left out. Graph names a
commenter only where its rules allow (`from` is absent for people it does not disclose to this
app): the author is then said to be unknown, and the comment is kept all the same, since it may be
the one that needs a person. A post Graph no longer has (code 100/33: deleted) has no replies.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from scheduler.channels.base import Counts, Receipt, Reply
from scheduler.channels.facebook.graph import Graph, integer, next_cursor

log = logging.getLogger("scheduler.channels.facebook")

_REPLY_FIELDS = "id,from,message,created_time,permalink_url"
_REPLY_PAGES = 25  # at most 2,500 comments read per post and read, oldest first
_NEWEST_PAGES = 5  # then, for a post with more, up to 500 newer than those, newest first
_COUNT_FIELDS = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"
#: A video (published by scheduler.channels.facebook.videos, its id without the Page's `{page_id}_`) has
#: reactions and comments, but no `shares` field: asking for it would be an error.
_VIDEO_COUNT_FIELDS = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
#: What a reply's author is when Graph does not name the commenter to this app.
UNKNOWN_AUTHOR = "unknown (Facebook does not name this person to the app)"


def counts_of(graph: Graph, post_id: str) -> Counts | None:
    """A Page post's reactions, comments and shares; None when Graph no longer has it (code 100/33)."""
    fields = _COUNT_FIELDS if "_" in post_id else _VIDEO_COUNT_FIELDS
    body = graph.call("GET", f"/{quote(post_id, safe='')}", params={"fields": fields}, gone_is_none=True)
    if not isinstance(body, Mapping):
        return None
    shares = body.get("shares")
    return Counts(
        likes=_total(body.get("reactions")),
        replies=_total(body.get("comments")),
        # Graph leaves `shares` out of a post no one shared; a video's are not counted at all.
        reposts=integer(shares.get("count")) if isinstance(shares, Mapping) else (0 if "_" in post_id else None),
    )


def replies_to(graph: Graph, channel: str, published: Receipt) -> list[Reply]:
    """Other people's comments on a published post, oldest first."""
    if not published.remote_id:
        return []
    path = f"/{quote(published.remote_id, safe='')}/comments"
    params = {"fields": _REPLY_FIELDS, "filter": "stream", "order": "chronological", "limit": "100"}
    found, complete = _comments(graph, published, path, params, _REPLY_PAGES)
    if found is None:
        return []  # the post was deleted: nothing left to answer
    if not complete:
        # More than the pages read. Graph may rank a busy post's comments whatever `order` says,
        # so the newest, which may need a person now, are asked for by time: those since the
        # newest read, newest first. Any left between are for the team on Facebook itself.
        log.warning("facebook: %s: a post has over %d comments; reading the newest too", channel, 100 * _REPLY_PAGES)
        newest = max((reply.at for reply in found), default=None)
        since = {"since": str(int(newest.timestamp()))} if newest else {}
        more, _ = _comments(
            graph, published, path, {**params, "order": "reverse_chronological", **since}, _NEWEST_PAGES
        )
        seen = {reply.remote_id for reply in found}
        found += [reply for reply in more or [] if reply.remote_id not in seen]
    return sorted(found, key=lambda reply: reply.at)


def _comments(
    graph: Graph, published: Receipt, path: str, params: Mapping[str, str], pages: int
) -> tuple[list[Reply] | None, bool]:
    """Up to `pages` pages of a post's comments as replies (None: the post is gone), and whether
    that was all of them."""
    found: list[Reply] = []
    query = params
    for _ in range(pages):
        body = graph.call("GET", path, params=query, gone_is_none=True)
        if body is None:
            return None, True
        found += _replies_in(graph, published, body)
        after = next_cursor(body)
        if after is None:
            return found, True
        query = {**params, "after": after}
    return found, False


def _replies_in(graph: Graph, published: Receipt, body: Any) -> list[Reply]:
    data = body.get("data") if isinstance(body, Mapping) else None
    comments = [item for item in (data if isinstance(data, list) else []) if isinstance(item, Mapping)]
    return [reply for reply in (_reply(graph, published, item) for item in comments) if reply is not None]


def _reply(graph: Graph, published: Receipt, comment: Mapping[str, Any]) -> Reply | None:
    """A comment as a Reply; None for the Page's own."""
    author = comment.get("from")
    author = author if isinstance(author, Mapping) else {}
    if str(author.get("id") or "") == graph.page_id:
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


def _total(edge: Any) -> int | None:
    summary = edge.get("summary") if isinstance(edge, Mapping) else None
    return integer(summary.get("total_count")) if isinstance(summary, Mapping) else None


def _when(value: Any) -> datetime:
    """Graph's `created_time` (2027-11-15T09:12:00+0000); now where it is missing or unreadable."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
