"""An LXD clone's copy request, devices and notes."""

from contract.params import PortMapping
from executors.engine import TaskMark
from executors.lxc.clone import clone_devices, clone_notes, copy_request

TASK = TaskMark(12, "0b6e3d1f-8c2a-4e59-b7d4-1a9c5e2f3d86", "bob")

PROXY = {
    "type": "proxy",
    "listen": "tcp:127.0.0.1:8080",
    "connect": "tcp:127.0.0.1:80",
}
DATA = {"type": "disk", "source": "/srv/data", "path": "/data"}
ROOT = {"type": "disk", "path": "/", "pool": "default"}
NIC = {"type": "nic", "network": "ctsbr0"}


def test_the_copy_request_keeps_the_profiles_and_sets_the_new_tasks_keys() -> None:
    request = copy_request(TASK, "web-copy", "web", ["default", "big"])

    assert request == {
        "name": "web-copy",
        "source": {"type": "copy", "source": "web", "instance_only": True},
        "profiles": ["default", "big"],
        "config": {
            "user.ctstation.task": "12",
            "user.ctstation.task-uid": TASK.uid,
            "user.ctstation.user": "bob",
        },
    }


def test_the_sources_proxies_are_dropped_and_other_devices_kept() -> None:
    local = {"web": PROXY, "data": DATA}
    expanded = {**local, "root": ROOT, "eth0": NIC}

    assert clone_devices(local, expanded, None) == {"data": DATA}


def test_given_ports_become_new_proxy_devices() -> None:
    local = {"ctstation-port-0": PROXY}
    ports = [PortMapping(container=443, host=9443, host_ip="127.0.0.1")]

    assert clone_devices(local, local, ports) == {
        "ctstation-port-0": {
            "type": "proxy",
            "listen": "tcp:127.0.0.1:9443",
            "connect": "tcp:127.0.0.1:443",
        }
    }


def test_a_proxy_from_a_profile_is_masked() -> None:
    expanded = {"root": ROOT, "shared-port": PROXY}

    assert clone_devices({}, expanded, None) == {"shared-port": {"type": "none"}}


def test_notes_name_the_dropped_bindings_and_the_shared_volumes() -> None:
    expanded = {"web": PROXY, "data": DATA, "root": ROOT, "eth0": NIC}

    assert clone_notes("web", expanded, None) == [
        "host port bindings of web were not copied: 80/tcp->127.0.0.1:8080",
        "volumes shared with web: /srv/data->/data",
    ]


def test_notes_say_the_bindings_were_replaced_when_ports_are_given() -> None:
    ports = [PortMapping(container=80, host=9090)]

    assert clone_notes("web", {"web": PROXY}, ports) == [
        "host port bindings of web were replaced: 80/tcp->127.0.0.1:8080"
    ]


def test_a_source_without_proxies_or_volumes_has_no_notes() -> None:
    assert clone_notes("web", {"root": ROOT, "eth0": NIC}, None) == []
