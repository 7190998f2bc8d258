"""The operators' clients on the real RabbitMQ: ctstation tail, ctstation
dead-letters, and the example publisher against a running stack.

tail and dead-letters tests each get a vhost of their own, with the topology
declared, dropped at the end.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from click.testing import CliRunner, Result
from kombu import Connection, Producer

from contract.events import EventType, make_event
from contract.topology import DEAD, EVENTS, declare_topology
from ctstation.cli import main
from ctstation.tail import pika_parameters
from tests.integration.conftest import unique_name
from tests.integration.stack import RABBITMQ, Stack, rabbitmqctl

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = ROOT / "examples" / "publish_create.py"


@dataclass
class Broker:
    vhost: str

    @property
    def url(self) -> str:
        return f"{RABBITMQ}/{self.vhost}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "CTSTATION_BROKER_URL": self.url}

    def queues(self) -> list[str]:
        done = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "-p", self.vhost, "--no-table-headers"]
            + ["name"],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.split()

    def private_queues(self) -> list[str]:
        return [name for name in self.queues() if name.startswith("amq.gen-")]

    def publish(
        self,
        body: str | bytes,
        routing_key: str,
        exchange: Any = EVENTS,
        headers: dict[str, Any] | None = None,
    ) -> None:
        with Connection(self.url) as connection:
            Producer(connection.default_channel).publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                headers=headers,
                content_type="application/cloudevents+json",
                content_encoding="utf-8",
                delivery_mode=2,
            )

    def channel(self) -> Any:
        return pika.BlockingConnection(pika_parameters(self.url)).channel()

    def get(self, queue: str) -> tuple[Any, Any, bytes]:
        """The next message of a queue, taken: its method, properties and body."""
        channel = self.channel()
        try:
            return channel.basic_get(queue, auto_ack=True)
        finally:
            channel.connection.close()

    def depth(self, queue: str) -> int:
        with Connection(self.url) as connection:
            declared = connection.default_channel.queue_declare(queue, passive=True)
            return declared.message_count


@pytest.fixture
def broker() -> Iterator[Broker]:
    broker = Broker(f"ctstation-ops-{secrets.token_hex(4)}")
    rabbitmqctl("add_vhost", broker.vhost)
    try:
        rabbitmqctl("set_permissions", "-p", broker.vhost, "guest", ".*", ".*", ".*")
        with Connection(broker.url) as connection:
            declare_topology(connection)
        yield broker
    finally:
        rabbitmqctl("delete_vhost", broker.vhost)


def event(event_type: EventType, data: dict[str, Any], task: int | None = None) -> Any:
    return make_event(
        event_type, data, "test", subject=None if task is None else str(task)
    )


def task_event(event_type: EventType, task_id: int, user: str, state: str) -> Any:
    task = {"id": task_id, "user": user, "state": state, "detail_state": "pulling"}
    task.update(type="docker", name=f"c{task_id}", progress=None, container=None)
    return event(event_type, {"task": task}, task_id)


# ctstation tail


def start_tail(broker: Broker, *args: str) -> subprocess.Popen[str]:
    """A running ``ctstation tail``, once its queue is bound."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ctstation", "tail", *args],
        env=broker.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    ready = process.stderr.readline()
    assert ready.startswith("following ctstation.events"), ready
    return process


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    return stdout, stderr


def assert_no_queue_left(broker: Broker) -> None:
    deadline = time.monotonic() + 5
    while broker.private_queues() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert broker.private_queues() == []


def test_tail_shows_one_task_and_survives_garbage(broker: Broker) -> None:
    tail = start_tail(broker, "--task", "7", "--count", "3")

    broker.publish(b"\x00 not json", "task.progress")
    broker.publish('{"specversion": "1.0"}', "task.progress")
    progress = {"task_id": 8, "step": "pulling", "current": 1, "total": 9}
    broker.publish(
        event(EventType.TASK_PROGRESS, progress, 8).to_json(), "task.progress"
    )
    progress = {"task_id": 7, "step": "pulling", "current": 10, "total": 100}
    broker.publish(event(EventType.TASK_PROGRESS, progress).to_json(), "task.progress")
    changed = task_event(EventType.TASK_STATE_CHANGED, 7, "alice", "running")
    broker.publish(changed.to_json(), "task.state.changed")
    container = {"type": "docker", "name": "web 1", "id": "abc", "state": "running"}
    completed = event(EventType.TASK_COMPLETED, {"task_id": 7, "container": container})
    broker.publish(completed.to_json(), "task.completed")
    stdout, stderr = finish(tail)

    lines = stdout.splitlines()
    assert len(lines) == 3, stdout
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3} task\.progress +task=7 ", lines[0])
    assert lines[0].endswith("step=pulling bytes=10/100")
    assert "task.state.changed    task=7 state=running/pulling" in lines[1]
    assert lines[2].endswith('task=7 container="web 1" state=running')
    assert stderr.count("warning: skipped an unreadable message") == 2, stderr
    assert "Traceback" not in stderr
    assert_no_queue_left(broker)


def test_tail_json_follows_chosen_keys_and_a_users_tasks(broker: Broker) -> None:
    keys = "--key", "task.created", "--key", "task.progress"
    tail = start_tail(broker, *keys, "--user", "bob", "--json", "--count", "2")

    alices = task_event(EventType.TASK_CREATED, 1, "alice", "waiting")
    bobs = task_event(EventType.TASK_CREATED, 2, "bob", "waiting")
    aborted = event(
        EventType.TASK_ABORTED,
        {"task_id": 2, "step": "pulling", "code": "x", "reason": "y"},
        2,
    )
    progress_1 = event(EventType.TASK_PROGRESS, {"task_id": 1, "step": "pulling"}, 1)
    progress_2 = event(EventType.TASK_PROGRESS, {"task_id": 2, "step": "pulling"}, 2)
    broker.publish(alices.to_json(), "task.created")
    broker.publish(bobs.to_json(), "task.created")
    broker.publish(aborted.to_json(), "task.aborted")  # a key not followed
    broker.publish(progress_1.to_json(), "task.progress")
    broker.publish(progress_2.to_json(), "task.progress")
    stdout, _ = finish(tail)

    shown = [json.loads(line) for line in stdout.splitlines()]
    assert [envelope["id"] for envelope in shown] == [bobs.id, progress_2.id]
    assert shown[0] == json.loads(bobs.to_json())
    assert_no_queue_left(broker)


def test_ctrl_c_stops_tail_cleanly_and_its_queue_goes(broker: Broker) -> None:
    tail = start_tail(broker)
    assert len(broker.private_queues()) == 1

    tail.send_signal(signal.SIGINT)
    stdout, stderr = finish(tail)

    assert stdout == ""
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert_no_queue_left(broker)


# ctstation dead-letters


def cli(broker: Broker, *args: str) -> Result:
    return CliRunner().invoke(
        main, list(args), env={"CTSTATION_BROKER_URL": broker.url}
    )


def dead_letter(broker: Broker, body: str, queue: str, key: str, reason: str) -> None:
    """A dead letter as contract.bus.dead_letter makes it."""
    headers = {
        "x-ctstation-reason": reason,
        "x-ctstation-queue": queue,
        "x-ctstation-routing-key": key,
        "x-custom": "kept",
    }
    broker.publish(body, queue, exchange=DEAD, headers=headers)


def listed(broker: Broker) -> dict[str, Any]:
    result = cli(broker, "dead-letters", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def letters(broker: Broker) -> list[str]:
    """Three dead letters: an event, work, and a long event; their bodies."""
    request = event(EventType.CREATE_REQUESTED, {"user": "alice", "source": "nope"})
    work = event(EventType.WORK_CREATE, {"task_id": 3}, 3)
    progress = event(EventType.TASK_PROGRESS, {"task_id": 4, "notes": "x" * 300}, 4)
    bodies = [request.to_json(), work.to_json(), progress.to_json()]
    dead_letter(
        broker,
        bodies[0],
        "ctstation.orchestrator",
        "task.create.requested",
        "invalid data for ctstation.task.create.requested:\nsource: bad",
    )
    dead_letter(broker, bodies[1], "ctstation.work.docker", "docker", "no engine")
    dead_letter(broker, bodies[2], "ctstation.orchestrator", "task.progress", "bad")
    return bodies


def test_list_shows_dead_letters_in_order_and_keeps_them(
    broker: Broker, letters: list[str]
) -> None:
    first = listed(broker)
    again = listed(broker)
    text = cli(broker, "dead-letters", "list").output

    assert first == again
    assert first["count"] == 3
    assert [message["body"] for message in first["messages"]] == letters
    assert first["messages"][1] == {
        "index": 2,
        "reason": "no engine",
        "queue": "ctstation.work.docker",
        "routing_key": "docker",
        "content_type": "application/cloudevents+json",
        "body": letters[1],
    }
    assert text.startswith("3 message(s) in ctstation.dead-letters\n")
    assert "#1 from ctstation.orchestrator, routing key task.create.requested" in text
    assert "   reason: invalid data for ctstation.task.create.requested:\n" in text
    assert f"   body:   {letters[2][:200]}...\n" in text
    assert broker.depth("ctstation.dead-letters") == 3


def test_requeue_sends_work_and_events_back_without_our_headers(
    broker: Broker, letters: list[str]
) -> None:
    work = cli(broker, "dead-letters", "requeue", "2")
    request = cli(broker, "dead-letters", "requeue", "1")

    assert work.exit_code == 0, work.output
    assert "to ctstation.work with routing key docker" in work.output
    assert request.exit_code == 0, request.output
    _, properties, body = broker.get("ctstation.work.docker")
    assert body.decode() == letters[1]
    # x-delivery-count is the quorum queue's own, added on delivery.
    headers = dict(properties.headers)
    headers.pop("x-delivery-count", None)
    assert headers == {"x-custom": "kept"}
    assert properties.delivery_mode == 2
    method, _, body = broker.get("ctstation.orchestrator")
    assert body.decode() == letters[0]
    assert method.routing_key == "task.create.requested"
    remaining = listed(broker)["messages"]
    assert [(m["index"], m["body"]) for m in remaining] == [(1, letters[2])]


def test_requeue_of_a_message_the_broker_dead_lettered(broker: Broker) -> None:
    work = event(EventType.WORK_CREATE, {"task_id": 5}, 5).to_json()
    broker.publish(work, "lxc", exchange="ctstation.work")
    # Delivered and given back until the queue's delivery limit dead-letters it.
    channel = broker.channel()
    for _ in range(20):
        method, _, _ = channel.basic_get("ctstation.work.lxc")
        if method is None:
            break
        channel.basic_nack(method.delivery_tag, requeue=True)
    channel.connection.close()

    [letter] = listed(broker)["messages"]
    result = cli(broker, "dead-letters", "requeue", "1")

    assert (letter["queue"], letter["routing_key"]) == ("ctstation.work.lxc", "lxc")
    assert letter["reason"] == "delivery_limit"
    assert result.exit_code == 0, result.output
    _, properties, body = broker.get("ctstation.work.lxc")
    assert body.decode() == work
    assert "x-death" not in (properties.headers or {})
    assert broker.depth("ctstation.dead-letters") == 0


def test_requeue_of_a_missing_index_changes_nothing(
    broker: Broker, letters: list[str]
) -> None:
    result = cli(broker, "dead-letters", "requeue", "4")

    assert result.exit_code == 1
    assert "no dead letter #4: the queue holds 3" in result.output
    assert [m["body"] for m in listed(broker)["messages"]] == letters


def test_purge_needs_yes(broker: Broker, letters: list[str]) -> None:
    refused = cli(broker, "dead-letters", "purge")
    assert refused.exit_code == 2
    assert "purging deletes 3 message(s) for good; add --yes" in refused.output
    assert broker.depth("ctstation.dead-letters") == 3

    purged = cli(broker, "dead-letters", "purge", "--yes")

    assert purged.exit_code == 0
    assert purged.output == "purged 3 message(s)\n"
    assert broker.depth("ctstation.dead-letters") == 0


# The example publisher, against the whole stack


def publish_create(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PUBLISHER), "--url", stack.broker_url, "--user", "alice"]
        + ["--type", "docker", "--image", "ctstation-local/box", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_example_publisher_makes_a_container_and_follows_it(
    stack: Stack, docker_engine, made
) -> None:
    name = unique_name("pub")
    made.append(("docker", name))
    args = "--source", "local", "--name", name, "--idempotency-key", name

    done = publish_create(stack, *args, "--timeout", "90")
    repeated = publish_create(stack, *args, "--timeout", "30")

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("published request ")
    task_id = int(lines[1].split()[1].rstrip(":"))
    assert lines[1] == f"task {task_id}: waiting/queued"
    assert f"task {task_id}: completed/done" in lines
    assert lines[-1] == f"completed: docker container {name}"
    task = stack.get(f"/image/create/{task_id}").json()
    assert (task["state"], task["name"], task["from"]) == ("completed", name, "local")
    assert docker_engine.containers.get(name).status == "running"
    # The same idempotency key: the orchestrator's reply names the first task.
    assert repeated.returncode == 0, repeated.stdout + repeated.stderr
    assert repeated.stdout.splitlines()[1:] == [
        f"task {task_id}: completed/done",
        f"completed: docker container {name}",
    ]


def test_example_publisher_request_refused_is_in_the_dead_letters(
    stack: Stack,
) -> None:
    name = unique_name("bad")

    done = publish_create(
        stack, "--source", "nowhere", "--name", name, "--timeout", "30"
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused: the request was dead-lettered: invalid data" in done.stdout
    request_id = done.stdout.split()[2]
    messages = json.loads(stack.ctstation("dead-letters", "list", "--json"))["messages"]
    [letter] = [m for m in messages if json.loads(m["body"])["id"] == request_id]
    assert letter["queue"] == "ctstation.orchestrator"
    assert letter["routing_key"] == "task.create.requested"
    assert "invalid data for ctstation.task.create.requested" in letter["reason"]
    assert "source" in letter["reason"]


def test_tail_since_replays_a_finished_task_from_the_event_log(
    stack: Stack, made
) -> None:
    name = unique_name("since")
    made.append(("docker", name))
    task = stack.create(
        "local", "docker", {"name": name, "image": "ctstation-local/box"}
    )

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ctstation",
            "tail",
            "--since",
            "0",
            "--json",
            "--task",
            str(task["id"]),
            "--key",
            "task.#",
            "--count",
            "3",
        ],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["type"] for e in lines][0] == "ctstation.task.created"
    assert all(str(task["id"]) == e["subject"] for e in lines)
    assert len({e["id"] for e in lines}) == 3


def test_topic_patterns_match_as_the_broker_binds() -> None:
    from ctstation.tail import topic_matches

    assert topic_matches("#", "task.state.changed")
    assert topic_matches("task.#", "task")
    assert topic_matches("task.*.changed", "task.state.changed")
    assert not topic_matches("task.*", "task.state.changed")
    assert topic_matches("*.create.requested", "task.create.requested")
