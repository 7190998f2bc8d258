"""Users, API tokens and tasks.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("user", sa.String(64), nullable=False, index=True),
        sa.Column("create_params", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("detail_state", sa.String(1024), nullable=False),
        sa.Column("progress_current", sa.BigInteger),
        sa.Column("progress_total", sa.BigInteger),
        sa.Column("result", sa.Integer),
        sa.Column("init", sa.Float, nullable=False),
        sa.Column("start", sa.Float),
        sa.Column("end", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("container", sa.JSON),
        sa.Column("error", sa.JSON),
        sa.Column("notes", sa.JSON),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("tasks")
    op.drop_table("api_tokens")
    op.drop_table("users")
