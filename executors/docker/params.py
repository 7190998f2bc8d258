"""Create params mapped onto the Docker SDK's ``containers.create`` arguments.

Pure functions, no engine I/O: the mapping is what unit tests pin down, and the
engine adapter only passes the result to the daemon.
"""

import re
from typing import Any

from docker.types import Mount

from contract.params import CreateParams, PortMapping, VolumeMount
from executors.engine import TaskMark
from executors.errors import InvalidParamsError

NANO_CPUS_PER_CORE = 1_000_000_000

# Docker's rule for volume names (daemon/names: RestrictedNamePattern).
_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

RESTART_UNLESS_STOPPED = {"Name": "unless-stopped", "MaximumRetryCount": 0}


def check_params(params: CreateParams) -> None:
    """Refuse what Docker cannot do with these params.

    Raises:
        InvalidParamsError: a named volume whose name Docker would refuse.
    """
    for volume in params.volumes:
        if not volume.is_host_path and not _VOLUME_NAME.match(volume.source):
            raise InvalidParamsError(
                f"volume source {volume.source!r} is neither an absolute host path "
                "nor a valid Docker volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"
            )


def container_labels(task: TaskMark, params: CreateParams) -> dict[str, str]:
    """The user's labels plus ours; ours win, so that no user can fake a task."""
    return {**params.labels, **task.labels()}


def create_kwargs(
    task: TaskMark, name: str, image: str, params: CreateParams
) -> dict[str, Any]:
    """Keyword arguments for ``DockerClient.containers.create``."""
    kwargs: dict[str, Any] = {
        "image": image,
        "name": name,
        "labels": container_labels(task, params),
        "environment": dict(params.env),
        "privileged": params.privileged,
        "detach": True,
    }
    optional = {
        "command": params.command,
        "nano_cpus": _nano_cpus(params.cpu),
        "mem_limit": int(params.memory) if params.memory is not None else None,
        "ports": port_bindings(params.ports) or None,
        "mounts": [mount(volume) for volume in params.volumes] or None,
        "network": params.network,
        "hostname": params.hostname,
        "restart_policy": RESTART_UNLESS_STOPPED if params.autostart else None,
        "devices": [f"{path}:{path}:rwm" for path in params.devices] or None,
    }
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    return kwargs


def _nano_cpus(cpu: float | None) -> int | None:
    return round(cpu * NANO_CPUS_PER_CORE) if cpu is not None else None


def port_bindings(
    ports: list[PortMapping],
) -> dict[str, list[tuple[str, int | None]]]:
    """``ports`` for the SDK: ``{"80/tcp": [(host_ip, host_port), ...]}``.

    An empty host IP binds every address; a host port of None lets Docker choose a
    free one. A list keeps several host bindings of one container port.
    """
    bindings: dict[str, list[tuple[str, int | None]]] = {}
    for port in ports:
        host_ip = str(port.host_ip) if port.host_ip is not None else ""
        key = f"{port.container}/{port.protocol}"
        bindings.setdefault(key, []).append((host_ip, port.host))
    return bindings


def mount(volume: VolumeMount) -> Mount:
    """A bind mount for a host path, a (created on demand) named volume otherwise.

    ``Mounts`` rather than ``Binds``: a missing host path is refused by the daemon
    instead of being silently created as an empty root-owned directory.
    """
    kind = "bind" if volume.is_host_path else "volume"
    return Mount(
        target=volume.target,
        source=volume.source,
        type=kind,
        read_only=volume.read_only,
    )
