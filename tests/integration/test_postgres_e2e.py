"""The same pipeline with PostgreSQL as the task database."""

import pytest

from executors.engine import TASK_LABEL
from tests.integration.conftest import unique_name
from tests.integration.stack import Stack
from tests.integration.test_create_e2e import assert_completed, create_in_parallel

pytestmark = pytest.mark.integration


def test_docker_and_lxc_creates_complete_on_postgres(
    pg_stack: Stack,
    docker_engine,
    lxd,
    made,
) -> None:
    docker_name, lxc_name = unique_name("pgd"), unique_name("pgl")
    made.extend([("docker", docker_name), ("lxc", lxc_name)])

    docker_task = pg_stack.create(
        "local", "docker", {"name": docker_name, "image": "ctstation-local/box"}
    )
    lxc_task = pg_stack.create("local", "lxc", {"name": lxc_name, "image": "busybox"})

    assert_completed(docker_task)
    assert_completed(lxc_task)
    container = docker_engine.containers.get(docker_name)
    assert container.labels[TASK_LABEL] == str(docker_task["id"])
    assert lxd.instances.get(lxc_name).status == "Running"


def test_thirty_parallel_creates_on_postgres(pg_stack: Stack, made) -> None:
    create_in_parallel(pg_stack, made, 30)
