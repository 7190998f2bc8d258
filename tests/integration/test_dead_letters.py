"""Garbage on the bus lands in the dead-letter queue, and the stack goes on."""

import json
import uuid
from datetime import UTC, datetime

import pika
import pytest

from tests.integration.conftest import unique_name
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

DEAD_LETTERS = "ctstation.dead-letters"


def envelope(event_type: str, data: object) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/test",
            "type": event_type,
            "time": datetime.now(UTC).isoformat(),
            "data": data,
        }
    ).encode()


GARBAGE = [
    # (exchange, routing key, body, headers, words expected in the reason)
    ("ctstation.events", "task.create.requested", b"not json {", None, "not JSON"),
    ("ctstation.events", "task.create.requested", b"[1, 2]", None, "JSON object"),
    ("ctstation.events", "task.create.requested", b"\xff\xfe\x00", None, "not JSON"),
    (
        "ctstation.events",
        "task.create.requested",
        envelope("ctstation.task.exploded", {}),
        None,
        "unknown event type",
    ),
    (
        "ctstation.events",
        "task.create.requested",
        envelope("ctstation.task.create.requested", {"user": "alice"}),
        None,
        "invalid data",
    ),
    (
        "ctstation.events",
        "task.progress",
        envelope("ctstation.task.progress", {"task_id": 2**70, "step": "x"}),
        None,
        "invalid data",
    ),
    (
        "ctstation.events",
        "task.create.requested",
        envelope(
            "ctstation.task.create.requested",
            {
                "user": "nobody",
                "type": "docker",
                "source": "local",
                "image": "busybox",
                "name": "x",
            },
        ),
        None,
        "unknown user",
    ),
    (
        "ctstation.events",
        "task.create.requested",
        b"{}",
        {"x-weird": {"nested": [1, 2]}, "x-ctstation-reason": "spoofed"},
        "not a CloudEvents envelope",
    ),
    ("ctstation.work", "docker", b"garbage", None, "not JSON"),
    (
        "ctstation.work",
        "lxc",
        envelope("ctstation.work.create", {"task_id": "x"}),
        None,
        "task_id",
    ),
    ("", "ctstation.orchestrator", b"straight into the queue", None, "not JSON"),
    (
        "",
        "ctstation.work.docker",
        envelope("ctstation.work.explode", {}),
        None,
        "unknown work type",
    ),
]


def test_garbage_is_dead_lettered_with_reasons_and_the_next_create_completes(
    stack: Stack, made, docker_engine
) -> None:
    params = pika.URLParameters(stack.broker_url)
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_purge(DEAD_LETTERS)
        for exchange, key, body, headers, _ in GARBAGE:
            channel.basic_publish(
                exchange,
                key,
                body,
                pika.BasicProperties(headers=headers, delivery_mode=2),
            )

    name = unique_name("after")
    made.append(("docker", name))
    task = stack.create(
        "local", "docker", {"name": name, "image": "ctstation-local/box"}
    )

    assert task["state"] == "completed"
    reasons = _dead_letter_reasons(stack)
    assert len(reasons) == len(GARBAGE), reasons
    for _, _, _, _, words in GARBAGE:
        assert any(words in reason for reason in reasons), (words, reasons)
    assert "spoofed" not in reasons
    for service, process in stack.processes.items():
        assert process.poll() is None, f"{service} exited"


def _dead_letter_reasons(stack: Stack) -> list[str]:
    params = pika.URLParameters(stack.broker_url)
    reasons = []
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        while True:
            method, properties, _ = channel.basic_get(DEAD_LETTERS, auto_ack=True)
            if method is None:
                return reasons
            reasons.append((properties.headers or {}).get("x-ctstation-reason", ""))
