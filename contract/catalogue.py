"""The event catalogue: every event type, who sends it, who reads it, its schema.

``docs/events.rst`` and ``docs/asyncapi.yaml`` are rendered from this module, so a
message's schema is written once, as its pydantic model in ``contract.schemas``.
Regenerate both after changing a model, an event type or the topology::

    python -m contract.catalogue

A unit test fails while the committed files differ from what this renders.

Pure: it builds text and talks to no broker and no database (the kombu objects of
``contract.topology`` are declarations; nothing here connects).
"""

import json
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contract.bus import CONTENT_TYPE, REASON_HEADER
from contract.events import SOURCE_PREFIX, Envelope, EventType
from contract.images import ContainerType, ImageSource
from contract.params import CreateParams, PortMapping
from contract.schemas import (
    CancelRequested,
    CloneRequested,
    ContainerSummary,
    CreateRequested,
    RpcReply,
    RpcRequest,
    Step,
    TaskAborted,
    TaskCancelled,
    TaskCompleted,
    TaskEventData,
    TaskProgress,
    TasksPurged,
    TaskView,
    WorkClone,
    WorkCreate,
    WorkRemove,
)
from contract.topology import (
    DEAD,
    DEAD_LETTERS,
    DELIVERY_LIMIT,
    EVENTS,
    RPC,
    WORK,
    cancellation_queue,
    orchestrator_queue,
    rpc_queue,
    work_queue,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
EVENTS_RST = DOCS / "events.rst"
ASYNCAPI_YAML = DOCS / "asyncapi.yaml"

# The default exchange: a routing key there is a queue's name.
DEFAULT_EXCHANGE = ""
REPLY_QUEUE = "ctstation.reply.<hex>"
CANCELLATION_QUEUE = "ctstation.cancellations.<hex>"

# Headers the consumer adds when it copies a message to the dead-letter exchange
# (``contract.bus.dead_letter``).
DEAD_LETTER_HEADERS = {
    REASON_HEADER: "Why no consumer could handle the message.",
    "x-ctstation-queue": "The queue it was consumed from.",
    "x-ctstation-routing-key": "The routing key it was published with.",
}

AMQP_BINDING_VERSION = "0.2.0"

# --- the examples' shared facts: one create request followed through ------------

EXAMPLE_TIME = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
_EPOCH = int(EXAMPLE_TIME.timestamp())
_IDS = uuid.UUID("6f1d3f0c-7f0e-4a51-9a38-2c1f0e5b7d42")
TASK_ID = 42
CLONE_TASK_ID = 43
INSTALLATION = "5d0f0e8e-3b1a-4c55-8f3e-9a0b1c2d3e4f"
EXECUTOR = "docker@host-1"
CONTAINER_ID = "3c1e5f2a9b7d" + "0" * 52


def event_id(event_type: EventType) -> str:
    """The example envelope's id; a requested event's id is its task's uid."""
    return str(uuid.uuid5(_IDS, event_type.value))


REQUEST_ID = event_id(EventType.CREATE_REQUESTED)
CLONE_REQUEST_ID = event_id(EventType.CLONE_REQUESTED)


def _dump(model: BaseModel) -> dict[str, Any]:
    # As the services send it: model_dump(mode="json"), with aliases (``from``).
    return model.model_dump(mode="json", by_alias=True)


_CREATE = CreateRequested(
    user="alice",
    type=ContainerType.DOCKER,
    source=ImageSource.DOCKERHUB,
    image="nginx",
    tag="1.27",
    name="web",
    params=CreateParams(
        memory=256 * 1024 * 1024,
        env={"TZ": "UTC"},
        ports=[PortMapping(container=80, host=8080)],
    ),
    idempotency_key="web-1",
)
_CLONE = CloneRequested(
    user="alice",
    type=ContainerType.DOCKER,
    source_container="web",
    name="web-copy",
    ports=[PortMapping(container=80, host=8081)],
)
_CONTAINER = ContainerSummary(
    type=ContainerType.DOCKER,
    name="web",
    id=CONTAINER_ID,
    state="running",
    ports=[{"container": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host": 8080}],
)
_TASK = {
    "id": TASK_ID,
    "init": _EPOCH,
    "start": None,
    "end": None,
    "result": None,
    "from": "dockerhub",
    "state": "waiting",
    "detail_state": "queued",
    "type": "docker",
    "user": "alice",
    "image": "nginx",
    "tag": "1.27",
    "create_params": _dump(_CREATE.params),
    "kind": "create",
    "name": "web",
    "progress": None,
    "container": None,
    "error": None,
    "notes": [],
}
_PULLING = {"task_id": TASK_ID, "step": Step.PULLING, "executor": EXECUTOR}
_BYTES = {"current": 12 * 1024 * 1024, "total": 67 * 1024 * 1024}


# --- the catalogue --------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One event type: where it goes, who sends and reads it, what it carries."""

    type: EventType
    exchange: str
    # The AMQP routing keys it is published with (one per container type for work
    # and questions; the asker's reply queue for replies).
    routing_keys: tuple[str, ...]
    model: type[BaseModel]
    publishers: tuple[str, ...]
    consumers: tuple[str, ...]
    meaning: str
    # An example ``data``, built with ``model`` and dumped as the services dump it.
    example: dict[str, Any]
    # The publishing service, as in the envelope's ``source``.
    source: str
    # Published with ``reply_to`` and a deadline; the answer comes as a reply.
    asked: bool = False
    # ``correlationid`` is the id of the request that made the task.
    correlated: bool = False
    # False for replies: a bare JSON body, not a CloudEvents envelope.
    enveloped: bool = True

    @property
    def name(self) -> str:
        return self.type.routing_key


_BY_TYPE = tuple(str(kind) for kind in ContainerType)
_GATEWAY_ASKS = "gateway (asks, with ``reply_to``)"
_ANY_SERVICE = "any service (fire and forget)"
_ORCHESTRATOR = "orchestrator (queue ``ctstation.orchestrator``)"
_EXECUTORS_WORK = "executors of the type (queue ``ctstation.work.<type>``)"
_FOLLOWERS = (
    "followers: ``ctstation tail`` (a private queue), and via the event log "
    "``GET /api/v1/events`` (Server-Sent Events)"
)
_TAIL = "followers: ``ctstation tail`` (a private queue); not kept in the event log"

CATALOGUE: tuple[Event, ...] = (
    Event(
        type=EventType.CREATE_REQUESTED,
        exchange=EVENTS.name,
        routing_keys=(EventType.CREATE_REQUESTED.routing_key,),
        model=CreateRequested,
        publishers=(_GATEWAY_ASKS, _ANY_SERVICE),
        consumers=(_ORCHESTRATOR,),
        meaning="Asks for a container; the orchestrator stores it as a task and "
        "queues its work. The event's id becomes the task's uid.",
        example=_dump(_CREATE),
        source="gateway",
        asked=True,
    ),
    Event(
        type=EventType.CLONE_REQUESTED,
        exchange=EVENTS.name,
        routing_keys=(EventType.CLONE_REQUESTED.routing_key,),
        model=CloneRequested,
        publishers=(_GATEWAY_ASKS, _ANY_SERVICE),
        consumers=(_ORCHESTRATOR,),
        meaning="Asks for a copy of an existing container under a new name.",
        example=_dump(_CLONE),
        source="gateway",
        asked=True,
    ),
    Event(
        type=EventType.CANCEL_REQUESTED,
        exchange=EVENTS.name,
        routing_keys=(EventType.CANCEL_REQUESTED.routing_key,),
        model=CancelRequested,
        publishers=(_GATEWAY_ASKS,),
        consumers=(_ORCHESTRATOR,),
        meaning="Asks to stop a waiting or running task; ``user`` must own it or "
        "be an admin.",
        example=_dump(CancelRequested(task_id=TASK_ID, user="alice")),
        source="gateway",
        asked=True,
    ),
    Event(
        type=EventType.TASK_CANCELLED,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASK_CANCELLED.routing_key,),
        model=TaskCancelled,
        publishers=("orchestrator",),
        consumers=(
            "every executor (a private queue each; those of other types ignore it)",
        ),
        meaning="The orchestrator cancelled a task; an executor working on it stops "
        "at its next step and removes what it made.",
        example=_dump(
            TaskCancelled(
                task_id=TASK_ID, task_uid=REQUEST_ID, type=ContainerType.DOCKER
            )
        ),
        source="orchestrator",
    ),
    Event(
        type=EventType.TASK_CREATED,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASK_CREATED.routing_key,),
        model=TaskEventData,
        publishers=("orchestrator",),
        consumers=(_FOLLOWERS,),
        meaning="The orchestrator stored a task (waiting, or aborted when the "
        "request was rejected); ``data.task`` is the task as the API shows it.",
        example=_dump(TaskEventData(task=TaskView.model_validate(_TASK))),
        source="orchestrator",
        correlated=True,
    ),
    Event(
        type=EventType.TASK_STATE_CHANGED,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASK_STATE_CHANGED.routing_key,),
        model=TaskEventData,
        publishers=("orchestrator",),
        consumers=(_FOLLOWERS,),
        meaning="A task moved to another state or step; ``data.task`` is the task "
        "after the move.",
        example=_dump(
            TaskEventData(
                task=TaskView.model_validate(
                    {
                        **_TASK,
                        "start": _EPOCH + 1,
                        "state": "running",
                        "detail_state": "pulling",
                        "progress": _BYTES,
                    }
                )
            )
        ),
        source="orchestrator",
        correlated=True,
    ),
    Event(
        type=EventType.TASKS_PURGED,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASKS_PURGED.routing_key,),
        model=TasksPurged,
        publishers=("gateway (``DELETE /api/v1/image/create/``)",),
        consumers=(_TAIL,),
        meaning="Finished tasks were deleted from the list; best effort, the purge "
        "stands even when this event could not be published.",
        example=_dump(TasksPurged(ids=[40, 41], user="alice")),
        source="gateway",
    ),
    Event(
        type=EventType.TASK_PROGRESS,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASK_PROGRESS.routing_key,),
        model=TaskProgress,
        publishers=("executors",),
        consumers=(_ORCHESTRATOR,),
        meaning="An executor entered a step, or moved bytes (at most every few "
        "seconds); the first report moves the task to running.",
        example=_dump(TaskProgress(**_PULLING, **_BYTES)),
        source=EXECUTOR,
    ),
    Event(
        type=EventType.TASK_COMPLETED,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASK_COMPLETED.routing_key,),
        model=TaskCompleted,
        publishers=("executors",),
        consumers=(_ORCHESTRATOR,),
        meaning="An executor made and (unless asked not to) started the container.",
        example=_dump(
            TaskCompleted(task_id=TASK_ID, container=_CONTAINER, executor=EXECUTOR)
        ),
        source=EXECUTOR,
    ),
    Event(
        type=EventType.TASK_ABORTED,
        exchange=EVENTS.name,
        routing_keys=(EventType.TASK_ABORTED.routing_key,),
        model=TaskAborted,
        publishers=("executors",),
        consumers=(_ORCHESTRATOR,),
        meaning="An executor gave up; ``data`` says at which step and why.",
        example=_dump(
            TaskAborted(
                **_PULLING,
                code="image_not_found",
                reason="no image nginx:1.27 on Docker Hub",
            )
        ),
        source=EXECUTOR,
    ),
    Event(
        type=EventType.WORK_CREATE,
        exchange=WORK.name,
        routing_keys=_BY_TYPE,
        model=WorkCreate,
        publishers=("orchestrator",),
        consumers=(_EXECUTORS_WORK,),
        meaning="Create work for an executor: the request plus the task that "
        "tracks it.",
        example=_dump(
            WorkCreate(
                **_CREATE.model_dump(),
                task_id=TASK_ID,
                task_uid=REQUEST_ID,
                installation=INSTALLATION,
            )
        ),
        source="orchestrator",
        correlated=True,
    ),
    Event(
        type=EventType.WORK_CLONE,
        exchange=WORK.name,
        routing_keys=_BY_TYPE,
        model=WorkClone,
        publishers=("orchestrator",),
        consumers=(_EXECUTORS_WORK,),
        meaning="Clone work for an executor; ``admin`` lets it copy any container.",
        example=_dump(
            WorkClone(
                **_CLONE.model_dump(),
                task_id=CLONE_TASK_ID,
                task_uid=CLONE_REQUEST_ID,
                installation=INSTALLATION,
            )
        ),
        source="orchestrator",
        correlated=True,
    ),
    Event(
        type=EventType.WORK_REMOVE,
        exchange=WORK.name,
        routing_keys=_BY_TYPE,
        model=WorkRemove,
        publishers=("orchestrator",),
        consumers=(_EXECUTORS_WORK,),
        meaning="Remove the container a task made, reported after the task had "
        "ended (cancelled, timed out).",
        example=_dump(
            WorkRemove(
                task_id=TASK_ID,
                task_uid=REQUEST_ID,
                user="alice",
                type=ContainerType.DOCKER,
                reason=f"task {TASK_ID} had ended",
            )
        ),
        source="orchestrator",
    ),
    Event(
        type=EventType.RPC_REQUEST,
        exchange=RPC.name,
        routing_keys=_BY_TYPE,
        model=RpcRequest,
        publishers=(_GATEWAY_ASKS,),
        consumers=("executors of the type (queue ``ctstation.rpc.<type>``)",),
        meaning="A question to an executor (precheck, precheck_clone, list, "
        "inspect, act, remove, getid, ping), answered with a reply.",
        example=_dump(
            RpcRequest(
                method="getid",
                args={
                    "container": "web",
                    "owner": "alice",
                    "installation": INSTALLATION,
                },
            )
        ),
        source="gateway",
        asked=True,
    ),
    Event(
        type=EventType.RPC_REPLY,
        exchange=DEFAULT_EXCHANGE,
        routing_keys=(REPLY_QUEUE,),
        model=RpcReply,
        publishers=(
            "executors (to ``rpc.request``)",
            "orchestrator (to a requested event published with ``reply_to``)",
        ),
        consumers=("the asker: the gateway (queue ``ctstation.reply.<hex>``)",),
        meaning="The answer to a question, sent to the asker's ``reply_to`` queue "
        "with its ``correlation_id``: a bare JSON body, not an envelope, so this "
        "type never appears on the wire.",
        example=_dump(RpcReply.model_validate({"result": {"id": CONTAINER_ID}})),
        source=EXECUTOR,
        enveloped=False,
    ),
)

BY_TYPE: dict[EventType, Event] = {event.type: event for event in CATALOGUE}


def example_envelope(event: Event) -> dict[str, Any]:
    """The whole message of the example, as it travels (an envelope, or a reply)."""
    if not event.enveloped:
        return event.example
    own_id = event_id(event.type)
    task_id = event.example.get("task_id") or event.example.get("task", {}).get("id")
    correlationid = None
    if event.asked:
        correlationid = own_id  # the gateway matches the reply by it
    elif event.correlated:
        is_clone = event.example.get("task_uid") == CLONE_REQUEST_ID
        correlationid = CLONE_REQUEST_ID if is_clone else REQUEST_ID
    envelope = Envelope(
        id=own_id,
        source=f"{SOURCE_PREFIX}/{event.source}",
        type=event.type.value,
        time=EXAMPLE_TIME,
        # The gateway sets no subject; the other services the task's id.
        subject=str(task_id) if task_id and event.source != "gateway" else None,
        correlationid=correlationid,
        deadline=EXAMPLE_TIME + timedelta(seconds=10) if event.asked else None,
        data=event.example,
    )
    return envelope.model_dump(mode="json", exclude_none=True)


# --- the topology, read from contract.topology ----------------------------------


@dataclass(frozen=True)
class QueueInfo:
    name: str
    exchange: str
    keys: tuple[str, ...]
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, Any]
    consumer: str


def _queue_info(queue: Any, consumer: str, name: str | None = None) -> QueueInfo:
    if queue.bindings:
        exchanges = {b.exchange.name for b in queue.bindings}
        [exchange] = exchanges
        keys = tuple(sorted(b.routing_key for b in queue.bindings))
    else:
        exchange, keys = queue.exchange.name, (queue.routing_key,)
    return QueueInfo(
        name=name or queue.name,
        exchange=exchange,
        keys=keys,
        durable=bool(queue.durable),
        exclusive=bool(queue.exclusive),
        auto_delete=bool(queue.auto_delete),
        arguments=dict(queue.queue_arguments or {}),
        consumer=consumer,
    )


EXCHANGES = (
    (EVENTS, "Domain events; the routing key is the type without ``ctstation.``."),
    (WORK, "Work for executors; the routing key is the container type."),
    (RPC, "Questions to executors; the routing key is the container type."),
    (DEAD, "What no consumer could handle, with the reason in headers."),
)

QUEUES: tuple[QueueInfo, ...] = (
    _queue_info(orchestrator_queue(), "orchestrator"),
    _queue_info(cancellation_queue(), "each executor process", name=CANCELLATION_QUEUE),
    *(_queue_info(work_queue(kind), f"{kind} executors") for kind in ContainerType),
    *(_queue_info(rpc_queue(kind), f"{kind} executors") for kind in ContainerType),
    _queue_info(DEAD_LETTERS, "operators"),
)


def topic_matches(pattern: str, key: str) -> bool:
    """Whether a topic binding pattern (``*`` one word, ``#`` any) matches a key."""

    def match(words: list[str], parts: list[str]) -> bool:
        if not words:
            return not parts
        if words[0] == "#":
            return any(match(words[1:], parts[i:]) for i in range(len(parts) + 1))
        if not parts:
            return False
        return words[0] in ("*", parts[0]) and match(words[1:], parts[1:])

    return match(pattern.split("."), key.split("."))


def queues_of(event: Event) -> tuple[QueueInfo, ...]:
    """The ctstation queues an event lands in, by the topology's bindings."""
    exchange_types = {exchange.name: exchange.type for exchange, _ in EXCHANGES}
    kind = exchange_types.get(event.exchange)
    found = []
    for queue in QUEUES:
        if queue.exchange != event.exchange:
            continue
        for key in event.routing_keys:
            if kind == "topic" and any(topic_matches(p, key) for p in queue.keys):
                found.append(queue)
                break
            if kind == "direct" and key in queue.keys:
                found.append(queue)
                break
    return tuple(found)


# --- JSON Schemas -----------------------------------------------------------------


def _models() -> list[type[BaseModel]]:
    models: list[type[BaseModel]] = [Envelope]
    for event in CATALOGUE:
        if event.model not in models:
            models.append(event.model)
    return models


def component_schemas() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The JSON Schemas of every model for ``components/schemas``, and each model's
    ``$ref`` there by model name."""
    models = _models()
    refs, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    by_name = {model.__name__: refs[(model, "validation")] for model in models}
    return by_name, top["$defs"]


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


# --- docs/events.rst ------------------------------------------------------------


def _block(text: str, language: str = "json") -> list[str]:
    lines = [f".. code-block:: {language}", ""]
    lines += [f"   {line}" if line else "" for line in text.splitlines()]
    return [*lines, ""]


def _heading(title: str, mark: str) -> list[str]:
    return [title, mark * len(title), ""]


def _list(items: tuple[str, ...]) -> str:
    return "; ".join(items) if items else "none"


def _exchange_text(name: str) -> str:
    return f"``{name}``" if name else "the default exchange"


def _keys_text(event: Event) -> str:
    if event.routing_keys == _BY_TYPE:
        return " or ".join(f"``{key}``" for key in _BY_TYPE) + " (the container type)"
    if not event.enveloped:
        return f"``{event.routing_keys[0]}`` (the asker's ``reply_to`` queue)"
    return f"``{event.routing_keys[0]}``"


def _queue_kind(queue: QueueInfo) -> str:
    kind = queue.arguments.get("x-queue-type", "classic")
    traits = [kind, "durable" if queue.durable else "transient"]
    if queue.exclusive:
        traits.append("exclusive")
    if queue.auto_delete:
        traits.append("auto-delete")
    if "x-delivery-limit" in queue.arguments:
        traits.append(f"delivery limit {queue.arguments['x-delivery-limit']}")
    if "x-dead-letter-exchange" in queue.arguments:
        traits.append(
            f"dead letters to ``{queue.arguments['x-dead-letter-exchange']}``"
        )
    return ", ".join(traits)


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return [*lines, ""]


def render_rst() -> str:
    envelope_schema = Envelope.model_json_schema()
    lines = [
        ".. Generated by ``python -m contract.catalogue`` from contract/; do not edit.",
        "",
        *_heading("Events", "="),
        "Every service talks over RabbitMQ. A message is a CloudEvents 1.0 event in",
        "structured JSON mode (content type ``application/cloudevents+json``): the",
        "envelope below, whose ``data`` is the event type's own object. Replies to",
        "questions are the one exception: a bare JSON body (see ``rpc.reply``).",
        "",
        "This page is generated from the pydantic models of ``contract.schemas``;",
        "the same schemas, as an AsyncAPI 2.6 document, are in ``docs/asyncapi.yaml``.",
        "",
        *_heading("The envelope", "-"),
        "- ``id``: unique per event; a requested event's id is the uid of the task",
        "  it makes, so a redelivered request finds its task.",
        "- ``source``: ``/ctstation/<service>``; an executor is ``<type>@<host>``.",
        "- ``subject``: the task id, when the orchestrator or an executor sends it.",
        "- ``correlationid``: on a question, the id its reply carries as",
        "  ``correlation_id``; on task events and work, the id of the request that",
        "  made the task.",
        "- ``deadline``: when the asker stops waiting; a request past it must not",
        "  take effect.",
        "",
        *_block(_json(envelope_schema)),
        *_heading("Delivery guarantees", "-"),
        "- Messages are persistent (delivery mode 2) and, on RabbitMQ, confirmed by",
        "  the broker (publisher confirms) before ``publish`` returns; a failed",
        "  publish is retried.",
        "- Shared queues (the orchestrator's, the work queues) are durable quorum",
        f"  queues with a delivery limit of {DELIVERY_LIMIT}: the broker",
        "  dead-letters a message delivered that many times without an ack.",
        "- Consumers ack only after the effect is recorded (the orchestrator in SQL,",
        "  an executor once the job has published its final report). A message may",
        "  therefore come twice, and every handler is idempotent: tasks are keyed by",
        "  the requested event's ``id``, state changes are conditional on the",
        "  current state.",
        "- Questions (``reply_to`` set) expire in the broker at the asker's",
        "  deadline; cancellations and followers' queues are not acked and are lost",
        "  with their connection.",
        "",
        *_heading("Topology", "-"),
    ]
    lines += _table(
        "Exchanges",
        ["Exchange", "Type", "Carries"],
        [[f"``{exchange.name}``", exchange.type, text] for exchange, text in EXCHANGES],
    )
    lines += _table(
        "Queues",
        ["Queue", "Bound to", "Kind", "Consumer"],
        [
            [
                f"``{queue.name}``",
                f"``{queue.exchange}``: "
                + ", ".join(f"``{key}``" if key else "(all)" for key in queue.keys),
                _queue_kind(queue),
                queue.consumer,
            ]
            for queue in QUEUES
        ],
    )
    lines += [
        "The gateway also has a private reply queue, ``ctstation.reply.<hex>``",
        "(exclusive, auto-delete), and ``ctstation tail`` binds a private queue of",
        "its own to ``ctstation.events``.",
        "",
        *_heading("Dead letters", "-"),
        "A message no consumer can handle (not an envelope, an unknown type, data",
        "that does not validate, a handler that fails the same way every time) is",
        f"copied to ``{DEAD.name}`` ({DEAD.type}) with these headers, then acked; it",
        f"is kept in ``{DEAD_LETTERS.name}``. The broker dead-letters a message past",
        "the delivery limit itself, without them.",
        "",
    ]
    lines += _table(
        "Dead-letter headers",
        ["Header", "Meaning"],
        [[f"``{name}``", text] for name, text in DEAD_LETTER_HEADERS.items()],
    )
    lines += _heading("Event types", "-")
    lines += _table(
        "Event types",
        ["Type", "Exchange", "Published by", "Consumed by"],
        [
            [
                f"``{event.type.value}``",
                _exchange_text(event.exchange),
                _list(event.publishers),
                _list(event.consumers),
            ]
            for event in CATALOGUE
        ],
    )
    for event in CATALOGUE:
        lines += _render_event(event)
    return "\n".join(lines).rstrip("\n") + "\n"


def _render_event(event: Event) -> list[str]:
    model = event.model
    fields = [
        f":Type: ``{event.type.value}``",
        f":Exchange: {_exchange_text(event.exchange)}",
        f":Routing key: {_keys_text(event)}",
    ]
    queues = queues_of(event)
    if queues:
        fields.append(":Queues: " + ", ".join(f"``{q.name}``" for q in queues))
    fields += [
        f":Published by: {_list(event.publishers)}",
        f":Consumed by: {_list(event.consumers)}",
        f":Schema: ``{model.__module__}.{model.__name__}``",
    ]
    if event.asked:
        fields.append(
            ":Answer: on the ``reply_to`` queue, matched by ``correlation_id``"
        )
    example = "Example reply body:" if not event.enveloped else "Example:"
    return [
        *_heading(event.name, "~"),
        event.meaning,
        "",
        *fields,
        "",
        *_block(_json(model.model_json_schema())),
        example,
        "",
        *_block(_json(example_envelope(event))),
    ]


# --- docs/asyncapi.yaml ----------------------------------------------------------


def _amqp_exchange(exchange: Any) -> dict[str, Any]:
    return {
        "name": exchange.name,
        "type": exchange.type,
        "durable": bool(exchange.durable),
        "autoDelete": bool(exchange.auto_delete),
        "vhost": "/",
    }


def _amqp_queue(queue: QueueInfo) -> dict[str, Any]:
    return {
        "name": queue.name,
        "durable": queue.durable,
        "exclusive": queue.exclusive,
        "autoDelete": queue.auto_delete,
        "vhost": "/",
    }


def _message_ref(event: Event) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{event.name}"}


def _operation(
    verb: str, channel: str, summary: str, messages: list[Event], ack: bool
) -> dict[str, Any]:
    message: dict[str, Any] = (
        _message_ref(messages[0])
        if len(messages) == 1
        else {"oneOf": [_message_ref(event) for event in messages]}
    )
    op_id = (
        channel.replace(".", "_").replace("-", "_").replace("{", "").replace("}", "")
    )
    return {
        "operationId": f"{verb}_{op_id}",
        "summary": summary,
        "bindings": {
            "amqp": {
                # Envelopes are persistent; replies (bare bodies) are not.
                "deliveryMode": 2 if all(e.enveloped for e in messages) else 1,
                "ack": ack,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
        "message": message,
    }


def _channel(
    description: str,
    binding: dict[str, Any],
    messages: list[Event],
    consumed: bool,
    ack: bool = True,
    name: str = "",
) -> dict[str, Any]:
    publishers = sorted({p for event in messages for p in event.publishers})
    consumers = sorted({c for event in messages for c in event.consumers})
    channel: dict[str, Any] = {
        "description": description,
        "bindings": {"amqp": {**binding, "bindingVersion": AMQP_BINDING_VERSION}},
        "subscribe": _operation(
            "receive", name, "Published by: " + "; ".join(publishers), messages, ack
        ),
    }
    if consumed:
        channel["publish"] = _operation(
            "send", name, "Consumed by: " + "; ".join(consumers), messages, ack
        )
    return channel


def _channels() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for event in CATALOGUE:
        if event.exchange != EVENTS.name:
            continue
        queues = queues_of(event)
        binding: dict[str, Any] = {
            "is": "routingKey",
            "exchange": _amqp_exchange(EVENTS),
        }
        durable = [queue for queue in queues if queue.durable]
        if durable:
            binding["queue"] = _amqp_queue(durable[0])
        elif queues:
            binding["queue"] = _amqp_queue(queues[0])
        channels[event.name] = _channel(
            f"``{event.type.value}`` on ``{EVENTS.name}``. {event.meaning}",
            binding,
            [event],
            consumed=bool(queues),
            # Executors do not ack cancellations: their private queue is no-ack.
            ack=event.type is not EventType.TASK_CANCELLED,
            name=event.name,
        )
    for exchange, make_queue in ((WORK, work_queue), (RPC, rpc_queue)):
        events = [event for event in CATALOGUE if event.exchange == exchange.name]
        for kind in ContainerType:
            queue = next(q for q in QUEUES if q.name == make_queue(kind).name)
            channels[queue.name] = _channel(
                f"Routing key ``{kind}`` on ``{exchange.name}`` "
                f"({exchange.type}), into queue ``{queue.name}`` "
                f"({_queue_kind(queue).replace('``', '')}).",
                {
                    "is": "routingKey",
                    "exchange": _amqp_exchange(exchange),
                    "queue": _amqp_queue(queue),
                },
                events,
                consumed=True,
                name=queue.name,
            )
    reply = BY_TYPE[EventType.RPC_REPLY]
    reply_channel = "ctstation.reply.{replyId}"
    channels[reply_channel] = {
        **_channel(
            "The asker's private reply queue, named in ``reply_to``; published to "
            "the default exchange with the queue's name as routing key and the "
            "question's ``correlation_id``.",
            {
                "is": "queue",
                "queue": {
                    "name": reply_channel,
                    "durable": False,
                    "exclusive": True,
                    "autoDelete": True,
                    "vhost": "/",
                },
            },
            [reply],
            consumed=False,
            ack=False,
            name=reply_channel,
        ),
        "parameters": {
            "replyId": {
                "description": "A random hex id, one per gateway process.",
                "schema": {"type": "string"},
            }
        },
    }
    dead = next(q for q in QUEUES if q.name == DEAD_LETTERS.name)
    channels[dead.name] = {
        "description": f"Every message copied to ``{DEAD.name}`` ({DEAD.type}), "
        "kept for operators.",
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": _amqp_exchange(DEAD),
                "queue": _amqp_queue(dead),
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
        "subscribe": {
            "operationId": "receive_dead_letters",
            "summary": "Published by: the consumer that gave up on the message.",
            "message": {"$ref": "#/components/messages/dead-letter"},
        },
    }
    return channels


def _message(event: Event, refs: dict[str, Any]) -> dict[str, Any]:
    data_ref = refs[event.model.__name__]
    message: dict[str, Any] = {
        "name": event.name,
        "title": event.type.value,
        "summary": event.meaning,
        "bindings": {
            "amqp": {
                "contentEncoding": "utf-8",
                "messageType": event.type.value,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
        "x-publishers": list(event.publishers),
        "x-consumers": list(event.consumers),
    }
    if event.enveloped:
        message["contentType"] = CONTENT_TYPE
        message["payload"] = {
            "allOf": [
                refs[Envelope.__name__],
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event.type.value},
                        "data": data_ref,
                    },
                },
            ]
        }
    else:
        message["contentType"] = "application/json"
        message["payload"] = data_ref
        del message["bindings"]["amqp"]["messageType"]
    if event.asked or not event.enveloped:
        message["correlationId"] = {
            "description": "The AMQP ``correlation_id`` property: the question's "
            "envelope ``correlationid``, copied onto its reply.",
            "location": "$message.header#/correlation_id",
        }
    message["examples"] = [
        {"name": f"{event.name}-example", "payload": example_envelope(event)}
    ]
    return message


def asyncapi() -> dict[str, Any]:
    refs, schemas = component_schemas()
    messages = {event.name: _message(event, refs) for event in CATALOGUE}
    messages["dead-letter"] = {
        "name": "dead-letter",
        "title": "A dead letter",
        "summary": "The original body, unchanged, with the reason in headers.",
        "headers": {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": text}
                for name, text in DEAD_LETTER_HEADERS.items()
            },
            "required": list(DEAD_LETTER_HEADERS),
        },
        "payload": {"description": "The message as it was published."},
    }
    return {
        "asyncapi": "2.6.0",
        "id": "urn:ctstation:bus",
        "info": {
            "title": "ctstation message bus",
            "version": "1.0.0",
            "description": (
                "Every message ctstation's services exchange over RabbitMQ. "
                "Operations are from a client's side: subscribe to what ctstation "
                "publishes, publish what it consumes. Messages are persistent and "
                "confirmed; consumers ack after recording the effect, so a message "
                "may come twice. Generated by `python -m contract.catalogue`."
            ),
        },
        "servers": {
            "rabbitmq": {
                "url": "amqp://localhost:5672/",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The broker named by CTSTATION_BROKER_URL.",
            }
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": _channels(),
        "components": {"schemas": schemas, "messages": messages},
    }


def render_asyncapi() -> str:
    return (
        "# Generated by `python -m contract.catalogue` from contract/; do not edit.\n"
        "# Written as JSON, which is valid YAML (1.2), since PyYAML is not a\n"
        "# dependency; any YAML reader loads it.\n" + _json(asyncapi()) + "\n"
    )


def rendered() -> dict[Path, str]:
    """Each generated file and its content now."""
    return {EVENTS_RST: render_rst(), ASYNCAPI_YAML: render_asyncapi()}


def main() -> None:
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
