"""Create params mapped onto an LXD instance definition (``POST /1.0/instances``).

Pure functions, no engine I/O. LXD runs system containers: their init is the
image's, so there is no command to choose, the hostname is the instance name, and a
published port is a proxy device whose host port must be given.
"""

import ipaddress
from typing import Any

from contract.params import CreateParams, PortMapping, VolumeMount
from executors.engine import TaskMark
from executors.errors import InvalidParamsError

# Custom storage volumes named in ``volumes`` live in this pool, the one every
# ctstation host sets up.
STORAGE_POOL = "default"

# Inside the container a proxy device connects to the loopback address, where a
# service listening on any address answers.
CONTAINER_ADDRESS = "127.0.0.1"

PORT_DEVICE = "ctstation-port"
VOLUME_DEVICE = "ctstation-volume"
HOST_DEVICE = "ctstation-device"


def check_params(params: CreateParams, name: str | None = None) -> None:
    """Refuse what an LXD system container cannot honour.

    Raises:
        InvalidParamsError: a command, a fractional CPU count, a port without a host
            port, a hostname that differs from ``name``, or a volume name with a
            slash; the message says what to do instead.
    """
    if params.command:
        raise InvalidParamsError(
            "command does not apply to an lxc system container: it runs the image's "
            "own init; leave command out"
        )
    if params.cpu is not None and params.cpu != int(params.cpu):
        raise InvalidParamsError(
            f"cpu {params.cpu} is fractional; lxc limits.cpu takes whole cores"
        )
    for port in params.ports:
        _check_port(port)
    if params.hostname is not None and name is not None and params.hostname != name:
        raise InvalidParamsError(
            f"hostname {params.hostname!r} differs from the name {name!r}; an lxc "
            "container's hostname is its name, so leave hostname out or equal to it"
        )
    for volume in params.volumes:
        if not volume.is_host_path and "/" in volume.source:
            raise InvalidParamsError(
                f"volume source {volume.source!r} is neither an absolute host path "
                "nor a custom volume name (no slashes)"
            )


def _check_port(port: PortMapping) -> None:
    if port.host is None:
        raise InvalidParamsError(
            f"port {port.container}/{port.protocol} has no host port; lxc cannot "
            "choose a free one, so give the host port"
        )


def instance_config(
    task: TaskMark, name: str, fingerprint: str, params: CreateParams
) -> dict[str, Any]:
    """The body of ``client.instances.create`` for a container from an image."""
    return {
        "name": name,
        "type": "container",
        # Without the default profile the container has no root disk: LXD refuses
        # it with "No root device could be found".
        "profiles": ["default"],
        "source": {"type": "image", "fingerprint": fingerprint},
        "config": instance_keys(task, params),
        "devices": instance_devices(params),
    }


def instance_keys(task: TaskMark, params: CreateParams) -> dict[str, str]:
    """Instance config keys: labels as ``user.*``, env, limits, boot, security."""
    keys = {f"user.{label}": value for label, value in params.labels.items()}
    # Ours come last, so that no user label can fake a task or an owner.
    keys.update({f"user.{label}": value for label, value in task.labels().items()})
    keys.update({f"environment.{var}": value for var, value in params.env.items()})
    keys["boot.autostart"] = _flag(params.autostart)
    if params.cpu is not None:
        keys["limits.cpu"] = str(int(params.cpu))
    if params.memory is not None:
        keys["limits.memory"] = str(int(params.memory))
    if params.privileged:
        keys["security.privileged"] = "true"
    return keys


def instance_devices(params: CreateParams) -> dict[str, dict[str, str]]:
    """Proxy devices for ports, disk devices for volumes, a NIC for the network."""
    devices = {
        f"{PORT_DEVICE}-{index}": proxy_device(port)
        for index, port in enumerate(params.ports)
    }
    devices.update(
        {
            f"{VOLUME_DEVICE}-{index}": disk_device(volume)
            for index, volume in enumerate(params.volumes)
        }
    )
    devices.update(
        {
            f"{HOST_DEVICE}-{index}": {
                "type": "unix-char",
                "source": path,
                "path": path,
            }
            for index, path in enumerate(params.devices)
        }
    )
    if params.network is not None:
        # Named like the default profile's NIC, so it replaces that one.
        devices["eth0"] = {"type": "nic", "name": "eth0", "network": params.network}
    return devices


def proxy_device(port: PortMapping) -> dict[str, str]:
    """A proxy device listening on the host and connecting inside the container."""
    host_ip = str(port.host_ip) if port.host_ip is not None else "0.0.0.0"
    return {
        "type": "proxy",
        "listen": f"{port.protocol}:{_address(host_ip)}:{port.host}",
        "connect": f"{port.protocol}:{CONTAINER_ADDRESS}:{port.container}",
    }


def disk_device(volume: VolumeMount) -> dict[str, str]:
    """A disk device: a host path, or a custom volume of the default pool."""
    device = {"type": "disk", "source": volume.source, "path": volume.target}
    if not volume.is_host_path:
        device["pool"] = STORAGE_POOL
    if volume.read_only:
        device["readonly"] = "true"
    return device


def published_ports(devices: dict[str, dict[str, str]]) -> list[dict[str, object]]:
    """Ports as the proxy devices publish them, in the shape Docker's are reported."""
    ports = []
    for device in devices.values():
        if device.get("type") == "proxy" and "listen" in device:
            ports.append(_port_of(device))
    return sorted(ports, key=lambda port: str(port["container"]))


def _port_of(device: dict[str, str]) -> dict[str, object]:
    protocol, _, listen = device["listen"].partition(":")
    host_ip, _, host = listen.rpartition(":")
    container = device.get("connect", "").rpartition(":")[2]
    return {
        "container": _number(container),
        "protocol": protocol,
        "host_ip": host_ip.strip("[]"),
        "host": _number(host),
    }


def _number(text: str) -> int | str:
    # LXD also accepts port ranges ("8000-8010"); those stay as LXD wrote them.
    return int(text) if text.isdigit() else text


def _address(host_ip: str) -> str:
    # LXD's listen syntax wants an IPv6 address in brackets, as in a URL.
    return f"[{host_ip}]" if ipaddress.ip_address(host_ip).version == 6 else host_ip


def _flag(value: bool) -> str:
    return "true" if value else "false"
