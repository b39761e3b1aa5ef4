"""An image on X: its rendition for X (scheduler.channels.images), read before anything goes to the network,
then the simple media upload of the X API v2 (`POST /2/media/upload`, `media_category=tweet_image`) and its alt
text (`POST /2/media/metadata`), as documented (docs.x.com, x-api/media)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from scheduler.channels.base import IMAGE_TYPES
from scheduler.channels.images import fitted, upload_name
from scheduler.errors import Rejected, RetryLater
from scheduler.posts import MediaItem, MediaRules

Request = Callable[..., requests.Response]


@dataclass(frozen=True)
class XImage:
    """An image's rendition, ready to upload."""

    name: str
    data: bytes
    mime: str
    alt: str


def read_image(item: MediaItem, rules: MediaRules) -> XImage:
    """`item`'s rendition for X, checked before anything goes to the network."""
    if IMAGE_TYPES.get(item.path.suffix.lower()) is None or item.path.suffix.lower() not in rules.kinds:
        raise Rejected(f"{item.path.name}: X takes JPEG, PNG, GIF or WebP images")
    made = fitted(item, rules, "X")
    try:
        data = made.read_bytes()
    except OSError as exc:
        raise Rejected(f"cannot read the rendition of {item.path.name}: {exc.strerror}") from None
    if rules.max_bytes is not None and len(data) > rules.max_bytes:
        raise Rejected(f"{item.path.name} is {len(data):,} bytes, over X's {rules.max_bytes:,}")
    return XImage(upload_name(item, made), data, made.mime, item.alt)


def upload_image(request: Request, checked: Callable[[requests.Response], requests.Response], image: XImage) -> str:
    """Upload one image, give it its alt text, return its media id. `request` and `checked` are the channel's
    own (OAuth-signed, its errors in a person's words)."""
    # An upload publishes nothing (unattached media expire), so a lost answer is RetryLater.
    response = request(
        "POST",
        "/2/media/upload",
        files={"media": (image.name, image.data, image.mime)},
        data={"media_category": "tweet_image"},
    )
    media = _data(checked(response))
    media_id = media.get("id")
    if not isinstance(media_id, str) or not media_id:
        raise RetryLater(f"X answered the upload of {image.name} without a media id")
    if image.alt.strip():
        body = {"id": media_id, "metadata": {"alt_text": {"text": image.alt}}}
        checked(request("POST", "/2/media/metadata", json=body))
    return media_id


def _data(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, Mapping) else None
    return data if isinstance(data, Mapping) else {}
