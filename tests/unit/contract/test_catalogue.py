"""The event catalogue covers every event type, its examples are valid, and the
documents generated from it are the ones committed."""

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from contract import catalogue
from contract.bus import dead_letter
from contract.catalogue import BY_TYPE, CATALOGUE, Event, example_envelope
from contract.events import EventType, parse_event
from contract.schemas import (
    ORCHESTRATOR_INPUTS,
    WORK_INPUTS,
    CloneRequested,
    ContainerSummary,
    CreateRequested,
    Step,
    TaskEventData,
    TaskView,
)
from contract.topology import EVENTS, WORK, orchestrator_queue

REGENERATE = "stale; regenerate with `python -m contract.catalogue`"


@pytest.mark.parametrize("path", sorted(catalogue.rendered()), ids=lambda p: p.name)
def test_committed_documents_are_what_the_generator_renders(path: Path) -> None:
    committed = path.read_text(encoding="utf-8") if path.exists() else ""

    assert committed == catalogue.rendered()[path], f"{path.name} is {REGENERATE}"


def test_every_event_type_is_in_the_catalogue_once() -> None:
    assert [event.type for event in CATALOGUE] == list(EventType)


@pytest.mark.parametrize("event", CATALOGUE, ids=lambda event: event.name)
def test_example_validates_against_its_model(event: Event) -> None:
    parsed = event.model.model_validate(event.example)

    assert parsed.model_dump(mode="json", by_alias=True) == event.example


@pytest.mark.parametrize(
    "event", [e for e in CATALOGUE if e.enveloped], ids=lambda event: event.name
)
def test_example_envelope_is_read_as_the_services_read_it(event: Event) -> None:
    envelope = parse_event(json.dumps(example_envelope(event)))

    assert envelope.type == event.type.value
    event.model.model_validate(envelope.data)


def test_catalogue_models_are_those_the_services_accept() -> None:
    for event_type, model in {**ORCHESTRATOR_INPUTS, **WORK_INPUTS}.items():
        assert BY_TYPE[EventType(event_type)].model is model


def test_orchestrator_queue_receives_exactly_its_inputs() -> None:
    name = orchestrator_queue().name
    received = {
        event.type
        for event in CATALOGUE
        if name in {queue.name for queue in catalogue.queues_of(event)}
    }

    assert received == set(ORCHESTRATOR_INPUTS)
    assert all(BY_TYPE[t].exchange == EVENTS.name for t in received)


def test_work_goes_to_the_work_exchange() -> None:
    assert {e.type for e in CATALOGUE if e.exchange == WORK.name} == set(WORK_INPUTS)


def test_topic_patterns_match_as_rabbitmq_does() -> None:
    assert catalogue.topic_matches("task.*.requested", "task.create.requested")
    assert not catalogue.topic_matches("task.*.requested", "task.requested")
    assert catalogue.topic_matches("#", "task.state.changed")
    assert catalogue.topic_matches("task.#", "task.state.changed")
    assert not catalogue.topic_matches("task.*", "task.state.changed")


def test_task_event_data_is_the_task_as_the_orchestrator_sends_it(
    tmp_path: Path,
) -> None:
    from orchestrator.db import Base, make_engine, make_sessionmaker
    from orchestrator.tasks import TaskStore, task_to_dict

    engine = make_engine(f"sqlite:///{tmp_path / 'tasks.db'}")
    Base.metadata.create_all(engine)
    store = TaskStore(make_sessionmaker(engine))
    create = CreateRequested.model_validate(BY_TYPE[EventType.CREATE_REQUESTED].example)
    clone = CloneRequested.model_validate(BY_TYPE[EventType.CLONE_REQUESTED].example)
    waiting, _ = store.add(create, "request-1", 1000.0)
    running, _ = store.add(create.model_copy(update={"name": "two"}), "request-2", 1)
    store.begin_running(running.id, Step.PULLING, 2.0)
    store.record_progress(running.id, Step.PULLING, 5, 10, 3.0)
    completed, _ = store.add(clone, "request-3", 1.0)
    container = ContainerSummary.model_validate(
        BY_TYPE[EventType.TASK_COMPLETED].example["container"]
    )
    store.complete(completed.id, container.model_dump(mode="json"), ["a note"], 4.0)
    rejected = store.add_rejected(clone, "request-4", 1.0, "name taken")
    cancelled, _ = store.add(create.model_copy(update={"name": "three"}), "r-5", 1)
    store.cancel(cancelled.id, 5.0)

    for task_id in (waiting.id, running.id, completed.id, rejected.id, cancelled.id):
        task = store.get(task_id)
        TaskEventData.model_validate({"task": task_to_dict(task)})


def test_task_states_are_the_state_machines() -> None:
    from orchestrator.states import TaskState

    field = TaskView.model_json_schema()["properties"]["state"]
    assert field["enum"] == [state.value for state in TaskState]


class _Producer:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, body: Any, **kwargs: Any) -> None:
        self.published.append(kwargs)


def test_dead_letter_headers_are_those_the_bus_adds() -> None:
    producer = _Producer()

    message = SimpleNamespace(
        body=b"not json",
        headers={},
        content_type="application/cloudevents+json",
        content_encoding="utf-8",
        delivery_info={"routing_key": "task.progress"},
    )

    dead_letter(producer, message, "ctstation.orchestrator", "why")

    [sent] = producer.published
    assert set(sent["headers"]) == set(catalogue.DEAD_LETTER_HEADERS)


def _asyncapi() -> dict[str, Any]:
    text = catalogue.render_asyncapi()
    return json.loads(
        "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    )


def test_asyncapi_references_resolve() -> None:
    document = _asyncapi()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(document):
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            node = node[part]


def test_asyncapi_has_a_channel_and_message_for_every_event() -> None:
    document = _asyncapi()

    assert document["asyncapi"] == "2.6.0"
    assert set(document["components"]["messages"]) >= {e.name for e in CATALOGUE}
    for event in CATALOGUE:
        if event.exchange == EVENTS.name:
            assert event.name in document["channels"]
