"""Uploads reused across attempts: an adapter that uploads a file in steps (upload, wait while the
network processes it, then post) remembers the network's media id for its send, so that a retry or
a restart attaches the upload the network still holds instead of uploading the file again.

The memory is the ledger's (`Channel.uploads`, set by the publisher); without it (a test, `check`)
every attempt uploads. The ledger being unreachable never stops a send: the upload is then not
remembered, and a later attempt uploads again (an unattached upload expires on the network)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from scheduler.channels.base import UploadMemory
from scheduler.errors import LedgerError
from scheduler.posts import MediaItem

log = logging.getLogger(__name__)


def digest(item: MediaItem) -> str:
    """SHA-256 of the file's bytes and its alt text: a changed file or description is a new upload."""
    sha = hashlib.sha256()
    with item.path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    sha.update(b"\0" + item.alt.encode("utf-8"))
    return sha.hexdigest()


class SendUploads:
    """The uploads of one send (`key`) on one channel."""

    def __init__(self, memory: UploadMemory | None, channel: str, key: str, valid_for: timedelta) -> None:
        self.memory, self.channel, self.key, self.valid_for = memory, channel, key, valid_for

    def recall(self, item: MediaItem, digest_of_item: str) -> str | None:
        """The media id an earlier attempt uploaded for `item`, if it is young enough to still be there."""
        if self.memory is None:
            return None
        try:
            found = self.memory.recall(self.channel, self.key, digest_of_item)
        except LedgerError as exc:
            log.warning("%s: cannot read the uploads kept for this send (%s); uploading again", self.channel, exc)
            return None
        if found is None:
            return None
        remote_id, uploaded_at = found
        if datetime.now(UTC) - uploaded_at > self.valid_for:
            return None
        return remote_id

    def keep(self, digest_of_item: str, remote_id: str) -> None:
        if self.memory is None:
            return
        try:
            self.memory.keep(self.channel, self.key, digest_of_item, remote_id)
        except LedgerError as exc:
            log.warning("%s: cannot keep upload %s for a retry (%s)", self.channel, remote_id, exc)

    def forget(self) -> None:
        """The send's uploads are attached to its post, or refused: no attempt may reuse them."""
        if self.memory is None:
            return
        try:
            self.memory.forget(self.channel, self.key)
        except LedgerError as exc:
            log.warning("%s: cannot forget the uploads of a finished send (%s)", self.channel, exc)
