"""A Docker clone's create arguments, derived from its source's inspect data.

Pure functions, no engine I/O. A clone is a container of an image committed from
its source, created with the source's configuration; what it cannot share (host
port bindings) or copy (the data of anonymous volumes) its notes say.
"""

import re
from typing import Any

from docker.types import Mount

from contract.params import PortMapping
from executors.docker import details
from executors.docker.params import port_bindings
from executors.engine import TaskMark, dropped_ports_note, user_labels

CLONE_REPOSITORY = "ctstation-clone"

# Docker's rule for a path component of a repository: lower case alphanumerics
# joined by separators; any other run of characters becomes one "-".
_NOT_IN_REPOSITORY = re.compile(r"[^a-z0-9]+")


def clone_image(name: str, task: TaskMark) -> tuple[str, str]:
    """Repository and tag of the image a clone named ``name`` is committed to."""
    component = _NOT_IN_REPOSITORY.sub("-", name.lower()).strip("-") or "clone"
    return f"{CLONE_REPOSITORY}/{component}", f"task-{task.id}"


def clone_kwargs(
    task: TaskMark,
    name: str,
    image: str,
    attrs: dict[str, Any],
    ports: list[PortMapping] | None,
) -> dict[str, Any]:
    """Keyword arguments for ``DockerClient.containers.create`` of the clone.

    Known limitation: host settings beyond these (capabilities, devices, DNS,
    extra hosts, ulimits, log config) are not copied; the image settings the
    commit carries (user, exposed ports, stop signal, volumes) are.
    """
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    kwargs: dict[str, Any] = {
        "image": image,
        "name": name,
        # The source's labels of ours name its task; the clone belongs to ``task``.
        "labels": {**user_labels(config.get("Labels") or {}), **task.labels()},
        "environment": details.environment(config.get("Env")),
        "privileged": bool(host.get("Privileged")),
        # A shell kept alive by its terminal exits at once without one.
        "tty": bool(config.get("Tty")),
        "stdin_open": bool(config.get("OpenStdin")),
        "detach": True,
    }
    optional = {
        "command": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "working_dir": config.get("WorkingDir") or None,
        "hostname": details.explicit_hostname(attrs),
        "mounts": clone_mounts(host) or None,
        "ports": port_bindings(ports) if ports else None,
        **_limits(host),
        **_network(host),
    }
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    return kwargs


def _limits(host: dict[str, Any]) -> dict[str, Any]:
    """CPU and memory limits and the restart policy, each None where unset."""
    policy = host.get("RestartPolicy") or {}
    quota = host.get("CpuQuota") or 0
    return {
        "nano_cpus": host.get("NanoCpus") or None,
        "cpu_quota": quota if quota > 0 else None,
        "cpu_period": host.get("CpuPeriod") or None,
        "cpuset_cpus": host.get("CpusetCpus") or None,
        "mem_limit": host.get("Memory") or None,
        "memswap_limit": host.get("MemorySwap") or None,
        "restart_policy": policy if policy.get("Name") else None,
    }


def _network(host: dict[str, Any]) -> dict[str, Any]:
    """The network (or network mode) the clone is created on."""
    mode = details.network_mode(host)
    if mode is None:
        return {}
    if mode.startswith("container:"):
        return {"network_mode": mode}
    return {"network": mode}


def extra_networks(attrs: dict[str, Any]) -> list[str]:
    """Networks the source was connected to besides the one it was created on.

    The daemon connects a new container to one network only (API 1.41); the
    clone is connected to these after its create.
    """
    primary = details.network_mode(attrs.get("HostConfig") or {}) or "bridge"
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return sorted(network for network in networks if network != primary)


def clone_mounts(host: dict[str, Any]) -> list[Mount]:
    """The source's binds and named volumes, the same ones: both are shared.

    An anonymous volume is left out: the clone gets a new, empty one where the
    image declares it.
    """
    mounts = [_bind_mount(bind) for bind in host.get("Binds") or []]
    for mount in host.get("Mounts") or []:
        if mount.get("Type") == "tmpfs" or mount.get("Source"):
            mounts.append(
                Mount(
                    target=mount["Target"],
                    source=mount.get("Source"),
                    type=mount.get("Type", "volume"),
                    read_only=bool(mount.get("ReadOnly")),
                )
            )
    return mounts


def _bind_mount(bind: str) -> Mount:
    """``source:target[:options]`` of ``HostConfig.Binds`` as a mount."""
    source, _, rest = bind.partition(":")
    target, _, options = rest.partition(":")
    return Mount(
        target=target,
        source=source,
        type="bind" if source.startswith("/") else "volume",
        read_only="ro" in options.split(","),
    )


def clone_notes(
    source: str,
    attrs: dict[str, Any],
    source_ports: list[dict[str, object]],
    ports: list[PortMapping] | None,
) -> list[str]:
    """What the clone does not have as its source has it, in words for the user."""
    host = attrs.get("HostConfig") or {}
    shared = [mount for mount in clone_mounts(host) if mount["Type"] != "tmpfs"]
    targets = {mount["Target"] for mount in shared}
    anonymous = [
        mount["Destination"]
        for mount in attrs.get("Mounts") or []
        if mount.get("Type") == "volume" and mount["Destination"] not in targets
    ]
    notes = [dropped_ports_note(source, source_ports, replaced=bool(ports))]
    if shared:
        mounts = ", ".join(f"{m['Source']}->{m['Target']}" for m in shared)
        notes.append(f"volumes shared with {source}: {mounts}")
    if anonymous:
        notes.append(
            f"anonymous volumes of {source} start empty: {', '.join(anonymous)}"
        )
    return [note for note in notes if note is not None]
