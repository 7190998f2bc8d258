"""The installation's own id, to tell its containers from another's.

Revision ID: 0003
Revises: 0002
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    table = op.create_table(
        "installation",
        sa.Column("id", sa.String(36), primary_key=True),
    )
    op.bulk_insert(table, [{"id": str(uuid.uuid4())}])


def downgrade() -> None:
    op.drop_table("installation")
