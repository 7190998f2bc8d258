"""A Docker clone's create arguments and notes, derived from its source."""

from typing import Any

from contract.params import PortMapping
from executors.docker.clone import (
    clone_image,
    clone_kwargs,
    clone_mounts,
    clone_notes,
    extra_networks,
)
from executors.docker.details import published_ports
from executors.engine import TaskMark
from tests.unit.executors.docker.samples import CONTAINER_ID, inspect_data

TASK = TaskMark(12, "0b6e3d1f-8c2a-4e59-b7d4-1a9c5e2f3d86", "bob")
IMAGE = "ctstation-clone/web-copy:task-12"


def kwargs_for(
    attrs: dict[str, Any], ports: list[PortMapping] | None = None
) -> dict[str, Any]:
    return clone_kwargs(TASK, "web-copy", IMAGE, attrs, ports)


def test_the_clone_image_is_named_after_the_clone_and_its_task() -> None:
    assert clone_image("Web_Copy.2", TASK) == ("ctstation-clone/web-copy-2", "task-12")


def test_a_clone_has_the_sources_configuration_and_the_new_tasks_labels() -> None:
    kwargs = kwargs_for(inspect_data())

    assert kwargs["image"] == IMAGE
    assert kwargs["name"] == "web-copy"
    assert kwargs["labels"] == {
        "team": "qa",
        "ctstation.task": "12",
        "ctstation.task-uid": TASK.uid,
        "ctstation.user": "bob",
    }
    assert kwargs["environment"] == {"A": "1", "EMPTY": "", "BARE": ""}
    assert kwargs["command"] == ["nginx", "-g", "daemon off;"]
    assert kwargs["entrypoint"] == ["/docker-entrypoint.sh"]
    assert kwargs["working_dir"] == "/srv"
    assert kwargs["nano_cpus"] == 1_500_000_000
    assert kwargs["mem_limit"] == 64 * 1024 * 1024
    assert kwargs["restart_policy"] == {
        "Name": "unless-stopped",
        "MaximumRetryCount": 0,
    }
    assert kwargs["hostname"] == "webhost"
    assert kwargs["privileged"] is False


def test_a_clone_has_no_host_port_bindings_unless_given_ports() -> None:
    attrs = inspect_data()
    ports = [PortMapping(container=80, host=8080, host_ip="127.0.0.1")]

    assert "ports" not in kwargs_for(attrs)
    assert kwargs_for(attrs, ports)["ports"] == {"80/tcp": [("127.0.0.1", 8080)]}


def test_unset_settings_are_left_to_docker() -> None:
    attrs = inspect_data(
        Config={"Hostname": CONTAINER_ID[:12], "Env": None, "Cmd": None},
        HostConfig={"NetworkMode": "default", "RestartPolicy": {"Name": ""}},
    )

    kwargs = kwargs_for(attrs)

    for key in ("hostname", "command", "entrypoint", "nano_cpus", "mem_limit"):
        assert key not in kwargs, key
    assert "restart_policy" not in kwargs
    assert "network" not in kwargs and "network_mode" not in kwargs


def test_the_network_is_the_sources_first_and_the_others_are_connected_after() -> None:
    attrs = inspect_data(
        HostConfig={"NetworkMode": "frontend"},
        NetworkSettings={"Networks": {"frontend": {}, "backend": {}, "admin": {}}},
    )

    assert kwargs_for(attrs)["network"] == "frontend"
    assert extra_networks(attrs) == ["admin", "backend"]
    assert extra_networks(inspect_data()) == ["backend"]


def test_a_network_shared_with_another_container_is_a_network_mode() -> None:
    attrs = inspect_data(HostConfig={"NetworkMode": "container:db"})

    assert kwargs_for(attrs)["network_mode"] == "container:db"


def test_binds_and_named_volumes_are_shared_and_anonymous_ones_left_out() -> None:
    host = {
        "Binds": ["data:/data", "/srv/conf:/c:ro,z"],
        "Mounts": [
            {"Type": "volume", "Source": "cache", "Target": "/cache"},
            {"Type": "volume", "Target": "/anon"},
            {"Type": "tmpfs", "Target": "/tmp"},
        ],
    }

    mounts = [
        (m["Type"], m["Source"], m["Target"], m["ReadOnly"]) for m in clone_mounts(host)
    ]

    assert mounts == [
        ("volume", "data", "/data", False),
        ("bind", "/srv/conf", "/c", True),
        ("volume", "cache", "/cache", False),
        ("tmpfs", None, "/tmp", False),
    ]


def test_notes_name_dropped_bindings_shared_volumes_and_empty_anonymous_ones() -> None:
    attrs = inspect_data(
        HostConfig={"Binds": ["data:/data"]},
        Mounts=[
            {"Type": "volume", "Name": "data", "Destination": "/data"},
            {"Type": "volume", "Name": "f" * 64, "Destination": "/var/lib/x"},
        ],
    )

    notes = clone_notes("web", attrs, published_ports(attrs), None)

    assert notes == [
        "host port bindings of web were not copied: 80/tcp->127.0.0.1:32768",
        "volumes shared with web: data->/data",
        "anonymous volumes of web start empty: /var/lib/x",
    ]


def test_notes_say_the_bindings_were_replaced_when_ports_are_given() -> None:
    attrs = inspect_data(Mounts=[], NetworkSettings={"Ports": {}})
    ports = [PortMapping(container=80, host=8080)]

    notes = clone_notes("web", attrs, published_ports(attrs), ports)

    assert notes == ["host port bindings of web were replaced: 80/tcp->127.0.0.1:any"]


def test_a_source_without_bindings_or_volumes_has_no_notes() -> None:
    attrs = inspect_data(
        Mounts=[], NetworkSettings={}, HostConfig={"PortBindings": None}
    )

    assert clone_notes("web", attrs, published_ports(attrs), None) == []
