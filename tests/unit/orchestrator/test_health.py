"""`ctstation health` tells a consuming service from one whose consumer is gone."""

import time

from click.testing import CliRunner

from ctstation import runtime
from ctstation.cli import main
from ctstation.config import Settings
from tests.unit.conftest import reset_memory_broker


def health(settings: Settings, service: str) -> tuple[int, str]:
    env = {"CTSTATION_HEALTH_DIR": settings.health_dir}
    result = CliRunner().invoke(main, ["health", service, "--max-age", "1"], env=env)
    return result.exit_code, result.output


def test_consumer_is_healthy_while_it_consumes_and_not_after(settings) -> None:
    reset_memory_broker()
    sessions = runtime.open_database(settings)
    orchestrator = runtime.make_orchestrator(settings, sessions)
    assert health(settings, "orchestrator")[0] == 1  # never consumed yet

    background = runtime.run_in_background([orchestrator], ["orchestrator"])
    try:
        deadline = time.monotonic() + 5
        while health(settings, "orchestrator")[0] != 0:
            assert time.monotonic() < deadline, "never became healthy"
            time.sleep(0.1)
    finally:
        background.stop()
    time.sleep(1.5)

    code, output = health(settings, "orchestrator")
    assert code == 1
    assert "unhealthy" in output
