"""The post a PUBLISHED container became, found among the account's own posts (or replies) by its text:
Threads does not name it on the container. Exactly one match settles the send; none, or more than one, is
InDoubt for a person to resolve, never a guess."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from scheduler.channels.base import Receipt
from scheduler.channels.meta.api import MetaApi, mapping
from scheduler.errors import InDoubt

_SKEW = timedelta(minutes=5)  # our clock is not Threads'
_PAGES = 4  # of 100 posts each


def by_text(api: MetaApi, text: str, since: datetime, *, reply: bool | None) -> Receipt | None:
    """The account's one post (or reply; `reply` None: either) with `text` since `since`; None when there is
    none; InDoubt when there are several, or the text is empty (nothing to tell posts apart by)."""
    wanted = _normal(text)
    if not wanted:
        raise InDoubt("a post without text cannot be told apart among the account's posts")
    edges = ["threads", "replies"] if reply is None else ["replies" if reply else "threads"]
    params = {"fields": "id,permalink,text,timestamp", "since": str(int((since - _SKEW).timestamp())), "limit": "100"}
    found: list[Receipt] = []
    for edge in edges:
        found += _matching(api, edge, params, wanted)
    if len(found) > 1:
        ids = ", ".join(str(r.remote_id) for r in found)
        raise InDoubt(f"the account has {len(found)} posts with this text ({ids}); keep one and resolve it")
    return found[0] if found else None


def _matching(api: MetaApi, edge: str, params: dict[str, str], wanted: str) -> list[Receipt]:
    found: list[Receipt] = []
    for _ in range(_PAGES):
        body = mapping(api.call("GET", f"/{api.user_id}/{edge}", params=params))
        data = body.get("data")
        for entry in data if isinstance(data, list) else []:
            post = mapping(entry)
            if post.get("id") and _normal(str(post.get("text") or "")) == wanted:
                link = post.get("permalink")
                found.append(Receipt(url=link if isinstance(link, str) else None, remote_id=str(post["id"])))
        paging = mapping(body.get("paging"))
        after = mapping(paging.get("cursors")).get("after")
        if not paging.get("next") or not isinstance(after, str):
            break
        params = {**params, "after": after}
    return found


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())
