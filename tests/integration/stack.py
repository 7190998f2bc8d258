"""The real ctstation: each service a process, on RabbitMQ, SQL and real engines.

Each stack gets a RabbitMQ virtual host of its own, so its durable queues neither see
nor leave anything behind for other runs.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672"
REGISTRY_URL = "http://127.0.0.1:5000"
CATALOG_URL = "http://127.0.0.1:8780/index.json"
SERVICES = ("orchestrator", "executor docker", "executor lxc", "gateway")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


@dataclass
class Stack:
    """A running ctstation; ``stop`` ends its processes and drops its vhost."""

    workdir: Path
    database_url: str
    vhost: str = field(default_factory=lambda: f"ctstation-test-{secrets.token_hex(4)}")
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def broker_url(self) -> str:
        return f"{RABBITMQ}/{self.vhost}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CTSTATION_BROKER_URL": self.broker_url,
            "CTSTATION_DATABASE_URL": self.database_url,
            "CTSTATION_LISTEN": f"127.0.0.1:{self.port}",
            "CTSTATION_DOCKERHUB_REGISTRY": REGISTRY_URL,
            "CTSTATION_CATALOG_URL": CATALOG_URL,
            "CTSTATION_RPC_TIMEOUT": "20",
            # One task at a time per executor, so that a test can hold a task
            # in the waiting state behind a slow one.
            "CTSTATION_EXECUTOR_CONCURRENCY": "1",
            "CTSTATION_LOG_LEVEL": "INFO",
        }

    def ctstation(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ctstation", *args],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def start(self) -> None:
        rabbitmqctl("add_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        self.ctstation("db-upgrade")
        self.tokens["alice"] = self.ctstation("user", "add", "alice").split()[-1]
        self.tokens["bob"] = self.ctstation("user", "add", "bob").split()[-1]
        self.tokens["root"] = self.ctstation("user", "add", "root", "--admin").split()[
            -1
        ]
        for service in SERVICES:
            self.start_service(service)
        self.wait_ready()

    def start_service(self, service: str) -> None:
        log = open(self.workdir / f"{service.replace(' ', '-')}.log", "ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", "ctstation", *service.split()],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the gateway answers and both executors answer a pre-inspection."""
        deadline = time.monotonic() + timeout
        probes = [
            ("local", "docker", "ctstation-local/box"),
            ("local", "lxc", "busybox"),
        ]
        while probes and time.monotonic() < deadline:
            source, kind, image = probes[0]
            try:
                response = self.post(f"/image/create/{source}/{kind}", {"image": image})
                if response.status_code == 200:
                    probes.pop(0)
                    continue
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        if probes:
            raise RuntimeError(f"stack not ready: {probes}; see {self.workdir}")

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, path: str, body: Any, user: str = "alice") -> requests.Response:
        return requests.post(
            self.url + path, json=body, headers=self.headers(user), timeout=60
        )

    def get(self, path: str, user: str = "alice") -> requests.Response:
        return requests.get(self.url + path, headers=self.headers(user), timeout=30)

    def put(self, path: str, user: str = "alice") -> requests.Response:
        return requests.put(self.url + path, headers=self.headers(user), timeout=60)

    def delete(self, path: str, user: str = "alice") -> requests.Response:
        return requests.delete(self.url + path, headers=self.headers(user), timeout=30)

    def wait_final(
        self, task_id: int, timeout: float = 120, user: str = "alice"
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        task: dict[str, Any] = {}
        while time.monotonic() < deadline:
            task = self.get(f"/image/create/{task_id}", user).json()
            if task["state"] in ("completed", "aborted"):
                return task
            time.sleep(0.2)
        raise AssertionError(f"task {task_id} did not end in {timeout} s: {task}")

    def create(
        self, source: str, kind: str, body: dict[str, Any], user: str = "alice"
    ) -> dict[str, Any]:
        """Ask for a container and wait for its task to end."""
        response = self.post(f"/image/create/{source}/{kind}", body, user)
        assert response.status_code == 202, response.text
        return self.wait_final(response.json()["id"], user=user)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        try:
            rabbitmqctl("delete_vhost", self.vhost)
        except subprocess.CalledProcessError:
            pass
