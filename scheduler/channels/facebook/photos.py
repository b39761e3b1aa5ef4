"""Photos on a Page (Graph API reference: page/photos).

One image is one `POST /{version}/{page_id}/photos`, multipart `source`, `message`,
`alt_text_custom`: that request publishes the post. For several, each is uploaded with
`published=false` (an unpublished photo shows nowhere) and the feed attaches them
(scheduler.channels.facebook.feed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scheduler.channels.base import Receipt
from scheduler.channels.facebook.feed import MEDIA, post_url
from scheduler.channels.facebook.graph import Graph
from scheduler.channels.images import fitted, upload_name
from scheduler.errors import InDoubt, Rejected, RetryLater
from scheduler.posts import MediaItem, RenderedPost

log = logging.getLogger("scheduler.channels.facebook")


def post_photo(graph: Graph, channel: str, post: RenderedPost, item: MediaItem) -> Receipt:
    """Publish a post of one photo with the post's text as its message."""
    fields = [("message", post.text), ("alt_text_custom", item.alt)]
    body = upload(graph, item, fields, may_publish=True)
    post_id, photo_id = body.get("post_id"), body.get("id")
    remote = post_id if isinstance(post_id, str) and post_id else photo_id
    if not isinstance(remote, str) or not remote:
        raise InDoubt("Graph answered the photo post without an id")
    log.info("facebook: published %s on %s as %s", post.post, channel, remote)
    return Receipt(url=post_url(remote), remote_id=remote)


def upload_unpublished(graph: Graph, item: MediaItem) -> str:
    """Upload a photo that shows nowhere until a post attaches it; its id."""
    # An unpublished photo shows nowhere until a post attaches it, so a lost answer is
    # RetryLater (may_publish=False): at worst an unused photo stays behind, unseen.
    body = upload(graph, item, [("published", "false"), ("alt_text_custom", item.alt)], may_publish=False)
    photo_id = body.get("id")
    if not isinstance(photo_id, str) or not photo_id:
        raise RetryLater(f"Graph answered the upload of {item.path.name} without an id")
    return photo_id


def upload(graph: Graph, item: MediaItem, fields: list[tuple[str, str]], *, may_publish: bool) -> Mapping[str, Any]:
    made = fitted(item, MEDIA, "Facebook")  # the rendition's bytes go out, never the file's
    try:
        data = made.read_bytes()
    except OSError as exc:
        raise Rejected(f"cannot read the rendition of {item.path.name}: {exc.strerror}") from None
    body = graph.call(
        "POST",
        f"/{graph.page_id}/photos",
        may_publish=may_publish,
        data=fields,
        files={"source": (upload_name(item, made), data, made.mime)},
    )
    return body if isinstance(body, Mapping) else {}
