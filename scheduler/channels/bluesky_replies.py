"""The replies in a Bluesky thread view (app.bsky.feed.getPostThread), as the results collector reads them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scheduler.channels.base import Reply


def walk_replies(nodes: Any, mine: str, found: list[Reply]) -> None:
    """The replies in a thread view, at every depth, leaving out the account's own (and blocked or
    deleted ones, which the AppView gives without a post)."""
    for node in nodes if isinstance(nodes, list) else []:
        post = node.get("post") if isinstance(node, Mapping) else None
        if not isinstance(post, Mapping) or not isinstance(post.get("uri"), str):
            continue
        author: Mapping[str, Any] = _mapping(post.get("author"))
        if author.get("did") != mine:
            record: Mapping[str, Any] = _mapping(post.get("record"))
            handle = str(author.get("handle") or author.get("did") or "?")
            found.append(
                Reply(
                    remote_id=post["uri"],
                    author="@" + handle,
                    at=_when(record.get("createdAt") or post.get("indexedAt")),
                    text=str(record.get("text") or ""),
                    url=f"https://bsky.app/profile/{handle}/post/{post['uri'].rsplit('/', 1)[-1]}",
                )
            )
        walk_replies(node.get("replies"), mine, found)


def _when(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
