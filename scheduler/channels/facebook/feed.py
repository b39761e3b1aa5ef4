"""Posts on a Page's feed, and finding them again by their message.

What goes out (Graph API reference: page/feed): a text is `POST /{version}/{page_id}/feed` with
`message`, and the first link of the text as `link` (Facebook shows its preview); several photos,
uploaded unpublished first (scheduler.channels.facebook.photos), go to the same edge with
`attached_media[i]={"media_fbid": id}`.

The post's URL is made from the id Graph returns (`{page_id}_{post_id}` →
https://www.facebook.com/{page_id}/posts/{post_id}) instead of asking for `permalink_url`: asking
would be a second request after the post is already out, and its failure must not turn a
published post into a retry or a doubt. `find` does get `permalink_url`, in the same request.

Exactly once: Graph has no idempotency key. A send that may have gone out is settled by reading
the Page's posts since the first attempt for the same message; not found is InDoubt (a person
decides), never "send again". Graph's `506` (duplicate post) is settled the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from scheduler.channels._secretguard import detached
from scheduler.channels.base import Receipt
from scheduler.channels.facebook.graph import Graph, next_cursor
from scheduler.channels.images import fitted
from scheduler.content.text import graphemes, urls
from scheduler.errors import ChannelError, InDoubt, Rejected
from scheduler.posts import LengthRule, MediaItem, MediaRules, RenderedPost, VideoRules

log = logging.getLogger("scheduler.channels.facebook")

#: The longest message Facebook takes on a post.
LENGTH = LengthRule("characters", 63_206, graphemes)
#: Page photos reference: "a photo must be less than 10MB in size"; formats from the photo
#: uploads guide (JPEG, BMP, PNG, GIF, TIFF); a multi-photo post takes at most 10.
MEDIA = MediaRules(
    max_items=10,
    max_bytes=10_000_000,
    kinds=frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff"}),
    transparency=False,  # the feed shows photos as JPEG: a transparent PNG is flattened on white by us, not them
    video=VideoRules(  # Page videos reference: up to 10 GB and 240 minutes; MP4 and MOV recommended
        "Facebook", kinds=frozenset({".mp4", ".mov"}), max_bytes=10_000_000_000, max_seconds=240 * 60
    ),
)
DUPLICATE_WINDOW = timedelta(days=1)  # a 506 compares with the Page's recent posts
_LOOKUP_PAGES = 10  # at most 1,000 posts read per lookup


def refuse_what_facebook_would(post: RenderedPost) -> None:
    """Rejected before anything is uploaded, so a refused post leaves nothing behind."""
    problems = LENGTH.problems(post.text)
    if MEDIA.max_items is not None and len(post.media) > MEDIA.max_items:
        problems.append(f"{len(post.media)} images, Facebook takes at most {MEDIA.max_items}")
    for item in post.media:
        if item.is_video:
            problems += _video_problems(item)
            continue
        if item.path.suffix.lower() not in MEDIA.kinds:
            problems.append(f"{item.path.name}: Facebook takes JPEG, PNG, GIF, BMP or TIFF images")
            continue
        try:
            fitted(item, MEDIA, "Facebook")  # what goes out is this rendition, never the file
        except Rejected as exc:
            problems.append(exc.reason)
    if problems:
        raise Rejected("Facebook would refuse it: " + "; ".join(problems))


def _video_problems(item: MediaItem) -> list[str]:
    """How a video is over what the Page videos reference documents (scheduler.channels.facebook.videos)."""
    rules = MEDIA.video
    if rules is None:
        return []
    if item.path.suffix.lower() not in rules.kinds:
        return [f"{item.path.name}: Facebook takes video as .mp4 or .mov"]
    try:
        size = item.path.stat().st_size
    except OSError as exc:
        return [f"cannot read {item.path.name}: {exc.strerror}"]
    problems = []
    if rules.max_bytes is not None and size > rules.max_bytes:
        problems.append(f"{item.path.name} is {size:,} bytes, over Facebook's {rules.max_bytes:,} for a video")
    seconds = item.video.seconds if item.video is not None else None
    if seconds is not None and rules.max_seconds is not None and seconds > rules.max_seconds:
        problems.append(f"{item.path.name} is {seconds:g} s long, over Facebook's {rules.max_seconds:g} s")
    return problems


def text_fields(post: RenderedPost) -> list[tuple[str, str]]:
    """The fields of a text post: the message, and its first link for Facebook's preview."""
    fields = [("message", post.text)]
    links = urls(post.text)
    if links:
        fields.append(("link", links[0][2]))  # Facebook previews this link
    return fields


def with_photos(post: RenderedPost, photo_ids: list[str]) -> list[tuple[str, str]]:
    """The fields of a post that shows photos uploaded unpublished."""
    fields = [("message", post.text)]
    fields += [(f"attached_media[{i}]", json.dumps({"media_fbid": fbid})) for i, fbid in enumerate(photo_ids)]
    return fields


def post_feed(graph: Graph, channel: str, post: RenderedPost, fields: list[tuple[str, str]]) -> Receipt:
    """Publish `fields` on the Page's feed."""
    body = graph.call("POST", f"/{graph.page_id}/feed", may_publish=True, data=fields)
    post_id = body.get("id") if isinstance(body, Mapping) else None
    if not isinstance(post_id, str) or not post_id:
        raise InDoubt("Graph answered the post without an id")
    log.info("facebook: published %s on %s as %s", post.post, channel, post_id)
    return Receipt(url=post_url(post_id), remote_id=post_id)


def settle_duplicate(graph: Graph, channel: str, post: RenderedPost, started: datetime, reason: str) -> Receipt:
    """Graph says the message is already on the Page: find that post, else leave it to a person."""
    try:
        found = find(graph, normal(post.text), started - DUPLICATE_WINDOW) if normal(post.text) else None
    except ChannelError as exc:
        raise detached(InDoubt(f"{reason}; the lookup failed: {exc.reason}")) from None
    if found is None:
        raise InDoubt(f"{reason}; no post with this message found on the Page")
    log.info("facebook: %s was already on %s as %s", post.post, channel, found.remote_id)
    return found


def find(graph: Graph, message: str, since: datetime) -> Receipt | None:
    """The newest post of the Page since `since` whose message is `message` (normalised)."""
    params = {
        "since": str(int(since.timestamp())),
        "fields": "id,message,created_time,permalink_url",
        "limit": "100",
    }
    for _ in range(_LOOKUP_PAGES):
        body = graph.call("GET", f"/{graph.page_id}/posts", params=params)
        data = body.get("data") if isinstance(body, Mapping) else None
        for item in data if isinstance(data, list) else []:
            if isinstance(item, Mapping) and normal(str(item.get("message") or "")) == message:
                post_id = str(item.get("id") or "")
                permalink = item.get("permalink_url")
                url = permalink if isinstance(permalink, str) and permalink else post_url(post_id)
                return Receipt(url=url, remote_id=post_id or None)
        after = next_cursor(body)
        if after is None:
            return None
        params = {**params, "after": after}
    return None


def post_url(post_id: str) -> str:
    """The public address of a Page post, from the id Graph gave it."""
    page, _, number = post_id.partition("_")
    if number:
        return f"https://www.facebook.com/{page}/posts/{number}"
    return f"https://www.facebook.com/{post_id}"


def normal(text: str) -> str:
    """A message as Facebook keeps it, for comparing: line ends unified, outer blanks trimmed."""
    return text.replace("\r\n", "\n").strip()
