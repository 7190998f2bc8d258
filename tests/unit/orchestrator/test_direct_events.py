"""Requested events published straight to the bus, without the gateway."""

import time

from kombu import Connection

from contract.bus import publish
from contract.events import EventType, make_event
from contract.schemas import CreateRequested
from contract.topology import EVENTS
from tests.unit.conftest import Stack


def publish_request(name: str, user: str = "alice") -> None:
    request = CreateRequested(user=user, type="docker", source="dockerhub",
                              image="busybox", name=name)
    event = make_event(EventType.CREATE_REQUESTED, request.model_dump(mode="json"),
                       "some-service")
    with Connection("memory://localhost/") as connection:
        publish(connection.Producer(), event, EVENTS,
                EventType.CREATE_REQUESTED.routing_key)


def wait_for_tasks(stack: Stack, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tasks = stack.get("/image/create/", user="root").get_json()
        if len(tasks) >= count:
            return tasks
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} tasks")


def test_directly_published_request_becomes_a_task(stack: Stack) -> None:
    publish_request("direct")

    [task] = wait_for_tasks(stack, 1)

    assert stack.wait_final(task["id"])["state"] == "completed"
    assert "direct" in stack.engine.containers


def test_direct_request_for_a_held_name_becomes_a_rejected_task(stack) -> None:
    import threading

    stack.engine.pull_gate = threading.Event()
    publish_request("web")
    wait_for_tasks(stack, 1)

    publish_request("web")
    tasks = wait_for_tasks(stack, 2)

    stack.engine.pull_gate.set()
    rejected = tasks[1]
    assert rejected["state"] == "aborted"
    assert rejected["detail_state"].startswith("rejected: ")
    assert f"task {tasks[0]['id']}" in rejected["detail_state"]


def dead_letters() -> list:
    from kombu import Connection

    from contract.topology import DEAD_LETTERS

    found = []
    with Connection("memory://localhost/") as connection:
        queue = DEAD_LETTERS(connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            found.append(message)
    return found


def test_poison_event_is_dead_lettered_and_consuming_goes_on(stack: Stack) -> None:
    from contract.schemas import TaskProgress

    event = make_event(EventType.TASK_PROGRESS, {"task_id": 2**70, "step": "pulling"},
                       "mallory")
    with Connection("memory://localhost/") as connection:
        publish(connection.Producer(), event, EVENTS,
                EventType.TASK_PROGRESS.routing_key)
    assert TaskProgress  # the schema that refuses it
    publish_request("after")

    [task] = wait_for_tasks(stack, 1)

    assert stack.wait_final(task["id"])["state"] == "completed"
    [dead] = dead_letters()
    assert "task_id" in dead.headers["x-ctstation-reason"]


def test_request_past_its_deadline_makes_no_task(stack: Stack) -> None:
    from datetime import UTC, datetime, timedelta

    request = CreateRequested(user="alice", type="docker", source="dockerhub",
                              image="busybox", name="late")
    event = make_event(EventType.CREATE_REQUESTED, request.model_dump(mode="json"),
                       "gateway")
    event.deadline = datetime.now(UTC) - timedelta(seconds=1)
    with Connection("memory://localhost/") as connection:
        publish(connection.Producer(), event, EVENTS,
                EventType.CREATE_REQUESTED.routing_key)
    publish_request("in-time")

    [task] = wait_for_tasks(stack, 1)

    assert task["name"] == "in-time"
