"""What people did by hand: pause, resume, retry, resolve (who, on which host, when, why).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("post", sa.String(300)),
        sa.Column("channel", sa.String(100)),
        sa.Column("reason", sa.Text),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_actions_post", "actions", ["post"])


def downgrade() -> None:
    op.drop_index("ix_actions_post", "actions")
    op.drop_table("actions")
