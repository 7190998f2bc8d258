"""The gateway under a broker that is away or blocks publishers."""

import subprocess
import time

import pytest

from tests.integration.conftest import unique_name
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def test_blocked_broker_answers_503_in_bounded_time_and_makes_no_task(
    stack: Stack,
) -> None:
    before = len(stack.get("/image/create/").json())
    watermark = subprocess.run(
        [
            "rabbitmqctl",
            "-q",
            "eval",
            "vm_memory_monitor:get_vm_memory_high_watermark().",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A memory alarm: RabbitMQ blocks every publishing connection.
    subprocess.run(
        ["rabbitmqctl", "-q", "set_vm_memory_high_watermark", "0.00001"], check=True
    )
    try:
        started = time.monotonic()
        response = stack.post(
            "/image/create/local/docker",
            {"name": unique_name("blk"), "image": "ctstation-local/box"},
        )
        elapsed = time.monotonic() - started
    finally:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_vm_memory_high_watermark", watermark],
            check=True,
        )

    assert response.status_code == 503, response.text
    assert elapsed < 30
    time.sleep(2)
    assert len(stack.get("/image/create/").json()) == before


def test_question_to_a_type_with_no_executor_is_503_at_once(stack: Stack) -> None:
    executor = stack.processes["executor docker"]
    executor.kill()
    executor.wait()
    try:
        started = time.monotonic()
        response = stack.post(
            "/image/create/local/docker", {"image": "ctstation-local/box"}
        )
        elapsed = time.monotonic() - started
    finally:
        stack.start_service("executor docker")
        stack.wait_ready()

    assert response.status_code == 503, response.text
    assert "docker executor" in response.json()["error"]["message"]
    assert elapsed < 5
