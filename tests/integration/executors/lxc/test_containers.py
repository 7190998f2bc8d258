"""LxdEngine's container API and clones against the real LXD.

The module's sources are made once and only read by the tests; a test that
changes a container's state makes its own. A busybox container shuts down
cleanly in about 3 s.
"""

import time
from collections.abc import Iterator
from datetime import datetime

import pylxd
import pytest
import requests

from contract.images import ImageRef, ImageSource
from contract.params import CreateParams, PortMapping
from executors.engine import (
    OWNER_LABEL,
    TASK_LABEL,
    TASK_UID_LABEL,
    ContainerRef,
    CreatedContainer,
    TaskMark,
)
from executors.errors import ContainerNotFoundError, NameTakenError
from executors.lxc.catalog import Catalog
from executors.lxc.engine import LxdEngine
from tests.integration.executors.conftest import free_port, unique_name, unique_task

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def engine(lxd_client: pylxd.Client) -> Iterator[LxdEngine]:
    # The container API never asks the catalog.
    with requests.Session() as session:
        yield LxdEngine(lxd_client, Catalog("http://127.0.0.1:1/index.json", session))


@pytest.fixture(scope="module")
def fingerprint(engine: LxdEngine) -> str:
    return engine.fetch_image(ImageSource.LOCAL, ImageRef("busybox"), print)


@pytest.fixture(scope="module")
def source_task() -> TaskMark:
    return unique_task()


@pytest.fixture(scope="module")
def source(
    engine: LxdEngine, fingerprint: str, source_task: TaskMark
) -> Iterator[ContainerRef]:
    """Ours, running, with every param a copy carries and a published port."""
    params = CreateParams(
        cpu=1,
        memory="64MiB",
        env={"GREETING": "hi"},
        ports=[{"container": 80, "host": free_port(), "host_ip": "127.0.0.1"}],
        labels={"team": "qa"},
        autostart=True,
    )
    name = unique_name("src")
    ref = ContainerRef("lxc", name, name, source_task.id)
    try:
        engine.create(source_task, name, fingerprint, params)
        engine.start(ref)
        yield ref
    finally:
        engine.remove(ref)


@pytest.fixture(scope="module")
def foreign(
    engine: LxdEngine, lxd_client: pylxd.Client, fingerprint: str
) -> Iterator[ContainerRef]:
    """Not ours, stopped, with a proxy device of its own."""
    name = unique_name("foreign")
    ref = ContainerRef("lxc", name, name)
    lxd_client.instances.create(
        {
            "name": name,
            "profiles": ["default"],
            "source": {"type": "image", "fingerprint": fingerprint},
            "config": {"user.team": "ops", "environment.ROLE": "foreign"},
            "devices": {
                "web": {
                    "type": "proxy",
                    "listen": f"tcp:127.0.0.1:{free_port()}",
                    "connect": "tcp:127.0.0.1:80",
                }
            },
        },
        wait=True,
    )
    try:
        yield ref
    finally:
        engine.remove(ref)


@pytest.fixture
def made(engine: LxdEngine) -> Iterator[list[ContainerRef]]:
    """Containers a test made; removed afterwards whatever happened."""
    refs: list[ContainerRef] = []
    yield refs
    for ref in refs:
        engine.remove(ref)


def clone(
    engine: LxdEngine,
    made: list[ContainerRef],
    source: ContainerRef,
    ports: list[PortMapping] | None = None,
    task: TaskMark | None = None,
) -> CreatedContainer:
    name = unique_name("clone")
    made.append(ContainerRef("lxc", name, name))
    return engine.clone(task or unique_task("bob"), source, name, ports)


def test_list_shows_ours_with_task_fields_and_a_foreign_one_without(
    engine: LxdEngine,
    source: ContainerRef,
    foreign: ContainerRef,
    source_task: TaskMark,
) -> None:
    listed = {details.ref.name: details for details in engine.list_containers()}

    ours, theirs = listed[source.name], listed[foreign.name]
    assert ours.ref == source
    assert (ours.task_id, ours.task_uid, ours.owner) == (
        source_task.id,
        source_task.uid,
        "alice",
    )
    assert ours.state == "running"
    assert (theirs.task_id, theirs.task_uid, theirs.owner) == (None, None, None)
    assert theirs.state == "stopped"
    assert theirs.config["labels"] == {"team": "ops"}
    assert theirs.addresses == []


def test_find_by_name_shows_the_configuration(
    engine: LxdEngine, source: ContainerRef, fingerprint: str
) -> None:
    found = engine.find_container(source.name)

    assert found.ref == source
    assert found.image == fingerprint
    assert datetime.fromisoformat(str(found.created)[:26])
    assert found.addresses
    assert not any(address.startswith("127.") for address in found.addresses)
    assert found.ports == engine.describe(source).ports
    config = found.config
    assert config["env"] == {"GREETING": "hi"}
    assert config["labels"] == {"team": "qa"}
    assert (config["cpu"], config["memory"]) == (1.0, 64 * MiB)
    assert (config["autostart"], config["privileged"]) == (True, False)
    assert config["network"] == "ctsbr0"


def test_a_missing_container_is_not_found(engine: LxdEngine) -> None:
    with pytest.raises(ContainerNotFoundError, match="ctst-no-such"):
        engine.find_container("ctst-no-such")


def test_stop_start_and_restart_change_the_state(
    engine: LxdEngine, made: list[ContainerRef], fingerprint: str, task: TaskMark
) -> None:
    name = unique_name("state")
    ref = ContainerRef("lxc", name, name, task.id)
    made.append(ref)
    engine.create(task, name, fingerprint, CreateParams())

    engine.restart(ref)
    assert engine.find_container(name).state == "running"
    engine.stop(ref)
    assert engine.find_container(name).state == "stopped"
    engine.stop(ref)
    engine.start(ref)
    # Busybox's init needs longer than 1 s to shut down: the stop is forced.
    began = time.monotonic()
    engine.restart(ref, timeout=1)

    assert time.monotonic() - began < 2.5
    assert engine.find_container(name).state == "running"


def test_clone_of_a_running_source_copies_its_configuration_not_its_ports(
    engine: LxdEngine,
    made: list[ContainerRef],
    lxd_client: pylxd.Client,
    source: ContainerRef,
) -> None:
    task = unique_task("bob")
    [bound] = engine.describe(source).ports

    created = clone(engine, made, source, task=task)

    assert created.state == "stopped"
    assert created.ports == []
    dropped = f"80/tcp->127.0.0.1:{bound['host']}"
    assert created.notes == [
        f"host port bindings of {source.name} were not copied: {dropped}"
    ]
    assert engine.describe(source).state == "running"
    copy = engine.find_container(created.ref.name)
    original = engine.find_container(source.name)
    assert (copy.task_id, copy.task_uid, copy.owner) == (task.id, task.uid, "bob")
    assert copy.config == original.config
    config = lxd_client.instances.get(created.ref.name).config
    source_config = lxd_client.instances.get(source.name).config
    assert config[f"user.{TASK_LABEL}"] == str(task.id)
    assert config[f"user.{TASK_UID_LABEL}"] == task.uid
    assert config[f"user.{OWNER_LABEL}"] == "bob"
    # LXD itself gives the copy an identity of its own.
    for key in ("volatile.uuid", "volatile.eth0.hwaddr"):
        assert config[key] != source_config[key], key
    assert "volatile.last_state.power" not in config

    engine.start(created.ref)
    assert engine.describe(created.ref).state == "running"


def test_clone_of_a_stopped_foreign_source_gets_our_keys_and_new_ports(
    engine: LxdEngine, made: list[ContainerRef], foreign: ContainerRef
) -> None:
    port = free_port()
    ports = [PortMapping(container=80, host=port, host_ip="127.0.0.1")]

    created = clone(engine, made, foreign, ports)

    assert created.ports == [
        {"container": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host": port}
    ]
    assert created.notes[0].startswith(f"host port bindings of {foreign.name} were")
    assert engine.describe(foreign).state == "stopped"
    copy = engine.find_container(created.ref.name)
    assert copy.owner == "bob"
    assert copy.config["labels"] == {"team": "ops"}
    assert copy.config["env"] == {"ROLE": "foreign"}


def test_clone_of_a_missing_source_is_container_not_found(
    engine: LxdEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    gone = ContainerRef("lxc", "ctst-gone", "ctst-gone")

    with pytest.raises(ContainerNotFoundError, match="ctst-gone"):
        clone(engine, made, gone, task=task)


def test_clone_onto_a_taken_name_is_name_taken_and_leaves_nothing(
    engine: LxdEngine, source: ContainerRef, foreign: ContainerRef, task: TaskMark
) -> None:
    with pytest.raises(NameTakenError):
        engine.clone(task, source, foreign.name, None)

    assert engine.find_task_container(task) is None
    assert engine.find_container(foreign.name).owner is None
