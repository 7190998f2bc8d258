"""LxdEngine against the real LXD and the app center catalog of local-engines.sh."""

import socket
from collections.abc import Iterator

import pylxd
import pylxd.exceptions
import pytest
import requests

from contract.images import ImageRef, ImageSource
from contract.params import CreateParams
from executors.engine import (
    OWNER_LABEL,
    TASK_LABEL,
    TASK_UID_LABEL,
    ContainerRef,
    TaskMark,
)
from executors.errors import EngineError, ImageSourceError, NameTakenError
from executors.lxc.catalog import Catalog
from executors.lxc.engine import LxdEngine
from tests.integration.executors.conftest import free_port, unique_name, unique_task

pytestmark = pytest.mark.integration

LOCAL = ImageRef("busybox")
CATALOG_BUSYBOX = ImageRef("busybox")
CATALOG_BROKEN = ImageRef("broken")

Reports = list[tuple[int | None, int | None]]


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with requests.Session() as session:
        yield Catalog(catalog_url, session)


@pytest.fixture
def engine(lxd_client: pylxd.Client, catalog: Catalog) -> LxdEngine:
    return LxdEngine(lxd_client, catalog)


@pytest.fixture
def made(engine: LxdEngine) -> Iterator[list[ContainerRef]]:
    """Containers a test made; removed afterwards whatever happened."""
    refs: list[ContainerRef] = []
    yield refs
    for ref in refs:
        engine.remove(ref)


def create(
    engine: LxdEngine,
    made: list[ContainerRef],
    task: TaskMark,
    image: str,
    params: CreateParams,
    name: str | None = None,
) -> ContainerRef:
    name = name or unique_name("l")
    # Recorded before the call, so that a half-made container is removed as well.
    made.append(ContainerRef("lxc", name, name, task.id))
    return engine.create(task, name, image, params)


def test_local_alias_runs_with_every_param_and_is_removed(
    engine: LxdEngine,
    made: list[ContainerRef],
    lxd_client: pylxd.Client,
    task: TaskMark,
) -> None:
    info = engine.inspect_image(ImageSource.LOCAL, LOCAL)
    fingerprint = engine.fetch_image(ImageSource.LOCAL, LOCAL, lambda d, t: None)
    assert info.fingerprint == fingerprint
    port = free_port()
    params = CreateParams(
        cpu=1,
        memory="64MiB",
        env={"GREETING": "hi"},
        ports=[{"container": 80, "host": port, "host_ip": "127.0.0.1"}],
        labels={"team": "qa"},
        network="ctsbr0",
    )

    ref = create(engine, made, task, fingerprint, params)
    assert engine.is_name_taken(ref.name)
    assert engine.find_task_container(task) == ref
    engine.start(ref)
    described = engine.describe(ref)

    assert described.state == "running"
    assert described.ports == [
        {"container": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host": port}
    ]
    config = lxd_client.instances.get(ref.name).config
    assert config[f"user.{TASK_LABEL}"] == str(task.id)
    assert config[f"user.{TASK_UID_LABEL}"] == task.uid
    assert config[f"user.{OWNER_LABEL}"] == "alice"
    assert config["user.team"] == "qa"
    assert config["environment.GREETING"] == "hi"
    assert (config["limits.cpu"], config["limits.memory"]) == ("1", str(64 << 20))

    engine.remove(ref)
    assert not engine.is_name_taken(ref.name)
    assert engine.find_task_container(task) is None
    engine.remove(ref)


def test_catalog_image_is_downloaded_verified_imported_and_run(
    engine: LxdEngine,
    made: list[ContainerRef],
    catalog: Catalog,
    lxd_client: pylxd.Client,
    task: TaskMark,
) -> None:
    entry = catalog.find(CATALOG_BUSYBOX.name, CATALOG_BUSYBOX.tag)
    # Removed first, so that this run downloads and imports it for real.
    delete_image(lxd_client, entry.fingerprint)
    info = engine.inspect_image(ImageSource.APPCENTER, CATALOG_BUSYBOX)
    first: Reports = []
    again: Reports = []

    try:
        fingerprint = engine.fetch_image(
            ImageSource.APPCENTER, CATALOG_BUSYBOX, lambda d, t: first.append((d, t))
        )
        assert lxd_client.images.exists(entry.fingerprint)
        engine.fetch_image(
            ImageSource.APPCENTER, CATALOG_BUSYBOX, lambda d, t: again.append((d, t))
        )
        ref = create(engine, made, task, fingerprint, CreateParams())
        engine.start(ref)
        assert engine.describe(ref).state == "running"
    finally:
        for ref in made:
            engine.remove(ref)
        delete_image(lxd_client, entry.fingerprint)

    assert info.fingerprint == fingerprint == entry.fingerprint
    assert first[-1] == (entry.size, entry.size)
    assert again == [], "a second fetch downloaded the image again"


def test_broken_catalog_entry_fails_with_source_error_and_imports_nothing(
    engine: LxdEngine, catalog: Catalog, lxd_client: pylxd.Client
) -> None:
    entry = catalog.find(CATALOG_BROKEN.name, CATALOG_BROKEN.tag)

    with pytest.raises(ImageSourceError, match="404"):
        engine.fetch_image(ImageSource.APPCENTER, CATALOG_BROKEN, lambda d, t: None)

    assert not lxd_client.images.exists(entry.fingerprint)


def test_lxd_refusal_is_engine_error_with_lxd_message_and_leaves_nothing(
    engine: LxdEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    fingerprint = engine.fetch_image(ImageSource.LOCAL, LOCAL, lambda d, t: None)
    params = CreateParams(network="ctst-no-such-network")

    with pytest.raises(EngineError, match="ctst-no-such-network"):
        ref = create(engine, made, task, fingerprint, params)
        # Should LXD accept the NIC at create, it must refuse it at start.
        engine.start(ref)


def test_a_taken_host_port_fails_start_with_engine_error(
    engine: LxdEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    fingerprint = engine.fetch_image(ImageSource.LOCAL, LOCAL, lambda d, t: None)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        params = CreateParams(
            ports=[{"container": 80, "host": port, "host_ip": "127.0.0.1"}]
        )
        ref = create(engine, made, task, fingerprint, params)

        with pytest.raises(EngineError, match="address already in use"):
            engine.start(ref)


def test_a_name_in_use_is_refused_as_name_taken(
    engine: LxdEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    fingerprint = engine.fetch_image(ImageSource.LOCAL, LOCAL, lambda d, t: None)
    ref = create(engine, made, task, fingerprint, CreateParams())

    with pytest.raises(NameTakenError):
        engine.create(unique_task("bob"), ref.name, fingerprint, CreateParams())


def test_find_task_container_ignores_the_same_task_id_of_another_uid(
    engine: LxdEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    # Another installation sharing this LXD numbers its tasks from 1 as well.
    fingerprint = engine.fetch_image(ImageSource.LOCAL, LOCAL, lambda d, t: None)
    other = unique_task(user="bob", task_id=task.id)
    theirs = create(engine, made, other, fingerprint, CreateParams())

    assert engine.find_task_container(task) is None
    assert engine.find_task_container(other) == theirs


def delete_image(client: pylxd.Client, fingerprint: str) -> None:
    try:
        client.images.get(fingerprint).delete(wait=True)
    except pylxd.exceptions.NotFound:
        pass
