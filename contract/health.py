"""Liveness of a consumer service, as a file touched while it consumes.

A consumer loop beats between deliveries; when its broker connection is gone the
loop stops beating, the file's age grows, and ``ctstation health`` (a container
health check) reports the service unhealthy.
"""

import os
import time
from pathlib import Path

# The longest a healthy loop goes without a beat is its drain timeout (under a
# second); this leaves room for a busy machine.
DEFAULT_MAX_AGE = 15.0
BEAT_EVERY = 1.0


class Heartbeat:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = 0.0

    def beat(self) -> None:
        """Touch the file, at most once a second."""
        now = time.monotonic()
        if now - self._last < BEAT_EVERY:
            return
        self._last = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()


def heartbeat_path(health_dir: str, service: str) -> Path:
    return Path(health_dir) / f"{service}.alive"


def age(path: Path) -> float | None:
    """Seconds since the last beat, or None when there never was one."""
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None
