"""Fixtures for the engine adapters on the real engines of scripts/local-engines.sh.

Each fixture skips, with the reason, when its engine or source does not answer, so a
machine without the test environment runs the unit tests alone; under
scripts/test.sh, which starts the engines first, a missing engine fails instead.
"""

import os
import random
import secrets
import socket
import uuid
from collections.abc import Iterator

import docker
import pylxd
import pytest
import requests

from executors.engine import TaskMark

REGISTRY_URL = os.environ.get("CTSTATION_TEST_REGISTRY", "http://127.0.0.1:5000")
CATALOG_URL = os.environ.get(
    "CTSTATION_TEST_CATALOG", "http://127.0.0.1:8780/index.json"
)
DOCKER_URL = os.environ.get("CTSTATION_TEST_DOCKER", "unix:///var/run/docker.sock")


def engine_missing(reason: str) -> None:
    """Skip, or fail where scripts/test.sh promised the engines (CI)."""
    if os.environ.get("CTSTATION_TEST_REQUIRE_ENGINES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def unique_name(purpose: str) -> str:
    """A container name no other test run will use (LXD: a valid hostname too)."""
    return f"ctst-{purpose}-{secrets.token_hex(3)}"


def unique_task_id() -> int:
    return random.randrange(10**8, 10**9)


def unique_task(user: str = "alice", task_id: int | None = None) -> TaskMark:
    """A task mark no other test run will use; its uid is what engines match.

    ``task_id`` lets a test give two tasks the same id, as two installations
    sharing an engine do.
    """
    return TaskMark(
        unique_task_id() if task_id is None else task_id, str(uuid.uuid4()), user
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def task() -> TaskMark:
    return unique_task()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.DockerClient(base_url=DOCKER_URL, timeout=60)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        engine_missing(f"docker engine does not answer at {DOCKER_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry_url() -> str:
    try:
        requests.get(f"{REGISTRY_URL}/v2/", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        engine_missing(f"registry does not answer at {REGISTRY_URL}: {exc}")
    return REGISTRY_URL


@pytest.fixture(scope="session")
def lxd_client() -> pylxd.Client:
    try:
        client = pylxd.Client()
        client.api.get()
    except (pylxd.exceptions.ClientConnectionFailed, requests.RequestException) as exc:
        engine_missing(f"lxd does not answer on its unix socket: {exc}")
    return client


@pytest.fixture(scope="session")
def catalog_url() -> str:
    try:
        requests.get(CATALOG_URL, timeout=5).raise_for_status()
    except requests.RequestException as exc:
        engine_missing(f"app center catalog does not answer at {CATALOG_URL}: {exc}")
    return CATALOG_URL
