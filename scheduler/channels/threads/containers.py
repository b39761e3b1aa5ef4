"""The container flow of one send on Threads (Threads API, "Posts" and "Troubleshooting"), kept in the
ledger so that a retry or a restart publishes the container it made, or finds it published, and never
makes a second post:

1. create: `POST /{user_id}/threads` (media_type TEXT, IMAGE, VIDEO or CAROUSEL with `children`, text,
   image_url or video_url, alt_text, reply_to_id) gives the container's id;
2. keep: the id is committed to the ledger (Channel.uploads, keyed by a digest of the container's content)
   before anything is published; if it cannot be kept, nothing is published (RetryLater);
3. wait: `GET /{container_id}?fields=status,error_message` until FINISHED, at the network's pace (the
   documentation suggests once a minute, for at most five minutes: the first looks come sooner, then once a
   minute, until `media_timeout`); ERROR is a refusal with Threads' error_message; EXPIRED (not published
   within 24 hours) makes a new container;
4. ask the channel's pauses again, then `POST /{user_id}/threads_publish?creation_id=`: the only step that
   publishes, and the only one that may be in doubt.

A retry or restart recalls the kept container: PUBLISHED is settled to that post (its id and permalink,
found among the account's own posts or replies since the container was kept), FINISHED is published,
IN_PROGRESS is waited for, EXPIRED is made anew. The kept id is not forgotten once published: a restart
before the daemon recorded the post must still find it (the ledger drops rows after two days).

(The shared Meta core, scheduler/channels/meta/, has the same flow for Instagram; this module is meant to be
moved onto it.)
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from scheduler.channels.base import PauseWatch, Receipt, UploadMemory
from scheduler.channels.threads.api import ThreadsApi, mapping
from scheduler.errors import InDoubt, LedgerError, Rejected, RetryLater

log = logging.getLogger("scheduler.channels.threads")

DEFAULT_WAIT = 300.0  # seconds one attempt waits while Threads processes a container (`media_timeout`)
KEPT_FOR = timedelta(days=2)  # a container is EXPIRED after 24 h; its status says so, so older rows still count
_PREFIX = "container:"
_POLL_FIRST, _POLL_MAX = 1.0, 60.0
_SKEW = timedelta(minutes=5)  # our clock is not Threads'
_FIND_PAGES = 4  # of 100 posts each, when settling a published container


@dataclass(frozen=True)
class Content:
    """What one container is made of. `make` creates it (and any carousel items) and returns its id;
    `digest` names the content (text and each file's bytes and alt text), so a changed post is a new one."""

    text: str
    digest: str
    make: Callable[[], str]
    reply: bool | None = False  # None: not known (a lookup), so both the posts and the replies are searched


def digest_of(text: str, media_digests: Sequence[str]) -> str:
    sha = hashlib.sha256(text.encode("utf-8"))
    for part in media_digests:
        sha.update(b"\0" + part.encode("ascii"))
    return sha.hexdigest()


class SendContainer:
    """The container of one send (`key`) on one account."""

    def __init__(
        self,
        api: ThreadsApi,
        channel: str,
        key: str,
        memory: UploadMemory | None,
        pauses: PauseWatch | None,
        wait: float = DEFAULT_WAIT,
        before_publish: Callable[[], None] | None = None,
    ) -> None:
        self._api, self._channel, self._key = api, channel, key
        self._memory, self._pauses, self._wait = memory, pauses, wait
        self._before_publish = before_publish or (lambda: None)

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, content: Content) -> Receipt:
        kept = self.kept(content.digest)
        container: str | None = None
        if kept is not None:
            container, kept_at = kept
            state, said = self.status(container)
            if state == "PUBLISHED":
                log.info("threads: %s: container %s was published by an earlier attempt", self._channel, container)
                return self.settled(container, content, kept_at)
            if state == "ERROR":
                self._forget()
                raise Rejected(f"Threads could not make this post ({said or 'no reason given'})")
            if state in ("EXPIRED", None):
                log.info("threads: %s: container %s is %s; making a new one", self._channel, container, state)
                container = None
        self._before_publish()  # the publishing limit: no container is made, or published, over it
        if container is None:
            container = content.make()
            self._keep(content.digest, container)
        self.until_finished(container)
        self._unless_paused()
        body = self._api.call(
            "POST", f"/{self._api.user_id}/threads_publish", may_publish=True, data=[("creation_id", container)]
        )
        media_id = str(mapping(body).get("id") or "")
        if not media_id:
            raise InDoubt(f"Threads answered the publishing of container {container} without the post's id")
        log.info("threads: published on %s as %s (container %s)", self._channel, media_id, container)
        return Receipt(url=self.permalink(media_id), remote_id=media_id)

    def lookup(self, content: Content, since: datetime) -> Receipt | None:
        """The post an interrupted send published, from its kept container; None when certainly nothing
        is out (the next attempt continues with the container); InDoubt when that cannot be told."""
        kept = self.kept(content.digest)
        if kept is None:
            if self._memory is None:
                found = self._find(content, since)
                if found is None:
                    raise InDoubt("no container of this send is known, and no post with its text was found")
                return found
            # Nothing kept: never published (a container is kept before it is), unless its row was dropped.
            return self._find(content, since) if _normal(content.text) else None
        container, kept_at = kept
        state, _ = self.status(container)
        if state == "PUBLISHED":
            return self.settled(container, content, kept_at)
        if state is None:
            raise InDoubt(f"Threads no longer knows container {container} of this send")
        return None

    # -- the ledger ----------------------------------------------------------------------------

    def kept(self, digest: str) -> tuple[str, datetime] | None:
        """The container an earlier attempt of this send made for this content, and when it was kept."""
        if self._memory is None:
            return None
        try:
            found = self._memory.recall(self._channel, self._key, digest)
        except LedgerError as exc:
            # Unknown is not "none": a new container could make a second post.
            raise RetryLater(f"cannot read the Threads container kept for this send ({exc})") from None
        if found is None or not found[0].startswith(_PREFIX):
            return None
        remote, at = found
        if datetime.now(UTC) - _aware(at) > KEPT_FOR:
            return None
        return remote.removeprefix(_PREFIX), _aware(at)

    def _keep(self, digest: str, container: str) -> None:
        if self._memory is None:
            return
        try:
            self._memory.keep(self._channel, self._key, digest, _PREFIX + container)
        except LedgerError as exc:
            raise RetryLater(
                f"cannot keep Threads container {container} in the ledger ({exc}), so it is not published; "
                "the next attempt makes a new one"
            ) from None

    def _forget(self) -> None:
        if self._memory is None:
            return
        try:
            self._memory.forget(self._channel, self._key)
        except LedgerError as exc:
            log.warning("threads: %s: cannot forget a refused container (%s)", self._channel, exc)

    # -- Threads -------------------------------------------------------------------------------

    def status(self, container: str) -> tuple[str | None, str | None]:
        """The container's status and error message; (None, None) when Threads no longer has it."""
        body = self._api.call(
            "GET", f"/{quote(container, safe='')}", params={"fields": "status,error_message"}, gone_is_none=True
        )
        if body is None:
            return None, None
        found = mapping(body)
        return str(found.get("status") or "") or None, str(found.get("error_message") or "") or None

    def until_finished(self, container: str) -> None:
        deadline = time.monotonic() + self._wait
        delay = _POLL_FIRST
        while True:
            state, said = self.status(container)
            if state == "FINISHED":
                return
            if state == "ERROR":
                self._forget()  # a retry after a fix makes a new container
                raise Rejected(f"Threads could not make this post ({said or 'no reason given'})")
            if state == "PUBLISHED":
                raise InDoubt(f"Threads container {container} is already published")
            if state in ("EXPIRED", None):
                raise RetryLater(
                    f"Threads container {container} expired before it was ready; the next attempt makes a new one"
                )
            if time.monotonic() + delay > deadline:
                raise RetryLater(
                    f"Threads is still processing container {container} after {self._wait:g} s; the next attempt "
                    "waits on"
                )
            log.debug("threads: %s: container %s is %s", self._channel, container, state)
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _unless_paused(self) -> None:
        """The publisher checked the pause before the container was made, which can take long: asked again."""
        if self._pauses is None:
            return
        try:
            why = self._pauses.paused(self._channel)
        except LedgerError as exc:
            raise RetryLater(f"cannot see whether {self._channel} is paused ({exc}); nothing is published") from None
        if why is not None:
            raise RetryLater(f"{why}; the Threads container is ready and stays unpublished until the pause is lifted")

    def permalink(self, media_id: str) -> str | None:
        """The post's public URL; None when Threads does not say now (the post is out all the same)."""
        try:
            body = self._api.call("GET", f"/{quote(media_id, safe='')}", params={"fields": "permalink"})
        except (RetryLater, Rejected) as exc:
            log.warning("threads: %s: post %s is out, its link unknown (%s)", self._channel, media_id, exc.reason)
            return None
        link = mapping(body).get("permalink")
        return link if isinstance(link, str) and link else None

    def settled(self, container: str, content: Content, kept_at: datetime) -> Receipt:
        """The post a PUBLISHED container became: the account's post (or reply) with its text since it was kept."""
        found = self._find(content, kept_at)
        if found is None:
            raise InDoubt(
                f"Threads says container {container} is published, but no post with its text was found among the "
                "account's posts; look on Threads and resolve it"
            )
        return found

    def _find(self, content: Content, since: datetime) -> Receipt | None:
        wanted = _normal(content.text)
        if not wanted:
            raise InDoubt("a post without text cannot be told apart among the account's posts")
        edges = ["threads", "replies"] if content.reply is None else ["replies" if content.reply else "threads"]
        params = {
            "fields": "id,permalink,text,timestamp",
            "since": str(int((since - _SKEW).timestamp())),
            "limit": "100",
        }
        found: list[Receipt] = []
        for edge in edges:
            found += self._matching(edge, params, wanted)
        if len(found) > 1:
            ids = ", ".join(str(r.remote_id) for r in found)
            raise InDoubt(f"the account has {len(found)} posts with this text ({ids}); keep one and resolve it")
        return found[0] if found else None

    def _matching(self, edge: str, params: dict[str, str], wanted: str) -> list[Receipt]:
        """The account's posts (or replies) on `edge` since `params["since"]` whose text is `wanted`."""
        found: list[Receipt] = []
        for _ in range(_FIND_PAGES):
            body = mapping(self._api.call("GET", f"/{self._api.user_id}/{edge}", params=params))
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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
