"""Media uploaded for a send and not yet attached to a post: kept so that a retry or a restart
attaches the upload the network still holds instead of uploading the file again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from scheduler.publish.store.db import Database
from scheduler.publish.store.schema import media_uploads

#: Rows older than this are of no use to anyone (networks drop unattached media within a day).
FORGET_AFTER = timedelta(days=2)


class Uploads:
    """The ledger's memory of uploads (scheduler.channels.base.UploadMemory)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def recall(self, channel: str, key: str, digest: str) -> tuple[str, datetime] | None:
        """The media id and upload time of the file with `digest` uploaded for send `key` on `channel`."""
        with self.db.tx() as conn:
            row = conn.execute(
                select(media_uploads.c.remote_id, media_uploads.c.uploaded_at).where(
                    media_uploads.c.channel == channel, media_uploads.c.key == key, media_uploads.c.digest == digest
                )
            ).first()
        return None if row is None else (row.remote_id, row.uploaded_at)

    def keep(self, channel: str, key: str, digest: str, remote_id: str) -> None:
        """Remember an upload as soon as the network gave its id (before it is processed or attached)."""
        now = self.db.clock()
        with self.db.tx() as conn:
            conn.execute(delete(media_uploads).where(media_uploads.c.uploaded_at < now - FORGET_AFTER))
            conn.execute(
                delete(media_uploads).where(
                    media_uploads.c.channel == channel, media_uploads.c.key == key, media_uploads.c.digest == digest
                )
            )
            conn.execute(
                media_uploads.insert().values(
                    channel=channel, key=key, digest=digest, remote_id=remote_id, uploaded_at=now
                )
            )

    def forget(self, channel: str, key: str) -> None:
        """Every upload of send `key` on `channel`: attached to its post, or refused by the network."""
        with self.db.tx() as conn:
            conn.execute(delete(media_uploads).where(media_uploads.c.channel == channel, media_uploads.c.key == key))
