"""A whole ctstation in one process: kombu's memory transport, SQLite, a fake engine."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from kombu.transport import memory

from contract.bus import connect
from ctstation import runtime
from ctstation.config import Settings
from executors.service import ExecutorService
from gateway.users import UserStore
from orchestrator.tasks import TaskStore
from tests.fakes import FakeEngine


def reset_memory_broker() -> None:
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()


@dataclass
class Stack:
    client: FlaskClient
    engine: FakeEngine
    tasks: TaskStore
    users: UserStore
    tokens: dict[str, str]

    def auth(self, user: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, path: str, body: Any, user: str = "alice") -> Any:
        return self.client.post(f"/api/v1{path}", json=body, headers=self.auth(user))

    def get(self, path: str, user: str = "alice") -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.auth(user))

    def put(self, path: str, user: str = "alice") -> Any:
        return self.client.put(f"/api/v1{path}", headers=self.auth(user))

    def delete(self, path: str, user: str = "alice") -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self.auth(user))

    def wait_final(
        self, task_id: int, timeout: float = 10, user: str = "alice"
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.get(f"/image/create/{task_id}", user).get_json()
            if task["state"] in ("completed", "aborted"):
                return task
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} did not end: {task}")


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(
        broker_url="memory://",
        database_url=f"sqlite:///{tmp_path}/ctstation.db",
        rpc_timeout=3,
        executors=["docker"],
        health_dir=str(tmp_path / "health"),
    )


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    reset_memory_broker()
    sessions = runtime.open_database(settings)
    users = UserStore(sessions)
    tokens = {
        "alice": users.add("alice", "alice-password"),
        "bob": users.add("bob", None),
        "root": users.add("root", None, admin=True),
    }
    engine = FakeEngine()
    executor = ExecutorService(connect(settings.broker_url), engine)
    services = [runtime.make_orchestrator(settings, sessions), executor]
    background = runtime.run_in_background(services, ["orchestrator", "executor"])
    # Its question queue exists only once it consumes; a question sent before
    # would find no queue and go unanswered.
    assert executor.consuming.wait(10), "the executor never started consuming"
    app, bus = runtime.make_gateway(settings, sessions)
    try:
        yield Stack(app.test_client(), engine, TaskStore(sessions), users, tokens)
    finally:
        if engine.pull_gate is not None:
            engine.pull_gate.set()  # no job may outlive its test
        background.stop()
        bus.stop()
