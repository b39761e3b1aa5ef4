"""Results: snapshots of public counts per (delivery, age), replies, and when replies were last read.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), primary_key=True),
        sa.Column("age_s", sa.Integer, primary_key=True),
        sa.Column("taken_at", UTCDateTime, nullable=False),
        sa.Column("likes", sa.Integer),
        sa.Column("reposts", sa.Integer),
        sa.Column("replies", sa.Integer),
        sa.Column("quotes", sa.Integer),
        sa.Column("views", sa.Integer),
        sa.Column("note", sa.String(200)),
    )
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("post", sa.String(300), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("network", sa.String(40), nullable=False),
        sa.Column("remote_id", sa.String(300), nullable=False),
        sa.Column("author", sa.String(300), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("found_at", UTCDateTime, nullable=False),
        sa.Column("watch", sa.String(200)),
        sa.Column("alerted_at", UTCDateTime),
        sa.Column("handled_at", UTCDateTime),
        sa.Column("handled_by", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("channel", "remote_id", name="uq_replies_channel_remote"),
    )
    op.create_index("ix_replies_delivery_id", "replies", ["delivery_id"])
    op.create_index("ix_replies_at", "replies", ["at"])
    op.create_table(
        "reply_polls",
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), primary_key=True),
        sa.Column("polled_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reply_polls")
    op.drop_index("ix_replies_at", "replies")
    op.drop_index("ix_replies_delivery_id", "replies")
    op.drop_table("replies")
    op.drop_table("snapshots")
