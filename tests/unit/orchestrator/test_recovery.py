"""The single-process mode loses its queues on restart, never its tasks."""

import time

from contract.bus import connect
from contract.schemas import CreateRequested
from ctstation import runtime
from ctstation.config import Settings
from executors.service import ExecutorService
from gateway.users import UserStore
from orchestrator.tasks import TaskStore
from tests.fakes import FakeEngine
from tests.unit.conftest import reset_memory_broker


def test_waiting_task_is_queued_again_when_serve_restarts(settings: Settings) -> None:
    reset_memory_broker()
    sessions = runtime.open_database(settings)
    UserStore(sessions).add("alice", None)
    store = TaskStore(sessions)
    # A task stored before a crash, whose queued work died with the process.
    request = CreateRequested(
        user="alice", type="docker", source="local", image="busybox", name="web"
    )
    task, _ = store.add(request, "uid-before-crash", time.time())
    engine = FakeEngine()

    services = [
        runtime.make_orchestrator(settings, sessions),
        ExecutorService(connect(settings.broker_url), engine),
    ]
    background = runtime.run_in_background(services, ["orchestrator", "executor"])
    try:
        deadline = time.monotonic() + 10
        while store.get(task.id).state != "completed" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        background.stop()

    assert store.get(task.id).state == "completed"
    assert engine.containers["web"].uid == "uid-before-crash"
