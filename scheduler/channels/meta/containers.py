"""The container flow that Instagram and Threads share: a post is first a container (Meta fetches its media
from public URLs), then, once the container is FINISHED, published with its `creation_id`.

One send (`key`) goes through `Containers.publish`:
1. the account's publishing limit is read (never assumed): at the limit the send waits for the window;
2. the container this send made before is recalled from the ledger (scheduler.channels.uploads' memory,
   keyed by a digest of everything the container holds): PUBLISHED → the post is out, settled, never made
   again; FINISHED or IN_PROGRESS → that container goes on; EXPIRED (after 24 h) or gone → a new one;
3. a new container: every media URL is fetched first and must serve the exported bytes (served.verify);
   a carousel's items are made and waited for, then the carousel; **its id is committed to the ledger
   before anything is published**, and when it cannot be (the ledger is unreachable) nothing is;
4. its status is polled at Meta's pace (`GET /{id}?fields=status_code,status`; Threads: `status,error_message`):
   IN_PROGRESS waits, ERROR is a refusal with Meta's words (also when recalled), EXPIRED makes a new one;
5. the channel's pauses are asked again, then `POST {publish}` with `creation_id`: the only step that
   publishes, the only one that may be in doubt. The ledger then keeps the published post's id in place of
   the container's, so an answer lost after that is settled by `recall` without asking anyone.

`recall` settles an interrupted send (the adapter's `lookup`) from the same memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from scheduler.channels.base import PauseWatch, Receipt, UploadMemory
from scheduler.channels.images import fitted
from scheduler.channels.meta import served
from scheduler.channels.meta.api import MetaApi, PublishingLimit, mapping
from scheduler.errors import InDoubt, LedgerError, Rejected, RetryLater
from scheduler.media.public import PublicFile, of_file
from scheduler.posts import MediaItem, MediaRules

log = logging.getLogger(__name__)

DEFAULT_WAIT = 300.0  # seconds one attempt waits for a container (Meta: poll once a minute, at most 5 minutes)
_POLL_FIRST, _POLL_MAX = 0.5, 60.0
_CONTAINER, _PUBLISHED = "container:", "published:"
_LIMIT_MIN, _LIMIT_MAX = 60.0, 3600.0  # seconds between looks at a full publishing window


@dataclass(frozen=True)
class Media:
    """One file a container fetches: its public form, its URL, and how a person knows it (`what`)."""

    file: PublicFile
    url: str
    what: str  # "the image tip1.jpg": for messages, never sent


def media_of(item: MediaItem, rules: MediaRules, network: str, base: str | None) -> Media:
    """`item` as a container fetches it from the campaign's `media_url` (`base`): an image as its rendition for
    `rules` (no EXIF, no GPS), a video as its file. RetryLater while there is no media_url."""
    if base is None:
        raise RetryLater(
            f"{network} fetches a post's media from the campaign's public address, and channels.yml sets no "
            "media_url: set it, run `campaign media export DIR` and deploy DIR there"
        )
    try:
        file = of_file(item.path if item.is_video else fitted(item, rules, network).path)
    except OSError as exc:
        raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None
    kind = "video" if item.is_video else "image"
    return Media(file, file.url(base), f"the {kind} {item.path.name}")


@dataclass(frozen=True)
class Spec:
    """Everything one post's container holds: its form fields, the fields of each item of a carousel (made
    first; the adapter leaves `children` out of `fields`), and the media they fetch. `unhashed`: fields the
    post's container is made with that are not part of its digest (Threads' `reply_to_id`: a lookup, which
    does not know what the post replies to, must still recall the container)."""

    fields: tuple[tuple[str, str], ...]
    children: tuple[tuple[tuple[str, str], ...], ...] = ()
    media: tuple[Media, ...] = ()
    unhashed: tuple[tuple[str, str], ...] = ()

    def digest(self) -> str:
        """SHA-256 of the fields, the items and the media bytes: a changed text or photo is a new container.
        A URL counts as the bytes it serves, so a new `media_url` still recalls the container made before."""
        bytes_of = {m.url: m.file.sha256 for m in self.media}

        def same(fields: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
            return [(name, bytes_of.get(value, value)) for name, value in fields]

        described = {"fields": same(self.fields), "children": [same(child) for child in self.children]}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Endpoints:
    """Where a network takes containers: `create` (`/{user_id}/media`), `publish` (`/{user_id}/media_publish`),
    `limit` (`/{user_id}/content_publishing_limit`; None: not read) with its usage and config fields (Threads
    reads a reply's quota as `reply_quota_usage`, `reply_config`) and what it counts (`posts`, `replies`), and
    the fields a container's status is read with: Instagram says `status_code` (and words in `status`), Threads
    `status` (and `error_message`); the first field named is the code, the second the words."""

    create: str
    publish: str
    limit: str | None = None
    limit_fields: tuple[str, str] = ("quota_usage", "config")
    limit_counts: str = "posts"
    status_fields: tuple[str, str] = ("status_code", "status")


class Containers:
    """The container of one send (`key`) on one channel."""

    def __init__(
        self,
        api: MetaApi,
        endpoints: Endpoints,
        key: str,
        memory: UploadMemory | None,
        pauses: PauseWatch | None,
        *,
        wait: float = DEFAULT_WAIT,
        published: Callable[[str], Receipt],
        find: Callable[[str], Receipt],
    ) -> None:
        """`published(media_id)`: the receipt of a post Meta named (its permalink read); `find(container_id)`:
        the receipt of the post a PUBLISHED container became, where Meta did not say its id."""
        self.api, self.endpoints, self.key = api, endpoints, key
        self.memory, self.pauses, self.wait = memory, pauses, wait
        self._published, self._find = published, find
        self._fetch = served.verify

    # -- the flow ------------------------------------------------------------------------------------

    def publish(self, spec: Spec) -> Receipt:
        digest = spec.digest()
        known = self._recalled(digest)
        if known is not None and known.startswith(_PUBLISHED):
            return self._published(known.removeprefix(_PUBLISHED))
        container = known.removeprefix(_CONTAINER) if known is not None else None
        if container is not None:
            status, words = self.status(container)
            if status == "PUBLISHED":
                log.info("%s: container %s of this send is already published", self.api.channel, container)
                return self._settled(digest, container)
            if status == "ERROR":  # made from these very fields and bytes: a new one would fail the same way
                self._forget()
                raise self._refusal("the post", words)
            if status in ("EXPIRED", None):
                log.info("%s: container %s is %s; making a new one", self.api.channel, container, status or "gone")
                container = None
        self.check_limit()
        if container is None:
            container = self._create(spec)
            self._keep(digest, _CONTAINER + container)
        if self._until_finished(container, "the post", digest) == "PUBLISHED":
            return self._settled(digest, container)  # another attempt published it meanwhile
        self._unless_paused()
        answer = mapping(
            self.api.call("POST", self.endpoints.publish, may_publish=True, data=[("creation_id", container)])
        )
        media_id = str(answer.get("id") or "")
        if not media_id:
            raise InDoubt(f"{self.api.network} answered the publishing of container {container} without the post's id")
        self._mark(digest, media_id)
        log.info("%s: published container %s as %s", self.api.channel, container, media_id)
        return self._published(media_id)

    def recall(self, spec: Spec) -> Receipt | None:
        """The post this send made, settled from the ledger's memory: its receipt when published; None when
        nothing of it is out (no container kept, or one not yet published: the next send goes on with it)."""
        digest = spec.digest()
        known = self._recalled(digest)
        if known is None:
            return None  # a container is kept before any publishing: without one nothing was published
        if known.startswith(_PUBLISHED):
            return self._published(known.removeprefix(_PUBLISHED))
        container = known.removeprefix(_CONTAINER)
        status, _ = self.status(container)
        return self._settled(digest, container) if status == "PUBLISHED" else None

    def status(self, container: str) -> tuple[str | None, str]:
        """(status_code, status) of a container; (None, "") when Meta no longer has it."""
        code_field, words_field = self.endpoints.status_fields
        answer = self.api.call(
            "GET", f"/{quote(container, safe='')}", params={"fields": f"{code_field},{words_field}"}, gone_is_none=True
        )
        if answer is None:
            return None, ""
        body = mapping(answer)
        code = body.get(code_field)
        return (str(code) if code else None), str(body.get(words_field) or "")

    def check_limit(self) -> None:
        """PublishingLimit while the account's 24-hour window is full, as the network says."""
        if self.endpoints.limit is None:
            return
        usage_field, config_field = self.endpoints.limit_fields
        body = self.api.call("GET", self.endpoints.limit, params={"fields": f"{usage_field},{config_field}"})
        data = mapping(body).get("data")
        entry = mapping(data[0]) if isinstance(data, list) and data else {}
        config = mapping(entry.get(config_field))
        used, total = _number(entry.get(usage_field)), _number(config.get("quota_total"))
        if used is None or total is None or used < total:
            return
        seconds = _number(config.get("quota_duration")) or 86400.0
        after = min(_LIMIT_MAX, max(_LIMIT_MIN, seconds / max(total, 1.0)))
        counts = self.endpoints.limit_counts
        raise PublishingLimit(
            f"{self.api.network} account {self.api.user_id} published {used:g} of the {total:g} {counts} it may in "
            f"{seconds / 3600:g} hours; the post waits until the window frees (looked at again in {after / 60:.0f} "
            "minutes)",
            after,
        )

    # -- steps -----------------------------------------------------------------------------------------

    def _create(self, spec: Spec) -> str:
        for item in spec.media:  # before anything exists on the network
            self._fetch(self.api.session, item.file, item.url, item.what)
        fields = list(spec.fields)
        if spec.children:
            made = [self._container(list(child)) for child in spec.children]
            for number, child in enumerate(made, 1):
                self._until_finished(child, f"item {number} of the carousel", None)
            fields.append(("children", ",".join(made)))
        return self._container([*fields, *spec.unhashed])

    def _container(self, fields: list[tuple[str, str]]) -> str:
        # Making a container publishes nothing; a lost answer leaves one that expires unused.
        body = mapping(self.api.call("POST", self.endpoints.create, data=fields, may_publish=False))
        made = str(body.get("id") or "")
        if not made:
            raise RetryLater(f"{self.api.network} answered the making of a container without its id")
        return made

    def _until_finished(self, container: str, what: str, digest: str | None) -> str:
        """FINISHED (or PUBLISHED) once Meta says so; `digest`: the send's own container, forgotten when it
        cannot be published (a carousel's items are not kept)."""
        deadline = time.monotonic() + self.wait
        delay = _POLL_FIRST
        while True:
            status, words = self.status(container)
            if status in ("FINISHED", "PUBLISHED"):
                return status
            if status in ("ERROR", "EXPIRED", None):
                if digest is not None:
                    self._forget()
                if status == "ERROR":
                    raise self._refusal(what, words)
                gone = status or "gone"
                raise RetryLater(f"container {container} for {what} is {gone}; the next attempt makes another")
            if time.monotonic() + delay > deadline:
                raise RetryLater(
                    f"{self.api.network} is still preparing {what} after {self.wait:g} s; the next attempt waits on"
                )
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _refusal(self, what: str, words: str) -> Rejected:
        return Rejected(
            f"{self.api.network} could not make {what} ({words or 'ERROR'}): check its text and files against "
            "its limits (docs/writing-posts.md), then `campaign retry`"
        )

    def _unless_paused(self) -> None:
        """The publisher checked the pause before the containers were made, which can take minutes."""
        if self.pauses is None:
            return
        try:
            why = self.pauses.paused(self.api.channel)
        except LedgerError as exc:
            raise RetryLater(f"cannot see whether {self.api.channel} is paused ({exc}); nothing is published") from None
        if why is not None:
            raise RetryLater(f"{why}; the post is prepared and published once the pause is lifted")

    def _settled(self, digest: str, container: str) -> Receipt:
        receipt = self._find(container)
        if receipt.remote_id:
            self._mark(digest, receipt.remote_id)
        return receipt

    # -- the ledger's memory -------------------------------------------------------------------------

    def _recalled(self, digest: str) -> str | None:
        if self.memory is None:
            return None
        try:
            found = self.memory.recall(self.api.channel, self.key, digest)
        except LedgerError as exc:
            # Without it, a container of an earlier attempt may be FINISHED or PUBLISHED: a new one could be a
            # second post. Nothing happens until the ledger answers.
            raise RetryLater(f"cannot read this send's container in the ledger ({exc}); nothing is published") from None
        return None if found is None else found[0]

    def _keep(self, digest: str, value: str) -> None:
        if self.memory is None:
            return
        try:
            self.memory.keep(self.api.channel, self.key, digest, value)
        except LedgerError as exc:
            raise RetryLater(
                f"cannot keep container {value.removeprefix(_CONTAINER)} in the ledger ({exc}); it is not published "
                "(a later attempt makes a new one: this one expires unused)"
            ) from None

    def _mark(self, digest: str, media_id: str) -> None:
        """Keep the published post's id in place of the container's: a lost answer to the ledger's write of the
        outcome is then settled by `recall` (the ledger drops the row after two days)."""
        if self.memory is None:
            return
        try:
            self.memory.keep(self.api.channel, self.key, digest, _PUBLISHED + media_id)
        except LedgerError as exc:
            log.warning("%s: cannot note published post %s in the ledger (%s)", self.api.channel, media_id, exc)

    def _forget(self) -> None:
        if self.memory is None:
            return
        try:
            self.memory.forget(self.api.channel, self.key)
        except LedgerError as exc:
            log.warning("%s: cannot forget this send's container (%s)", self.api.channel, exc)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
