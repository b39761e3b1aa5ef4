"""Threads go out part by part: thread_parts records each part, marked before it is sent and filled after.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread_parts",
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("remote_id", sa.String(300)),
        sa.Column("cid", sa.String(300)),
        sa.Column("url", sa.Text),
        sa.Column("published_at", UTCDateTime),
    )


def downgrade() -> None:
    op.drop_table("thread_parts")
