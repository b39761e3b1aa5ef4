"""A video uploaded for a send is remembered (media_uploads), so a retry or a restart attaches the
upload the network still has instead of uploading it again.

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_uploads",
        sa.Column("channel", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("remote_id", sa.String(300), nullable=False),
        sa.Column("uploaded_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("media_uploads")
