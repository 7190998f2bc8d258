import pytest

from contract.params import CreateParams
from executors.engine import OWNER_LABEL, TASK_LABEL, TASK_UID_LABEL, TaskMark
from executors.errors import InvalidParamsError
from executors.lxc.params import (
    check_params,
    instance_config,
    instance_keys,
    published_ports,
)

TASK = TaskMark(7, "5f0c9a8e-2b7d-4c1e-9a3f-6d2e8b1c4a70", "alice")


def config_for(**params: object) -> dict[str, object]:
    return instance_config(TASK, "web", "f" * 64, CreateParams(**params))


def test_minimal_config_uses_the_default_profile_and_the_fingerprint() -> None:
    config = config_for()

    assert config == {
        "name": "web",
        "type": "container",
        "profiles": ["default"],
        "source": {"type": "image", "fingerprint": "f" * 64},
        "config": {
            f"user.{TASK_LABEL}": "7",
            f"user.{TASK_UID_LABEL}": TASK.uid,
            f"user.{OWNER_LABEL}": "alice",
            "boot.autostart": "false",
        },
        "devices": {},
    }


def test_every_param_is_mapped_to_lxd_config_keys() -> None:
    keys = config_for(
        cpu=2,
        memory="256MiB",
        env={"A": "1"},
        labels={
            "team": "x",
            TASK_LABEL: "99",
            TASK_UID_LABEL: "forged",
            OWNER_LABEL: "mallory",
        },
        autostart=True,
        privileged=True,
    )["config"]

    assert keys == {
        "user.team": "x",
        f"user.{TASK_LABEL}": "7",
        f"user.{TASK_UID_LABEL}": TASK.uid,
        f"user.{OWNER_LABEL}": "alice",
        "environment.A": "1",
        "boot.autostart": "true",
        "limits.cpu": "2",
        "limits.memory": str(256 * 1024 * 1024),
        "security.privileged": "true",
    }


def test_user_labels_cannot_override_the_task_uid_and_owner_keys() -> None:
    keys = instance_keys(
        TASK,
        CreateParams(
            labels={TASK_LABEL: "1", TASK_UID_LABEL: "forged", OWNER_LABEL: "bob"}
        ),
    )

    assert {key: keys[key] for key in keys if key.startswith("user.")} == {
        f"user.{TASK_LABEL}": "7",
        f"user.{TASK_UID_LABEL}": TASK.uid,
        f"user.{OWNER_LABEL}": "alice",
    }


def test_ports_volumes_and_network_become_devices() -> None:
    devices = config_for(
        ports=[
            {"container": 80, "host": 8080},
            {"container": 53, "host": 5353, "host_ip": "::1", "protocol": "udp"},
        ],
        volumes=[
            {"source": "/srv/data", "target": "/data", "read_only": True},
            {"source": "cache", "target": "/cache"},
        ],
        network="ctsbr0",
    )["devices"]

    assert devices == {
        "ctstation-port-0": {
            "type": "proxy",
            "listen": "tcp:0.0.0.0:8080",
            "connect": "tcp:127.0.0.1:80",
        },
        "ctstation-port-1": {
            "type": "proxy",
            "listen": "udp:[::1]:5353",
            "connect": "udp:127.0.0.1:53",
        },
        "ctstation-volume-0": {
            "type": "disk",
            "source": "/srv/data",
            "path": "/data",
            "readonly": "true",
        },
        "ctstation-volume-1": {
            "type": "disk",
            "source": "cache",
            "path": "/cache",
            "pool": "default",
        },
        "eth0": {"type": "nic", "name": "eth0", "network": "ctsbr0"},
    }


def test_published_ports_are_read_back_from_proxy_devices() -> None:
    devices = {
        "root": {"type": "disk", "path": "/", "pool": "default"},
        "p": {
            "type": "proxy",
            "listen": "udp:[::1]:5353",
            "connect": "udp:127.0.0.1:53",
        },
        "q": {
            "type": "proxy",
            "listen": "tcp:0.0.0.0:8080",
            "connect": "tcp:127.0.0.1:80",
        },
    }

    assert published_ports(devices) == [
        {"container": 53, "protocol": "udp", "host_ip": "::1", "host": 5353},
        {"container": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host": 8080},
    ]


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        ({"command": "sleep 60"}, None, "command does not apply"),
        ({"cpu": 0.5}, None, "whole cores"),
        ({"ports": [{"container": 80}]}, None, "give the host port"),
        ({"hostname": "other"}, "web", "hostname is its name"),
        ({"volumes": [{"source": "a/b", "target": "/x"}]}, None, "custom volume"),
    ],
)
def test_params_an_lxc_container_cannot_honour_are_refused(
    params: dict[str, object], name: str | None, message: str
) -> None:
    with pytest.raises(InvalidParamsError, match=message):
        check_params(CreateParams(**params), name)


def test_honourable_params_pass_the_check() -> None:
    check_params(
        CreateParams(cpu=2.0, hostname="web", ports=[{"container": 80, "host": 8080}]),
        "web",
    )
    # Without the name, the hostname cannot be judged yet: create does it.
    check_params(CreateParams(hostname="other"))


def test_devices_become_unix_char_devices() -> None:
    devices = config_for(devices=["/dev/ttyUSB0"])["devices"]

    assert {"type": "unix-char", "source": "/dev/ttyUSB0",
            "path": "/dev/ttyUSB0"} in devices.values()
