"""DockerEngine against the real dockerd and the local registry of local-engines.sh."""

import io
import os
import socket
import tarfile
from collections.abc import Iterator

import docker
import pytest
import requests

from contract.images import ImageRef, ImageSource
from contract.params import CreateParams
from executors.docker.engine import DockerEngine
from executors.engine import (
    OWNER_LABEL,
    TASK_LABEL,
    TASK_UID_LABEL,
    ContainerRef,
    TaskMark,
)
from executors.errors import (
    EngineError,
    ImageNotFoundError,
    ImageSourceError,
    NameTakenError,
)
from tests.integration.executors.conftest import free_port, unique_name, unique_task

pytestmark = pytest.mark.integration

LOCAL = ImageRef("ctstation-local/box")
HUB_BUSYBOX = ImageRef("busybox", "1.35")
BROKEN = ImageRef("brokenbox")

# An image of its own for the progress test: busybox's layers are shared with the
# local image, so a pull of busybox downloads nothing and reports no bytes.
PROGRESS_REPOSITORY = "library/ctstation-progress"
PROGRESS_LAYER_BYTES = 4 * 1024 * 1024

Reports = list[tuple[int | None, int | None]]


@pytest.fixture
def engine(docker_client: docker.DockerClient, registry_url: str) -> DockerEngine:
    return DockerEngine(docker_client, registry_url)


@pytest.fixture
def made(engine: DockerEngine) -> Iterator[list[ContainerRef]]:
    """Containers a test made; removed afterwards whatever happened."""
    refs: list[ContainerRef] = []
    yield refs
    for ref in refs:
        engine.remove(ref)


def create(
    engine: DockerEngine,
    made: list[ContainerRef],
    task: TaskMark,
    image: str,
    params: CreateParams,
    name: str | None = None,
) -> ContainerRef:
    ref = engine.create(task, name or unique_name("d"), image, params)
    made.append(ref)
    return ref


def test_local_image_runs_with_every_param_and_is_removed(
    engine: DockerEngine,
    made: list[ContainerRef],
    docker_client: docker.DockerClient,
    task: TaskMark,
) -> None:
    info = engine.inspect_image(ImageSource.LOCAL, LOCAL)
    assert info.config.env["TESTBOX"] == "1"
    assert info.config.exposed_ports == ["80/tcp"]
    image = engine.fetch_image(ImageSource.LOCAL, LOCAL, lambda d, t: None)
    port = free_port()
    params = CreateParams(
        cpu=0.5,
        memory="64MiB",
        env={"GREETING": "hi"},
        command=["sleep", "300"],
        ports=[{"container": 80, "host": port, "host_ip": "127.0.0.1"}],
        hostname="boxhost",
        labels={"team": "qa"},
        autostart=True,
    )

    ref = create(engine, made, task, image, params)
    assert engine.is_name_taken(ref.name)
    assert engine.find_task_container(task) == ref
    engine.start(ref)
    described = engine.describe(ref)

    assert described.state == "running"
    assert described.ports == [
        {"container": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host": port}
    ]
    attrs = docker_client.api.inspect_container(ref.id)
    assert attrs["Config"]["Labels"][TASK_LABEL] == str(task.id)
    assert attrs["Config"]["Labels"][TASK_UID_LABEL] == task.uid
    assert attrs["Config"]["Labels"][OWNER_LABEL] == "alice"
    assert attrs["Config"]["Labels"]["team"] == "qa"
    assert "GREETING=hi" in attrs["Config"]["Env"]
    assert attrs["Config"]["Cmd"] == ["sleep", "300"]
    assert attrs["Config"]["Hostname"] == "boxhost"
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert_only_bound_on_127_0_0_1(port)

    engine.remove(ref)
    assert not engine.is_name_taken(ref.name)
    assert engine.find_task_container(task) is None
    engine.remove(ref)


def assert_only_bound_on_127_0_0_1(port: int) -> None:
    # Another loopback address on the same port is still free: Docker bound the one
    # address asked for, not all of them.
    with socket.socket() as other:
        other.bind(("127.0.0.2", port))


def test_hub_image_is_inspected_pulled_with_progress_and_run(
    engine: DockerEngine,
    made: list[ContainerRef],
    docker_client: docker.DockerClient,
    task: TaskMark,
) -> None:
    # Untagged first, so that the pull has something to do; the pull restores it.
    had_it = has_image(docker_client, str(HUB_BUSYBOX))
    if had_it:
        docker_client.images.remove(str(HUB_BUSYBOX))
    reports: Reports = []

    info = engine.inspect_image(ImageSource.DOCKERHUB, HUB_BUSYBOX)
    image = engine.fetch_image(
        ImageSource.DOCKERHUB, HUB_BUSYBOX, lambda d, t: reports.append((d, t))
    )
    try:
        ref = create(engine, made, task, image, CreateParams())
        engine.start(ref)
        assert engine.describe(ref).state == "running"
    finally:
        for ref in made:
            engine.remove(ref)
        if not had_it:
            docker_client.images.remove(image)

    assert image == "busybox:1.35"
    assert info.digest and info.digest.startswith("sha256:")
    assert (info.architecture, info.os) == ("amd64", "linux")
    assert info.size and info.size > 0
    assert info.config.env["TESTBOX"] == "1"
    # The registry's busybox is the local image pushed there, so the daemon has all
    # of it and reports only completion.
    assert reports[-1] == (0, 0)


def test_pull_reports_bytes_over_layers(
    engine: DockerEngine, docker_client: docker.DockerClient, registry_url: str
) -> None:
    ref = ensure_progress_image(docker_client, registry_url)
    reports: Reports = []

    try:
        engine.fetch_image(
            ImageSource.DOCKERHUB, ref, lambda d, t: reports.append((d, t))
        )
    finally:
        docker_client.images.remove(str(ref), force=True)

    done, total = reports[-1]
    assert total is not None and total > 0
    assert done == total
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_broken_image_pull_raises_with_the_registry_reason(
    engine: DockerEngine, docker_client: docker.DockerClient
) -> None:
    # The registry serves brokenbox's manifest and config, so inspection works ...
    info = engine.inspect_image(ImageSource.DOCKERHUB, BROKEN)
    assert info.digest

    # ... but not its layer, which fails the pull inside the daemon's 200 stream.
    with pytest.raises((ImageSourceError, ImageNotFoundError)) as raised:
        engine.fetch_image(ImageSource.DOCKERHUB, BROKEN, lambda d, t: None)

    # The daemon reports its fallback to Docker Hub (offline); the registry's own
    # reason is the layer it cannot serve.
    assert "library/brokenbox cannot serve layer sha256:" in raised.value.message
    assert "BLOB_UNKNOWN" in raised.value.message or "404" in raised.value.message
    assert not has_image(docker_client, str(BROKEN))


def test_unknown_hub_tag_is_image_not_found(engine: DockerEngine) -> None:
    with pytest.raises(ImageNotFoundError, match="manifest unknown"):
        engine.inspect_image(ImageSource.DOCKERHUB, ImageRef("busybox", "no-such-tag"))


def test_missing_local_image_is_image_not_found(engine: DockerEngine) -> None:
    with pytest.raises(ImageNotFoundError, match="ctstation-local/box:missing"):
        engine.inspect_image(
            ImageSource.LOCAL, ImageRef("ctstation-local/box", "missing")
        )


def test_a_taken_host_port_fails_start_with_engine_error(
    engine: DockerEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        params = CreateParams(
            ports=[{"container": 80, "host": port, "host_ip": "127.0.0.1"}]
        )
        ref = create(engine, made, task, str(LOCAL), params)

        with pytest.raises(EngineError) as raised:
            engine.start(ref)

    assert str(port) in raised.value.message


def test_port_without_host_port_gets_one_docker_chose_and_reports_it(
    engine: DockerEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    params = CreateParams(ports=[{"container": 80, "host_ip": "127.0.0.1"}])
    ref = create(engine, made, task, str(LOCAL), params)

    engine.start(ref)
    ports = engine.describe(ref).ports

    assert len(ports) == 1
    host = ports[0]["host"]
    assert isinstance(host, int) and host > 0
    assert ports[0]["host_ip"] == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", host), timeout=5):
        pass


def test_a_name_in_use_is_refused_as_name_taken(
    engine: DockerEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    ref = create(engine, made, task, str(LOCAL), CreateParams())

    with pytest.raises(NameTakenError):
        create(engine, made, unique_task(), str(LOCAL), CreateParams(), name=ref.name)


def test_find_task_container_ignores_the_same_task_id_of_another_uid(
    engine: DockerEngine, made: list[ContainerRef], task: TaskMark
) -> None:
    # Another installation sharing this daemon numbers its tasks from 1 as well.
    other = unique_task(user="bob", task_id=task.id)
    theirs = create(engine, made, other, str(LOCAL), CreateParams())

    assert engine.find_task_container(task) is None
    assert engine.find_task_container(other) == theirs

    ours = create(engine, made, task, str(LOCAL), CreateParams())

    assert engine.find_task_container(task) == ours
    assert engine.find_task_container(other) == theirs


def has_image(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_progress_image(client: docker.DockerClient, registry_url: str) -> ImageRef:
    """A registry image whose layer no local image shares, pushed once, not kept.

    Known limitation: the registry has deletion disabled, so this one image stays
    in it; later runs reuse it instead of pushing another.
    """
    host = registry_url.split("://", 1)[1]
    manifest = f"{registry_url}/v2/{PROGRESS_REPOSITORY}/manifests/latest"
    if requests.head(manifest, timeout=10).status_code != 200:
        pushed = f"{host}/{PROGRESS_REPOSITORY}"
        client.api.import_image_from_data(
            random_layer(), repository=pushed, tag="latest"
        )
        for line in client.api.push(pushed, tag="latest", stream=True, decode=True):
            assert "error" not in line, line
        client.images.remove(f"{pushed}:latest", force=True)
    return ImageRef(PROGRESS_REPOSITORY.removeprefix("library/"))


def random_layer() -> bytes:
    # Random bytes do not compress, so the pushed layer really has this size.
    data = os.urandom(PROGRESS_LAYER_BYTES)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo("payload")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()
