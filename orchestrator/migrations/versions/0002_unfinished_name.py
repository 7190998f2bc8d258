"""One unfinished task per container type and name.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_UNFINISHED = sa.text("state IN ('waiting', 'running')")


def upgrade() -> None:
    op.create_index(
        "tasks_unfinished_name",
        "tasks",
        ["type", "name"],
        unique=True,
        sqlite_where=_UNFINISHED,
        postgresql_where=_UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("tasks_unfinished_name", table_name="tasks")
