"""The dashboard's logins: the login throttle's counters and the sessions (shared by every `serve`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_login_attempts_started_at", "login_attempts", ["started_at"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_expires_at", "web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_login_attempts_started_at", "login_attempts")
    op.drop_table("login_attempts")
