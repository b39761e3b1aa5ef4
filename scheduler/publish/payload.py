"""The one codec of a send's payload: the rendered post as the ledger keeps it (JSON), and back.

The JSON is canonical (sorted keys), so the same post always gives the same text and version.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scheduler.posts import Caption, LinkCard, MediaItem, RenderedPost, VideoFacts

EMPTY = "{}"  # the payload of a send that could not be rendered (it is held)


def encode(post: RenderedPost) -> str:
    """What the ledger stores of `post` (its post and channel are columns of their own)."""
    card = None if post.card is None else {"title": post.card.title, "description": post.card.description}
    return json.dumps(
        {
            "text": post.text,
            "media": [_media(m) for m in post.media],
            "language": post.language,
            "card": card,
            "title": post.title,
            **({"parts": list(post.parts)} if post.parts else {}),  # absent for one post: its version stays
            **({"link_check": post.link_check} if post.link_check != "hold" else {}),  # absent: the default
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def decode(payload: str, post: str, channel: str) -> RenderedPost:
    """The rendered post of `post` on `channel` that `encode` stored as `payload`."""
    data: dict[str, Any] = json.loads(payload)
    card = data.get("card")
    return RenderedPost(
        post=post,
        channel=channel,
        text=data["text"],
        media=tuple(_item(m) for m in data.get("media", [])),
        language=data.get("language", "nl"),
        card=LinkCard(title=card.get("title"), description=card.get("description")) if card else None,
        title=data.get("title"),
        parts=tuple(data.get("parts", ())),
        link_check=data.get("link_check", "hold"),
    )


def _media(item: MediaItem) -> dict[str, Any]:
    """An image as it always was ({path, alt}: its version stays); a video with its captions and facts."""
    found: dict[str, Any] = {"path": str(item.path), "alt": item.alt}
    if item.is_video:
        found["kind"] = "video"
        found["captions"] = [{"language": c.language, "path": str(c.path)} for c in item.captions]
        if item.no_captions is not None:
            found["no_captions"] = item.no_captions
        if item.video is not None:
            found["video"] = asdict(item.video)
    return found


def _item(data: dict[str, Any]) -> MediaItem:
    facts = data.get("video")
    return MediaItem(
        Path(data["path"]),
        data["alt"],
        data.get("kind", "image"),
        tuple(Caption(c["language"], Path(c["path"])) for c in data.get("captions", ())),
        data.get("no_captions"),
        VideoFacts(**facts) if isinstance(facts, dict) else None,
    )
