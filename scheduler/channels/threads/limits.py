"""The account's publishing limits, read before a send (Threads API, "Overview", Rate limiting: posts and
replies each have a quota over a moving 24-hour window, read with `GET /{user_id}/threads_publishing_limit`,
`fields=quota_usage,config` for posts and `reply_quota_usage,reply_config` for replies; `config` holds
`quota_total` and `quota_duration`). Never hard-coded: what the account may publish is what Threads says.

At the limit the send waits (RetryLater) until the window frees a place; Threads names no reset time for
a moving window, so it is looked at again in an hour, or sooner where the window itself is shorter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scheduler.channels.threads.api import LIMIT_LOOK_AGAIN, ThreadsApi, integer, mapping
from scheduler.errors import RetryLater

log = logging.getLogger("scheduler.channels.threads")


@dataclass(frozen=True)
class Quota:
    """What Threads says of one quota: how many were published in the window, of how many, over how long."""

    used: int
    total: int
    seconds: int | None

    @property
    def full(self) -> bool:
        return self.used >= self.total


def quota(api: ThreadsApi, *, reply: bool) -> Quota | None:
    """The posts' quota (or the replies', for a reply); None when Threads does not say."""
    usage, config = ("reply_quota_usage", "reply_config") if reply else ("quota_usage", "config")
    body = api.call("GET", f"/{api.user_id}/threads_publishing_limit", params={"fields": f"{usage},{config}"})
    data = mapping(body).get("data")
    entry = mapping(data[0]) if isinstance(data, list) and data else {}
    used, limits = integer(entry.get(usage)), mapping(entry.get(config))
    total = integer(limits.get("quota_total"))
    if used is None or total is None:
        return None
    return Quota(used, total, integer(limits.get("quota_duration")))


def wait_for_room(api: ThreadsApi, channel: str, *, reply: bool) -> None:
    """RetryLater while the account has used its quota of posts (or replies); nothing when there is room
    or Threads does not say (threads_publish then enforces the limit itself, as error 9/2207042)."""
    found = quota(api, reply=reply)
    if found is None or not found.full:
        return
    what = "replies" if reply else "posts"
    hours = f"{found.seconds / 3600:g} hours" if found.seconds else "its window"
    after = min(LIMIT_LOOK_AGAIN, float(found.seconds)) if found.seconds else LIMIT_LOOK_AGAIN
    log.info("threads: %s: %d of %d %s used", channel, found.used, found.total, what)
    raise RetryLater(
        f"the Threads account of channel {channel} published {found.used} of its {found.total} {what} in the last "
        f"{hours}; sent when the window frees a place (looked at again in {after / 60:g} minutes)",
        after,
    )
