"""Docker's inspect data as the container API shows it.

Pure functions over ``docker container inspect`` data, no engine I/O. The same
reading of a source's configuration serves ``executors.docker.clone``.
"""

from typing import Any

from contract.images import ContainerType
from executors.engine import (
    INSTALLATION_LABEL,
    ContainerDetails,
    ContainerRef,
    task_of,
    user_labels,
)

TYPE = ContainerType.DOCKER.value

NANO_CPUS_PER_CORE = 1_000_000_000

# Restart policies that start the container again when the daemon starts.
_AUTOSTART_POLICIES = ("always", "unless-stopped")


def container_details(attrs: dict[str, Any]) -> ContainerDetails:
    """The container as ``docker container inspect`` describes it."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    task_id, task_uid, owner = task_of(labels)
    return ContainerDetails(
        ref=ContainerRef(TYPE, attrs["Name"].lstrip("/"), attrs["Id"], task_id),
        state=str(attrs["State"]["Status"]).lower(),
        image=(attrs.get("Config") or {}).get("Image"),
        created=attrs.get("Created"),
        addresses=addresses(attrs),
        ports=published_ports(attrs),
        config=container_config(attrs),
        task_id=task_id,
        task_uid=task_uid,
        owner=owner,
        installation=labels.get(INSTALLATION_LABEL),
    )


def container_config(attrs: dict[str, Any]) -> dict[str, object]:
    """What a clone copies, in the keys ``ContainerDetails.config`` documents."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    return {
        "env": environment(config.get("Env")),
        "command": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "working_dir": config.get("WorkingDir") or None,
        "labels": user_labels(config.get("Labels") or {}),
        "cpu": cpu_cores(host),
        "memory": host.get("Memory") or None,
        "autostart": (host.get("RestartPolicy") or {}).get("Name")
        in _AUTOSTART_POLICIES,
        "hostname": explicit_hostname(attrs),
        "network": network_mode(host),
        "volumes": volumes(attrs),
        "privileged": bool(host.get("Privileged")),
    }


def environment(env: list[str] | None) -> dict[str, str]:
    """``["NAME=value", ...]`` as a dict; a bare ``NAME`` has the empty value."""
    pairs = (entry.partition("=") for entry in env or [])
    return {name: value for name, _, value in pairs}


def cpu_cores(host: dict[str, Any]) -> float | None:
    """The CPU limit in cores, set as ``--cpus`` or as a CFS quota and period."""
    if host.get("NanoCpus"):
        return float(host["NanoCpus"]) / NANO_CPUS_PER_CORE
    if host.get("CpuQuota", 0) > 0 and host.get("CpuPeriod"):
        return float(host["CpuQuota"]) / float(host["CpuPeriod"])
    return None


def explicit_hostname(attrs: dict[str, Any]) -> str | None:
    """The hostname a user gave, None for Docker's default of the short id.

    A container sharing the host's or another container's network has that
    one's hostname, which is not its own to copy either.
    """
    hostname = (attrs.get("Config") or {}).get("Hostname") or None
    mode = (attrs.get("HostConfig") or {}).get("NetworkMode") or ""
    if hostname == attrs["Id"][:12] or mode == "host" or mode.startswith("container:"):
        return None
    return hostname


def network_mode(host: dict[str, Any]) -> str | None:
    """The network the container was created on; None for the default bridge."""
    mode = host.get("NetworkMode") or None
    return None if mode == "default" else mode


def addresses(attrs: dict[str, Any]) -> list[str]:
    """The container's IPv4 address on each network it is connected to now."""
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    found = (network.get("IPAddress") for network in networks.values())
    return [address for address in found if address]


def volumes(attrs: dict[str, Any]) -> list[dict[str, object]]:
    """Every mount the container has: a volume by its name, a bind by its path."""
    return [
        {
            "source": mount.get("Name") or mount.get("Source"),
            "target": mount["Destination"],
            "read_only": not mount.get("RW", True),
        }
        for mount in attrs.get("Mounts") or []
    ]


def published_ports(attrs: dict[str, Any]) -> list[dict[str, object]]:
    """Ports as bound now, or as requested while the container is not running.

    ``NetworkSettings.Ports`` holds the real bindings (a port Docker chose included)
    only while the container runs; before that ``HostConfig.PortBindings`` says what
    was asked.
    """
    bound = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    asked = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    ports: list[dict[str, object]] = []
    for key, bindings in sorted((bound or asked).items()):
        container_port, _, protocol = key.partition("/")
        for binding in bindings or []:
            host = binding.get("HostPort")
            ports.append(
                {
                    "container": int(container_port),
                    "protocol": protocol or "tcp",
                    "host_ip": binding.get("HostIp") or "0.0.0.0",
                    "host": int(host) if host else None,
                }
            )
    return ports
