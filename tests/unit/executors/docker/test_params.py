import pytest

from contract.params import CreateParams
from executors.docker.params import (
    check_params,
    container_labels,
    create_kwargs,
    port_bindings,
)
from executors.engine import OWNER_LABEL, TASK_LABEL, TASK_UID_LABEL, TaskMark
from executors.errors import InvalidParamsError

TASK = TaskMark(7, "5f0c9a8e-2b7d-4c1e-9a3f-6d2e8b1c4a70", "alice")
OURS = {TASK_LABEL: "7", TASK_UID_LABEL: TASK.uid, OWNER_LABEL: "alice"}


def kwargs_for(**params: object) -> dict[str, object]:
    return create_kwargs(TASK, "web", "busybox:latest", CreateParams(**params))


def test_minimal_params_give_only_name_image_labels_and_defaults() -> None:
    kwargs = kwargs_for()

    assert kwargs == {
        "image": "busybox:latest",
        "name": "web",
        "labels": OURS,
        "environment": {},
        "privileged": False,
        "detach": True,
    }


def test_every_param_is_mapped_to_its_docker_argument() -> None:
    kwargs = kwargs_for(
        cpu=1.5,
        memory="512MiB",
        env={"A": "1"},
        command="sleep 60",
        network="backend",
        hostname="box",
        labels={"team": "x"},
        autostart=True,
        privileged=True,
    )

    assert kwargs["nano_cpus"] == 1_500_000_000
    assert kwargs["mem_limit"] == 512 * 1024 * 1024
    assert kwargs["environment"] == {"A": "1"}
    assert kwargs["command"] == ["sleep", "60"]
    assert kwargs["network"] == "backend"
    assert kwargs["hostname"] == "box"
    assert kwargs["restart_policy"]["Name"] == "unless-stopped"
    assert kwargs["privileged"] is True
    assert kwargs["labels"]["team"] == "x"


def test_user_labels_cannot_override_the_task_uid_and_owner_labels() -> None:
    kwargs = kwargs_for(
        labels={TASK_LABEL: "99", TASK_UID_LABEL: "forged", OWNER_LABEL: "mallory"}
    )

    assert kwargs["labels"] == OURS
    assert container_labels(TASK, CreateParams(labels={TASK_UID_LABEL: "x"})) == OURS


def test_ports_keep_host_ip_let_docker_choose_and_support_udp() -> None:
    params = CreateParams(
        ports=[
            {"container": 80, "host": 8080, "host_ip": "127.0.0.1"},
            {"container": 80},
            {"container": 53, "host": 5353, "protocol": "udp"},
        ]
    )

    assert port_bindings(params.ports) == {
        "80/tcp": [("127.0.0.1", 8080), ("", None)],
        "53/udp": [("", 5353)],
    }


def test_volumes_become_bind_or_named_volume_mounts() -> None:
    kwargs = kwargs_for(
        volumes=[
            {"source": "/srv/data", "target": "/data", "read_only": True},
            {"source": "cache", "target": "/cache"},
        ]
    )

    bind, named = kwargs["mounts"]
    assert (bind["Type"], bind["Source"], bind["Target"], bind["ReadOnly"]) == (
        "bind",
        "/srv/data",
        "/data",
        True,
    )
    assert (named["Type"], named["Source"], named["ReadOnly"]) == (
        "volume",
        "cache",
        False,
    )


def test_a_volume_name_docker_would_refuse_is_refused() -> None:
    with pytest.raises(InvalidParamsError, match="volume name"):
        check_params(CreateParams(volumes=[{"source": "bad name", "target": "/x"}]))


def test_valid_params_pass_the_check() -> None:
    check_params(CreateParams(volumes=[{"source": "data-1", "target": "/x"}]))


def test_devices_are_passed_through_at_the_same_path() -> None:
    kwargs = kwargs_for(devices=["/dev/ttyUSB0"])

    assert kwargs["devices"] == ["/dev/ttyUSB0:/dev/ttyUSB0:rwm"]
