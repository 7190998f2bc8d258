"""The Docker adapter's pure parts and its error translation, with a mocked SDK."""

from unittest import mock

import docker.errors
import pytest
import requests

from contract.images import ImageRef, ImageSource
from contract.params import CreateParams
from executors.docker.details import published_ports
from executors.docker.engine import DockerEngine, local_image_info
from executors.docker.pull import follow_pull
from executors.engine import TASK_UID_LABEL, ContainerRef, TaskMark
from executors.errors import (
    ContainerNotFoundError,
    EngineError,
    ImageNotFoundError,
    ImageSourceError,
    InvalidParamsError,
    NameTakenError,
)
from tests.unit.executors.docker.samples import inspect_data

REF = ContainerRef("docker", "web", "abc123", 7)
TASK = TaskMark(7, "5f0c9a8e-2b7d-4c1e-9a3f-6d2e8b1c4a70", "alice")


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    reply = requests.Response()
    reply.status_code = status
    return docker.errors.APIError("failed", response=reply, explanation=explanation)


def not_found(explanation: str = "no such container") -> docker.errors.NotFound:
    reply = requests.Response()
    reply.status_code = 404
    return docker.errors.NotFound("404", response=reply, explanation=explanation)


@pytest.fixture
def client() -> mock.MagicMock:
    return mock.MagicMock()


@pytest.fixture
def engine(client: mock.MagicMock) -> DockerEngine:
    return DockerEngine(client, "http://127.0.0.1:5000")


def test_pull_progress_sums_current_and_total_over_layers() -> None:
    reports: list[tuple[int | None, int | None]] = []
    lines = [
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Pulling fs layer", "id": "l1"},
        {"status": "Pulling fs layer", "id": "l2"},
        {"status": "Already exists", "id": "l3"},
        downloading("l1", 10, 100),
        downloading("l2", 5, 50),
        {"status": "Download complete", "id": "l1", "progressDetail": {}},
        downloading("l2", 50, 50),
        {"status": "Status: Downloaded newer image for busybox:latest"},
    ]

    follow_pull(lines, lambda done, total: reports.append((done, total)))

    assert reports == [
        (0, None),
        (0, None),
        (0, None),
        (10, None),
        (15, 150),
        (105, 150),
        (150, 150),
        (150, 150),
    ]


def downloading(layer: str, current: int, total: int) -> dict[str, object]:
    return {
        "status": "Downloading",
        "id": layer,
        "progressDetail": {"current": current, "total": total},
    }


def test_a_pull_with_nothing_to_download_still_reports_completion() -> None:
    reports: list[tuple[int | None, int | None]] = []

    follow_pull([{"status": "Digest: sha256:00"}], lambda d, t: reports.append((d, t)))

    assert reports == [(0, 0)]


def test_an_error_line_in_the_pull_stream_raises_with_its_reason(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.pull.return_value = iter(
        [
            downloading("l1", 1, 2),
            {"error": "blob unknown", "errorDetail": {"message": "blob unknown"}},
        ]
    )
    # The registry cannot be asked here, so the daemon's reason is all there is.
    with (
        mock.patch.object(
            engine._registry,
            "find_unservable_layer",
            side_effect=ImageSourceError("unreachable"),
        ),
        pytest.raises(ImageSourceError, match="pull of brokenbox:latest.*blob unknown"),
    ):
        engine.fetch_image(ImageSource.DOCKERHUB, ImageRef("brokenbox"), print)


def test_a_failed_pull_names_the_layer_the_registry_cannot_serve(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.pull.return_value = iter(
        [{"error": "lookup registry-1.docker.io: no such host"}]
    )
    problem = "127.0.0.1:5000/library/brokenbox cannot serve layer sha256:aa (404)"

    with (
        mock.patch.object(
            engine._registry, "find_unservable_layer", return_value=problem
        ),
        pytest.raises(ImageSourceError) as raised,
    ):
        engine.fetch_image(ImageSource.DOCKERHUB, ImageRef("brokenbox"), print)

    assert problem in raised.value.message
    assert "no such host" in raised.value.message


def test_an_error_line_with_code_404_is_image_not_found(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.pull.return_value = iter(
        [{"error": "gone", "errorDetail": {"code": 404, "message": "gone"}}]
    )

    with pytest.raises(ImageNotFoundError, match="gone"):
        engine.fetch_image(ImageSource.DOCKERHUB, ImageRef("x"), print)


def test_a_pull_the_daemon_refuses_at_once_is_a_source_error(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.pull.side_effect = api_error(500, "registry unreachable")

    with pytest.raises(ImageSourceError, match="registry unreachable"):
        engine.fetch_image(ImageSource.DOCKERHUB, ImageRef("x"), print)


def test_published_ports_report_bindings_docker_chose() -> None:
    attrs = {
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}],
                "443/tcp": None,
            }
        },
        "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": ""}]}},
    }

    assert published_ports(attrs) == [
        {"container": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host": 49153}
    ]


def test_published_ports_of_a_container_not_running_are_what_was_asked() -> None:
    attrs = {
        "NetworkSettings": {"Ports": {}},
        "HostConfig": {
            "PortBindings": {"53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
        },
    }

    assert published_ports(attrs) == [
        {"container": 53, "protocol": "udp", "host_ip": "127.0.0.1", "host": None}
    ]


def test_local_image_info_maps_docker_inspect() -> None:
    attrs = {
        "Id": "sha256:" + "f" * 64,
        "RepoDigests": ["busybox@sha256:" + "d" * 64],
        "Size": 4096,
        "Architecture": "amd64",
        "Os": "linux",
        "Created": "2024-01-01T00:00:00Z",
        "Config": {"Cmd": ["sh"], "Env": ["A=1"]},
    }

    info = local_image_info(ImageRef("busybox"), attrs)

    assert info.repository == "local"
    assert info.digest == "sha256:" + "d" * 64
    assert (info.size, info.config.command, info.config.env) == (
        4096,
        ["sh"],
        {"A": "1"},
    )


def test_missing_local_image_is_not_found_naming_image_and_tag(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.images.get.side_effect = docker.errors.ImageNotFound("no such image")

    with pytest.raises(ImageNotFoundError, match="ctstation-local/box:v9"):
        engine.inspect_image(ImageSource.LOCAL, ImageRef("ctstation-local/box", "v9"))


def test_name_conflict_on_create_is_name_taken(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.containers.create.side_effect = api_error(409, "Conflict. name in use")

    with pytest.raises(NameTakenError):
        engine.create(TASK, "web", "busybox:latest", CreateParams())


def test_bad_request_on_create_is_invalid_params_with_the_explanation(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.containers.create.side_effect = api_error(
        400, "bind source path does not exist"
    )

    with pytest.raises(InvalidParamsError, match="bind source path does not exist"):
        engine.create(TASK, "web", "busybox:latest", CreateParams())


def test_unknown_network_is_refused_before_create(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.networks.get.side_effect = not_found("network nope not found")

    with pytest.raises(InvalidParamsError, match="nope"):
        engine.create(TASK, "web", "busybox", CreateParams(network="nope"))
    client.containers.create.assert_not_called()


def test_start_failure_is_engine_error_with_the_explanation(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.start.side_effect = api_error(500, "port is already allocated")

    with pytest.raises(EngineError, match="port is already allocated"):
        engine.start(REF)


def test_start_of_a_missing_container_is_container_not_found(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.start.side_effect = not_found()

    with pytest.raises(ContainerNotFoundError):
        engine.start(REF)


def test_remove_of_a_missing_container_is_fine(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.remove_container.side_effect = not_found()

    engine.remove(REF)


def test_name_taken_compares_the_exact_name(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.containers.return_value = [{"Names": ["/web-2"], "Id": "x"}]

    assert engine.is_name_taken("web") is False
    client.api.containers.return_value = [{"Names": ["/web"], "Id": "x"}]
    assert engine.is_name_taken("web") is True


def test_find_task_container_asks_for_the_task_uid_label(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.containers.return_value = [{"Names": ["/web"], "Id": "abc123"}]

    assert engine.find_task_container(TASK) == REF
    client.api.containers.assert_called_with(
        all=True, filters={"label": f"{TASK_UID_LABEL}={TASK.uid}"}
    )
    client.api.containers.return_value = []
    assert engine.find_task_container(TASK) is None


def test_unreachable_daemon_is_engine_error(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.containers.side_effect = requests.ConnectionError("refused")

    with pytest.raises(EngineError, match="unreachable"):
        engine.is_name_taken("web")


def test_find_container_names_what_was_looked_for(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.inspect_container.side_effect = not_found()

    with pytest.raises(ContainerNotFoundError, match="'web'"):
        engine.find_container("web")


def test_find_container_refuses_what_is_no_name_or_id_without_asking(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    with pytest.raises(ContainerNotFoundError):
        engine.find_container("../images/json")

    client.api.inspect_container.assert_not_called()


def test_a_name_taken_between_check_and_create_removes_the_committed_image(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.inspect_container.return_value = inspect_data()
    client.api.containers.return_value = []
    client.containers.create.side_effect = api_error(409, "Conflict")

    with pytest.raises(NameTakenError):
        engine.clone(TASK, REF, "copy", None)

    client.api.commit.assert_called_once()
    client.api.remove_container.assert_not_called()
    client.api.remove_image.assert_called_once_with("ctstation-clone/copy:task-7")


def test_a_failure_after_the_create_removes_the_clone_and_its_image(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.inspect_container.side_effect = [inspect_data(), not_found()]
    client.api.containers.return_value = []
    client.containers.create.return_value = mock.Mock(id="c10e")

    with pytest.raises(ContainerNotFoundError):
        engine.clone(TASK, REF, "copy", None)

    client.api.remove_container.assert_called_once_with("c10e", force=True, v=True)
    client.api.remove_image.assert_called_once_with("ctstation-clone/copy:task-7")


def test_a_clone_is_committed_with_the_new_tasks_labels(
    engine: DockerEngine, client: mock.MagicMock
) -> None:
    client.api.inspect_container.return_value = inspect_data()
    client.api.containers.return_value = []
    client.containers.create.return_value = mock.Mock(id="c10e")

    created = engine.clone(TASK, REF, "copy", None)

    client.api.commit.assert_called_once_with(
        REF.id,
        repository="ctstation-clone/copy",
        tag="task-7",
        conf={"Labels": TASK.labels()},
    )
    assert created.ref == ContainerRef("docker", "copy", "c10e", 7)
    assert created.notes[0].startswith("host port bindings of web were not copied")
