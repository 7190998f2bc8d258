"""Fixtures for tests against the real broker, databases and engines.

scripts/test.sh starts all of them first (scripts/local-engines.sh); a test run
without them fails here with the name of what is missing.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pylxd
import pytest
import sqlalchemy
from pylxd.exceptions import NotFound

from tests.integration.stack import Stack

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def unique_name(purpose: str) -> str:
    """A container name no other run uses, valid for LXD and Docker alike."""
    return f"ctst-{purpose}-{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=120)
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="session")
def lxd() -> pylxd.Client:
    return pylxd.Client()


def _run_stack(workdir: Path, database_url: str) -> Iterator[Stack]:
    stack = Stack(workdir=workdir, database_url=database_url)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """ctstation on SQLite, each service its own process, on RabbitMQ."""
    workdir = tmp_path_factory.mktemp("stack-sqlite")
    yield from _run_stack(workdir, f"sqlite:///{workdir}/ctstation.db")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped at the end."""
    name = f"ctstation_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_stack(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[Stack]:
    """The same stack on PostgreSQL."""
    yield from _run_stack(tmp_path_factory.mktemp("stack-pg"), postgres_url)


@pytest.fixture
def made(docker_engine: docker.DockerClient, lxd: pylxd.Client) -> Iterator[list]:
    """Names of containers a test made, removed afterwards whatever happened."""
    names: list[tuple[str, str]] = []
    yield names
    for kind, name in names:
        if kind == "docker":
            try:
                docker_engine.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        else:
            try:
                instance = lxd.instances.get(name)
                if instance.status != "Stopped":
                    instance.stop(force=True, wait=True)
                instance.delete(wait=True)
            except NotFound:
                pass
