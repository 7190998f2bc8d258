"""The event log for replay, and idempotency keys of requests.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("task_id", sa.Integer, index=True),
        sa.Column("user", sa.String(64), index=True),
        sa.Column("time", sa.Float, nullable=False, index=True),
        sa.Column("envelope", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255)))
        batch.create_index(
            "tasks_user_idempotency_key", ["user", "idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("tasks_user_idempotency_key")
        batch.drop_column("idempotency_key")
    op.drop_table("events")
