"""Held sends alert once: deliveries.hold_alerted_at, and file_alerts (the broken settings files alerted).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("hold_alerted_at", UTCDateTime))
    op.create_table(
        "file_alerts",
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("file_alerts")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("hold_alerted_at")
