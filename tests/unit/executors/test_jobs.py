"""CreateJob: the steps of one task on an engine, with a fake engine."""

from contract.events import EventType
from contract.schemas import WorkCreate
from executors.engine import ContainerRef, TaskMark
from executors.jobs import CreateJob
from tests.fakes import FakeContainer, FakeEngine


def work(name: str = "web", uid: str = "uid-1") -> WorkCreate:
    return WorkCreate(
        task_id=1,
        task_uid=uid,
        user="alice",
        type="docker",
        source="local",
        image="busybox",
        tag="latest",
        name=name,
    )


def run(engine: FakeEngine, task: WorkCreate) -> list[tuple[EventType, dict]]:
    events: list[tuple[EventType, dict]] = []
    CreateJob(engine, task, lambda t, d: events.append((t, d.model_dump())), "x").run()
    return events


def test_steps_are_reported_in_order_and_end_completed() -> None:
    events = run(FakeEngine(), work())

    steps = [d["step"] for t, d in events if t == EventType.TASK_PROGRESS]
    assert steps == ["inspecting", "creating", "starting"]
    assert events[-1][0] == EventType.TASK_COMPLETED


def test_name_of_another_tasks_container_aborts_as_taken() -> None:
    engine = FakeEngine()
    engine.containers["web"] = FakeContainer(
        ContainerRef("docker", "web", "i", 9), "other-uid"
    )

    events = run(engine, work())

    kind, data = events[-1]
    assert kind == EventType.TASK_ABORTED
    assert data["code"] == "name_taken"
    assert "web" in engine.containers  # left alone


class RacingEngine(FakeEngine):
    """A twin delivery of the same task creates the container between our checks."""

    def find_task_container(self, task: TaskMark) -> ContainerRef | None:
        found = super().find_task_container(task)
        if found is None and not self.containers:
            twin = ContainerRef("docker", "web", "twin", task.id)
            self.containers["web"] = FakeContainer(twin, task.uid)
            return None
        return found


def test_twin_delivery_resumes_the_container_its_twin_made() -> None:
    engine = RacingEngine()

    events = run(engine, work())

    assert events[-1][0] == EventType.TASK_COMPLETED
    assert events[-1][1]["container"]["id"] == "twin"
    assert list(engine.containers) == ["web"]
    assert engine.containers["web"].state == "running"


def test_broker_away_at_the_final_report_does_not_abort_the_task() -> None:
    import pytest
    from kombu.exceptions import OperationalError

    engine = FakeEngine()
    events: list = []

    def emit(event_type, data) -> None:
        if event_type == EventType.TASK_COMPLETED:
            raise OperationalError("connection refused")
        events.append(event_type)

    with pytest.raises(OperationalError):
        CreateJob(engine, work(), emit, "x").run()

    assert EventType.TASK_ABORTED not in events
    assert engine.containers["web"].state == "running"  # kept for the redelivery
