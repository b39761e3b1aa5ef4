"""Sign-off: who must approve a post (a column of its deliveries), the links asked, and the decisions.

Revision ID: 0013
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from scheduler.publish.ledger import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("signoff", sa.Text))
    op.create_table(
        "signoff_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("post", sa.String(300), nullable=False),
        sa.Column("person", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("made_at", UTCDateTime, nullable=False),
        sa.Column("made_by", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_signoff_requests_post", "signoff_requests", ["post"])
    op.create_table(
        "signoff_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("signoff_requests.id"), nullable=False),
        sa.Column("post", sa.String(300), nullable=False),
        sa.Column("person", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("seen", sa.Text),
    )
    op.create_index("ix_signoff_decisions_request_id", "signoff_decisions", ["request_id"])
    op.create_index("ix_signoff_decisions_post", "signoff_decisions", ["post"])


def downgrade() -> None:
    op.drop_table("signoff_decisions")
    op.drop_table("signoff_requests")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("signoff")
