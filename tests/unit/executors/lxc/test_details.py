"""An LXD instance as the container API shows it."""

from types import SimpleNamespace
from typing import Any

import pytest

from executors.engine import ContainerRef
from executors.lxc.details import (
    container_details,
    cpu_cores,
    memory_bytes,
    nic_network,
)

UID = "5f0c9a8e-2b7d-4c1e-9a3f-6d2e8b1c4a70"
FINGERPRINT = "ab" * 32

NETWORK_STATE = {
    "eth0": {
        "addresses": [
            {"family": "inet", "address": "10.99.0.5", "scope": "global"},
            {"family": "inet6", "address": "fe80::1", "scope": "link"},
        ]
    },
    "lo": {
        "addresses": [
            {"family": "inet", "address": "127.0.0.1", "scope": "local"},
            {"family": "inet6", "address": "::1", "scope": "local"},
        ]
    },
}


def instance(**changes: Any) -> SimpleNamespace:
    """A ``pylxd`` instance of ours, fetched with its expanded config."""
    fields: dict[str, Any] = {
        "name": "web",
        "status": "Running",
        "created_at": "2024-05-01T10:00:00.123456789Z",
        "config": {},
        "devices": {},
        "expanded_config": {
            "user.ctstation.task": "7",
            "user.ctstation.task-uid": UID,
            "user.ctstation.user": "alice",
            "user.team": "qa",
            "environment.GREETING": "hi",
            "limits.cpu": "2",
            "limits.memory": "64MiB",
            "boot.autostart": "true",
            "image.description": "BusyBox 1.35",
            "volatile.base_image": FINGERPRINT,
        },
        "expanded_devices": {
            "root": {"type": "disk", "path": "/", "pool": "default"},
            "eth0": {"type": "nic", "name": "eth0", "network": "ctsbr0"},
            "ctstation-port-0": {
                "type": "proxy",
                "listen": "tcp:127.0.0.1:8080",
                "connect": "tcp:127.0.0.1:80",
            },
            "ctstation-volume-0": {
                "type": "disk",
                "source": "/srv/data",
                "path": "/data",
                "readonly": "true",
            },
        },
    }
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_our_container_shows_its_task_state_and_configuration() -> None:
    details = container_details(instance(), NETWORK_STATE)

    assert details.ref == ContainerRef("lxc", "web", "web", 7)
    assert (details.task_id, details.task_uid, details.owner) == (7, UID, "alice")
    assert (details.state, details.image) == ("running", FINGERPRINT)
    assert details.created == "2024-05-01T10:00:00.123456789Z"
    assert details.addresses == ["10.99.0.5"]
    assert details.ports == [
        {"container": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host": 8080}
    ]
    assert details.config == {
        "env": {"GREETING": "hi"},
        "command": None,
        "entrypoint": None,
        "working_dir": None,
        "labels": {"team": "qa"},
        "cpu": 2.0,
        "memory": 64 * 1024 * 1024,
        "autostart": True,
        "hostname": None,
        "network": "ctsbr0",
        "volumes": [{"source": "/srv/data", "target": "/data", "read_only": True}],
        "privileged": False,
    }


def test_a_stopped_foreign_container_has_no_task_fields_or_addresses() -> None:
    config = {"image.description": "Debian 12", "security.privileged": "true"}
    foreign = instance(status="Stopped", expanded_config=config)

    details = container_details(foreign, None)

    assert details.ref.task_id is None
    assert (details.task_id, details.task_uid, details.owner) == (None, None, None)
    assert (details.state, details.image) == ("stopped", "Debian 12")
    assert details.addresses == []
    assert details.config["labels"] == {}
    assert details.config["privileged"] is True
    assert details.config["autostart"] is False


@pytest.mark.parametrize(
    ("limit", "cores"),
    [("2", 2.0), ("0-3", 4.0), ("0,2-3", 3.0), ("", None), (None, None), ("x", None)],
)
def test_cpu_limit_is_a_count_or_a_set_of_pinned_cpus(
    limit: str | None, cores: float | None
) -> None:
    assert cpu_cores(limit) == cores


@pytest.mark.parametrize(
    ("limit", "size"),
    [("64MiB", 64 << 20), ("1GB", 10**9), ("1048576", 1 << 20), ("50%", None)],
)
def test_memory_limit_in_bytes_and_a_share_of_the_host_unknown(
    limit: str, size: int | None
) -> None:
    assert memory_bytes(limit) == size


def test_the_network_is_eth0s_else_the_first_nics() -> None:
    eth1 = {"type": "nic", "nictype": "macvlan", "parent": "enp1s0"}
    eth0 = {"type": "nic", "network": "lxdbr0"}

    assert nic_network({"eth1": eth1, "eth0": eth0}) == "lxdbr0"
    assert nic_network({"eth1": eth1}) == "enp1s0"
    assert nic_network({}) is None
