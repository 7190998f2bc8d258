"""An LXD instance as the container API shows it.

Pure functions over an instance's expanded config and devices and its network
state, no engine I/O. A system container has no command, entrypoint or working
directory of its own to show, and its hostname is always its name.
"""

import ipaddress
from typing import Any

import pydantic

from contract.images import ContainerType
from executors.engine import (
    INSTALLATION_LABEL,
    ContainerDetails,
    ContainerRef,
    task_of,
    user_labels,
)
from executors.lxc.params import published_ports

TYPE = ContainerType.LXC.value

USER_PREFIX = "user."
ENVIRONMENT_PREFIX = "environment."

_BYTES = pydantic.TypeAdapter(pydantic.ByteSize)
_TRUE = ("true", "1", "yes", "on")


def container_details(
    instance: Any, network_state: dict[str, Any] | None
) -> ContainerDetails:
    """The container as LXD describes it, with its state's network if it runs.

    ``instance`` is a ``pylxd.models.Instance`` fetched with its config.
    """
    config = instance.expanded_config or instance.config or {}
    devices = instance.expanded_devices or instance.devices or {}
    labels = user_keys(config)
    task_id, task_uid, owner = task_of(labels)
    return ContainerDetails(
        ref=ContainerRef(TYPE, instance.name, instance.name, task_id),
        state=str(instance.status).lower(),
        image=config.get("volatile.base_image") or config.get("image.description"),
        created=instance.created_at,
        addresses=addresses(network_state),
        ports=published_ports(devices),
        config=container_config(config, devices),
        task_id=task_id,
        task_uid=task_uid,
        owner=owner,
        installation=labels.get(INSTALLATION_LABEL),
    )


def container_config(
    config: dict[str, str], devices: dict[str, dict[str, str]]
) -> dict[str, object]:
    """What a copy carries, in the keys ``ContainerDetails.config`` documents."""
    return {
        "env": _prefixed(config, ENVIRONMENT_PREFIX),
        "command": None,
        "entrypoint": None,
        "working_dir": None,
        "labels": user_labels(user_keys(config)),
        "cpu": cpu_cores(config.get("limits.cpu")),
        "memory": memory_bytes(config.get("limits.memory")),
        "autostart": config.get("boot.autostart", "").lower() in _TRUE,
        "hostname": None,
        "network": nic_network(devices),
        "volumes": volumes(devices),
        "privileged": config.get("security.privileged", "").lower() in _TRUE,
    }


def user_keys(config: dict[str, str]) -> dict[str, str]:
    """``user.*`` keys without their prefix: the labels, ours included."""
    return _prefixed(config, USER_PREFIX)


def _prefixed(config: dict[str, str], prefix: str) -> dict[str, str]:
    return {
        key.removeprefix(prefix): value
        for key, value in config.items()
        if key.startswith(prefix)
    }


def cpu_cores(limit: str | None) -> float | None:
    """``limits.cpu`` in cores: a count, or a set of pinned CPUs such as ``0-1,4``."""
    if not limit:
        return None
    if limit.isdigit():
        return float(limit)
    try:
        return float(sum(_cpu_count(part) for part in limit.split(",")))
    except ValueError:
        return None


def _cpu_count(part: str) -> int:
    first, _, last = part.partition("-")
    return int(last or first) - int(first) + 1


def memory_bytes(limit: str | None) -> int | None:
    """``limits.memory`` in bytes; a share of the host's (``50%``) is None."""
    # pydantic reads "50%" as 50 bytes: a share is refused before it looks.
    if not limit or limit.endswith("%"):
        return None
    try:
        return int(_BYTES.validate_python(limit))
    except pydantic.ValidationError:
        return None


def nic_network(devices: dict[str, dict[str, str]]) -> str | None:
    """The managed network (or host interface) of ``eth0``, else of the first NIC."""
    nics = [key for key, device in devices.items() if device.get("type") == "nic"]
    if not nics:
        return None
    nic = devices["eth0" if "eth0" in nics else nics[0]]
    return nic.get("network") or nic.get("parent")


def volumes(devices: dict[str, dict[str, str]]) -> list[dict[str, object]]:
    """Disk devices other than the root disk: host paths and custom volumes."""
    return [
        {
            "source": device.get("source"),
            "target": device.get("path"),
            "read_only": device.get("readonly", "").lower() in _TRUE,
        }
        for device in devices.values()
        if device.get("type") == "disk" and device.get("path") != "/"
    ]


def addresses(network_state: dict[str, Any] | None) -> list[str]:
    """IPv4 addresses on every interface but loopback."""
    found = []
    for interface in (network_state or {}).values():
        for address in interface.get("addresses") or []:
            if address.get("family") == "inet" and not _is_loopback(address):
                found.append(str(address["address"]))
    return found


def _is_loopback(address: dict[str, Any]) -> bool:
    return ipaddress.ip_address(address["address"]).is_loopback
