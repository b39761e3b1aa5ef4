"""A watch-list alert names its reply (so purging the reply purges the alert), and the alerts
recorded before lose the reply's link, which held its author's handle.

Revision ID: 0010
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

REDACTED = (
    "a reply matched the watch list (this alert's link to it was removed: it named the reply's author); "
    "`campaign replies --unhandled` lists the replies kept"
)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("reply_id", sa.Integer))
    alerts = sa.table("alerts", sa.column("kind", sa.String), sa.column("message", sa.Text))
    op.execute(alerts.update().where(alerts.c.kind == "reply").values(message=REDACTED))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("reply_id")
