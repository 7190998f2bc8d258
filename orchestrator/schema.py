"""Bringing a database to the current schema with Alembic."""

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine


def upgrade_schema(engine: Engine) -> None:
    """Apply every migration the database lacks; a current database is left as is."""
    config = Config()
    config.set_main_option("script_location", str(files("orchestrator") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
