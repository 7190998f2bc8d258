"""The SQL schema and how to connect to it.

The orchestrator is the only writer of tasks; the gateway reads them and manages
users. SQLite runs in WAL mode so that readers never block the writer.
"""

import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)


class Base(DeclarativeBase):
    pass


class Installation(Base):
    """One row: the id this installation labels its containers with."""

    __tablename__ = "installation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)


def installation_id(sessions: sessionmaker[Session]) -> str:
    with sessions() as session:
        return session.scalars(select(Installation.id)).one()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class Task(Base):
    """One create (later also clone) task, from request to its final state."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Two unfinished tasks may not make containers of one type and name.
        Index(
            "tasks_unfinished_name",
            "type",
            "name",
            unique=True,
            sqlite_where=text("state IN ('waiting', 'running')"),
            postgresql_where=text("state IN ('waiting', 'running')"),
        ),
        Index("tasks_user_idempotency_key", "user", "idempotency_key", unique=True),
        # Ids are never reused, even after a purge: users and scripts keep them.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The id of the requested event: a redelivered request finds its task by it.
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="create")
    type: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    image: Mapped[str] = mapped_column(String(512))
    tag: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    user: Mapped[str] = mapped_column(String(64), index=True)
    create_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    detail_state: Mapped[str] = mapped_column(String(1024))
    progress_current: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    result: Mapped[int | None] = mapped_column(Integer, nullable=True)
    init: Mapped[float] = mapped_column(Float)
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Last time an executor reported on this task; the sweeper aborts silent ones.
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    container: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    notes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # A repeat of a request with the same key and user answers this task.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Event(Base):
    """An event as published, kept so that a follower who was away misses nothing.

    ``id`` increases with every event; followers resume after the last they saw.
    """

    __tablename__ = "events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    user: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    time: Mapped[float] = mapped_column(Float, index=True)
    envelope: Mapped[str] = mapped_column(Text)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and their folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}
    )
    event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
