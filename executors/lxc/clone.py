"""An LXD clone: the copy request, and the devices and notes of the copy.

Pure functions, no engine I/O. LXD copies an instance's files, config and devices
itself and drops the ``volatile.*`` keys that belong to one instance only (its
uuid, MAC addresses, last power state); what is left to decide is whose task the
copy is, and what becomes of host port bindings, which two containers cannot
share.
"""

from contract.params import PortMapping
from executors.engine import TaskMark, dropped_ports_note
from executors.lxc.params import PORT_DEVICE, proxy_device, published_ports

# A device of this type hides a device of the same name that a profile gives.
_MASK = {"type": "none"}


def copy_request(
    task: TaskMark, name: str, source: str, profiles: list[str]
) -> dict[str, object]:
    """The body of ``client.instances.create`` for a copy of ``source``."""
    return {
        "name": name,
        # Snapshots are the source's history, not part of a new container.
        "source": {"type": "copy", "source": source, "instance_only": True},
        # Without profiles the copy has no root disk: LXD refuses it with "No
        # root device could be found".
        "profiles": profiles,
        # Keys in the request win over the copied ones: the copy is the new
        # task's from its first moment, never one that names the source's task.
        "config": {f"user.{label}": value for label, value in task.labels().items()},
    }


def clone_devices(
    local: dict[str, dict[str, str]],
    expanded: dict[str, dict[str, str]],
    ports: list[PortMapping] | None,
) -> dict[str, dict[str, str]]:
    """The copy's own devices: no proxy of its source, a new one per port.

    ``local`` are the copy's own devices, ``expanded`` those with its profiles'.
    A proxy a profile gives is masked rather than left to fail the copy's start
    on a host port its source holds.
    """
    devices = {key: device for key, device in local.items() if not _is_proxy(device)}
    devices.update(
        {
            key: dict(_MASK)
            for key, device in expanded.items()
            if _is_proxy(device) and key not in local
        }
    )
    devices.update(
        {
            f"{PORT_DEVICE}-{index}": proxy_device(port)
            for index, port in enumerate(ports or [])
        }
    )
    return devices


def clone_notes(
    source: str,
    expanded: dict[str, dict[str, str]],
    ports: list[PortMapping] | None,
) -> list[str]:
    """What the copy does not have as its source has it, in words for the user.

    ``expanded`` are the source's devices, its profiles' included.
    """
    proxies = {key: device for key, device in expanded.items() if _is_proxy(device)}
    notes = [dropped_ports_note(source, published_ports(proxies), bool(ports))]
    shared = [
        f"{device['source']}->{device['path']}"
        for device in expanded.values()
        if device.get("type") == "disk" and device.get("path") != "/"
    ]
    if shared:
        notes.append(f"volumes shared with {source}: {', '.join(shared)}")
    return [note for note in notes if note is not None]


def _is_proxy(device: dict[str, str]) -> bool:
    return device.get("type") == "proxy"
