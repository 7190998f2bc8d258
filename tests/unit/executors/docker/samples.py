"""Inspect data of containers, as dockerd 20.10 returns it, for the unit tests."""

from typing import Any

CONTAINER_ID = "4f1c2d3e5a6b" + "0" * 52
UID = "5f0c9a8e-2b7d-4c1e-9a3f-6d2e8b1c4a70"


def inspect_data(**changes: Any) -> dict[str, Any]:
    """``docker container inspect`` of a running container of ours."""
    attrs: dict[str, Any] = {
        "Id": CONTAINER_ID,
        "Name": "/web",
        "Created": "2024-05-01T10:00:00.123456789Z",
        "State": {"Status": "running"},
        "Config": {
            "Hostname": "webhost",
            "Image": "nginx:1.25",
            "Env": ["A=1", "EMPTY=", "BARE"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "WorkingDir": "/srv",
            "Labels": {
                "ctstation.task": "7",
                "ctstation.task-uid": UID,
                "ctstation.user": "alice",
                "team": "qa",
            },
        },
        "HostConfig": {
            "NanoCpus": 1_500_000_000,
            "Memory": 64 * 1024 * 1024,
            "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
            "NetworkMode": "default",
            "Privileged": False,
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
        },
        "NetworkSettings": {
            "Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}]},
            "Networks": {
                "bridge": {"IPAddress": "172.17.0.2"},
                "backend": {"IPAddress": ""},
            },
        },
        "Mounts": [
            {"Type": "volume", "Name": "data", "Destination": "/data", "RW": True},
            {"Type": "bind", "Source": "/srv/conf", "Destination": "/c", "RW": False},
        ],
    }
    attrs.update(changes)
    return attrs
