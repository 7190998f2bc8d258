"""DockerEngine's container API and clones against the real dockerd.

The module's sources are made once and only read by the tests; a test that
changes a container's state makes its own.
"""

import socket
from collections.abc import Iterator
from datetime import datetime

import docker
import docker.errors
import pytest

from contract.params import CreateParams, PortMapping
from executors.docker.clone import clone_image
from executors.docker.engine import DockerEngine
from executors.engine import (
    OWNER_LABEL,
    TASK_LABEL,
    TASK_UID_LABEL,
    ContainerRef,
    CreatedContainer,
    TaskMark,
)
from executors.errors import ContainerNotFoundError, NameTakenError
from tests.integration.executors.conftest import free_port, unique_name, unique_task

pytestmark = pytest.mark.integration

IMAGE = "ctstation-local/box:latest"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def engine(docker_client: docker.DockerClient) -> DockerEngine:
    # The container API never asks the registry.
    return DockerEngine(docker_client, "http://127.0.0.1:5000")


@pytest.fixture(scope="module")
def volume(docker_client: docker.DockerClient) -> Iterator[str]:
    name = unique_name("vol")
    yield name
    # Removed last: the module's containers, which share it, are gone by then.
    docker_client.volumes.get(name).remove(force=True)


@pytest.fixture(scope="module")
def source_task() -> TaskMark:
    return unique_task()


@pytest.fixture(scope="module")
def source(
    engine: DockerEngine, source_task: TaskMark, volume: str
) -> Iterator[ContainerRef]:
    """Ours, running, with every param a clone copies and a port Docker chose."""
    params = CreateParams(
        cpu=0.5,
        memory="64MiB",
        env={"GREETING": "hi"},
        ports=[{"container": 80, "host_ip": "127.0.0.1"}],
        volumes=[{"source": volume, "target": "/data"}],
        hostname="srchost",
        labels={"team": "qa"},
        autostart=True,
    )
    ref = engine.create(source_task, unique_name("src"), IMAGE, params)
    try:
        engine.start(ref)
        yield ref
    finally:
        engine.remove(ref)


@pytest.fixture(scope="module")
def foreign(docker_client: docker.DockerClient) -> Iterator[ContainerRef]:
    """Not ours, never started, with a host port of its own."""
    container = docker_client.containers.create(
        IMAGE,
        name=unique_name("foreign"),
        labels={"team": "ops"},
        environment={"ROLE": "foreign"},
        ports={"80/tcp": ("127.0.0.1", free_port())},
    )
    try:
        yield ContainerRef("docker", container.name, container.id)
    finally:
        container.remove(force=True)


@pytest.fixture
def made(
    engine: DockerEngine, docker_client: docker.DockerClient
) -> Iterator[list[ContainerRef]]:
    """Containers a test made, and their clone images; removed afterwards."""
    refs: list[ContainerRef] = []
    yield refs
    for ref in refs:
        engine.remove(ref)
    for image in docker_client.images.list(filters={"reference": "ctstation-clone/*"}):
        if any(ref.name in tag for ref in refs for tag in image.tags):
            docker_client.images.remove(image.id, force=True)


def clone(
    engine: DockerEngine,
    made: list[ContainerRef],
    source: ContainerRef,
    ports: list[PortMapping] | None = None,
    task: TaskMark | None = None,
) -> CreatedContainer:
    name = unique_name("clone")
    made.append(ContainerRef("docker", name, name))
    return engine.clone(task or unique_task("bob"), source, name, ports)


def test_list_shows_ours_with_task_fields_and_a_foreign_one_without(
    engine: DockerEngine,
    source: ContainerRef,
    foreign: ContainerRef,
    source_task: TaskMark,
) -> None:
    listed = {details.ref.name: details for details in engine.list_containers()}

    ours, theirs = listed[source.name], listed[foreign.name]
    assert ours.ref == ContainerRef("docker", source.name, source.id, source_task.id)
    assert (ours.task_id, ours.task_uid, ours.owner) == (
        source_task.id,
        source_task.uid,
        "alice",
    )
    assert ours.state == "running"
    assert (theirs.task_id, theirs.task_uid, theirs.owner) == (None, None, None)
    assert theirs.state == "created"
    assert theirs.config["labels"] == {"team": "ops", "org.ctstation.test": "busybox"}


def test_find_by_name_and_by_id_prefix_shows_the_configuration(
    engine: DockerEngine, source: ContainerRef, volume: str
) -> None:
    by_name = engine.find_container(source.name)
    by_prefix = engine.find_container(source.id[:12])

    assert by_name == by_prefix
    assert by_name.image == IMAGE
    assert datetime.fromisoformat(str(by_name.created)[:26])
    assert by_name.addresses and all(a.count(".") == 3 for a in by_name.addresses)
    [port] = by_name.ports
    assert (port["container"], port["host_ip"]) == (80, "127.0.0.1")
    assert isinstance(port["host"], int)
    config = by_name.config
    assert config["env"] == {"GREETING": "hi", "TESTBOX": "1"}
    assert config["labels"] == {"team": "qa", "org.ctstation.test": "busybox"}
    assert (config["cpu"], config["memory"]) == (0.5, 64 * MiB)
    assert (config["autostart"], config["hostname"]) == (True, "srchost")
    assert config["volumes"] == [
        {"source": volume, "target": "/data", "read_only": False}
    ]
    assert config["privileged"] is False
    assert config["network"] is None


def test_a_missing_container_is_not_found_by_name_or_id(engine: DockerEngine) -> None:
    with pytest.raises(ContainerNotFoundError, match="ctst-no-such"):
        engine.find_container("ctst-no-such")
    with pytest.raises(ContainerNotFoundError, match="0000000000ff"):
        engine.find_container("0000000000ff")


def test_stop_start_and_restart_change_the_state(
    engine: DockerEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    ref = engine.create(task, unique_name("state"), IMAGE, CreateParams())
    made.append(ref)

    engine.restart(ref, timeout=5)
    assert engine.find_container(ref.id).state == "running"
    engine.stop(ref, timeout=5)
    assert engine.find_container(ref.id).state == "exited"
    engine.stop(ref, timeout=5)
    engine.start(ref)
    started = docker_started_at(engine, ref)
    engine.restart(ref, timeout=5)

    assert engine.find_container(ref.id).state == "running"
    assert docker_started_at(engine, ref) > started


def docker_started_at(engine: DockerEngine, ref: ContainerRef) -> str:
    return str(engine._client.api.inspect_container(ref.id)["State"]["StartedAt"])


def test_clone_of_a_running_source_copies_its_configuration_not_its_ports(
    engine: DockerEngine,
    made: list[ContainerRef],
    docker_client: docker.DockerClient,
    source: ContainerRef,
    volume: str,
) -> None:
    task = unique_task("bob")
    bound = engine.describe(source).ports[0]["host"]

    created = clone(engine, made, source, task=task)

    assert created.state == "created"
    assert created.ports == []
    assert f"80/tcp->127.0.0.1:{bound}" in created.notes[0]
    assert f"volumes shared with {source.name}: {volume}->/data" in created.notes
    assert engine.describe(source).state == "running"
    copy = engine.find_container(created.ref.id)
    original = engine.find_container(source.id)
    assert (copy.task_id, copy.task_uid, copy.owner) == (task.id, task.uid, "bob")
    for key in ("env", "labels", "cpu", "memory", "autostart", "hostname"):
        assert copy.config[key] == original.config[key], key
    assert copy.config["volumes"] == original.config["volumes"]
    repository, tag = clone_image(created.ref.name, task)
    assert copy.image == f"{repository}:{tag}"
    labels = docker_client.api.inspect_container(created.ref.id)["Config"]["Labels"]
    assert labels[TASK_LABEL] == str(task.id)
    assert labels[TASK_UID_LABEL] == task.uid
    assert labels[OWNER_LABEL] == "bob"

    engine.start(created.ref)
    assert engine.describe(created.ref).state == "running"


def test_clone_of_a_stopped_foreign_source_gets_our_labels_and_new_ports(
    engine: DockerEngine, made: list[ContainerRef], foreign: ContainerRef
) -> None:
    port = free_port()
    ports = [PortMapping(container=80, host=port, host_ip="127.0.0.1")]

    created = clone(engine, made, foreign, ports)

    assert created.ports == [
        {"container": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host": port}
    ]
    assert created.notes[0].startswith(f"host port bindings of {foreign.name} were")
    assert engine.describe(foreign).state == "created"
    copy = engine.find_container(created.ref.name)
    assert copy.owner == "bob"
    assert copy.config["labels"] == {"team": "ops", "org.ctstation.test": "busybox"}
    assert copy.config["env"]["ROLE"] == "foreign"  # type: ignore[index]
    engine.start(created.ref)
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_clone_of_a_missing_source_is_container_not_found(
    engine: DockerEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    gone = ContainerRef("docker", "ctst-gone", "ctst-gone")

    with pytest.raises(ContainerNotFoundError, match="ctst-gone"):
        clone(engine, made, gone, task=task)


def test_clone_onto_a_taken_name_is_name_taken_and_leaves_nothing(
    engine: DockerEngine,
    docker_client: docker.DockerClient,
    source: ContainerRef,
    foreign: ContainerRef,
    task: TaskMark,
) -> None:
    with pytest.raises(NameTakenError):
        engine.clone(task, source, foreign.name, None)

    assert engine.find_task_container(task) is None
    assert engine.find_container(foreign.name).ref.id == foreign.id
    repository, tag = clone_image(foreign.name, task)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(f"{repository}:{tag}")
