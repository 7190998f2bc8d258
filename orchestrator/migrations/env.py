"""Alembic environment: runs on the connection that ``orchestrator.schema`` hands it."""

from alembic import context

from orchestrator.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
