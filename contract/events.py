"""Event types and the CloudEvents envelope every message travels in.

Every message on the bus is a CloudEvents 1.0 event in structured JSON mode. The
envelope is modelled here with pydantic rather than with the CloudEvents SDK, which has
no AMQP binding and no typed ``data``; the format itself is small and fixed.

Delivery guarantees, for every service: messages are persistent and confirmed by the
broker; consumers ack only after the effect is recorded, so a message may arrive twice
and every handler is idempotent (tasks are keyed by the requested event's ``id``;
state changes are conditional on the current state).
"""

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SOURCE_PREFIX = "/ctstation"


class EventType(StrEnum):
    """Every event type; the routing key is the type without its ``ctstation.``."""

    # Anyone (the gateway, or another service) asks for a container.
    CREATE_REQUESTED = "ctstation.task.create.requested"
    # Anyone asks for a copy of an existing container.
    CLONE_REQUESTED = "ctstation.task.clone.requested"
    # A user asks to stop a waiting or running task.
    CANCEL_REQUESTED = "ctstation.task.cancel.requested"
    # The orchestrator cancelled a task; executors working on it stop and clean up.
    TASK_CANCELLED = "ctstation.task.cancelled"
    # The orchestrator stored the task; ``data`` is the task as stored.
    TASK_CREATED = "ctstation.task.created"
    # The orchestrator moved a task to another state or step.
    TASK_STATE_CHANGED = "ctstation.task.state.changed"
    # Finished tasks were deleted from the list.
    TASKS_PURGED = "ctstation.task.purged"
    # An executor reports a step or bytes done.
    TASK_PROGRESS = "ctstation.task.progress"
    # An executor made and (unless asked not to) started the container.
    TASK_COMPLETED = "ctstation.task.completed"
    # An executor gave up; ``data`` says at which step and why.
    TASK_ABORTED = "ctstation.task.aborted"
    # Work for one executor type (sent to the work exchange, not the event exchange).
    WORK_CREATE = "ctstation.work.create"
    WORK_CLONE = "ctstation.work.clone"
    # Remove a container whose task ended before the container's report came.
    WORK_REMOVE = "ctstation.work.remove"
    # A question to an executor that expects a reply (pre-inspection).
    RPC_REQUEST = "ctstation.rpc.request"
    RPC_REPLY = "ctstation.rpc.reply"

    @property
    def routing_key(self) -> str:
        return self.value.removeprefix("ctstation.")


class Envelope(BaseModel):
    """A CloudEvents 1.0 event; ``correlationid`` links a request to its task."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = None
    correlationid: str | None = None
    # When the asker stops waiting for an answer; a request past it must not take
    # effect (an extension attribute, a CloudEvents timestamp).
    deadline: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class MalformedEventError(ValueError):
    """A message body that is not a CloudEvents envelope we can read."""


def make_event(
    event_type: EventType,
    data: dict[str, Any],
    service: str,
    subject: str | None = None,
    correlationid: str | None = None,
) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source=f"{SOURCE_PREFIX}/{service}",
        type=event_type.value,
        time=datetime.now(UTC),
        subject=subject,
        correlationid=correlationid,
        data=data,
    )


def parse_event(body: bytes | str) -> Envelope:
    """Read an envelope from a raw message body.

    Raises:
        MalformedEventError: the body is not UTF-8 JSON or not a CloudEvents envelope.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEventError(f"body is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise MalformedEventError("body is not a JSON object")
    try:
        return Envelope.model_validate(document)
    except ValidationError as error:
        raise MalformedEventError(f"not a CloudEvents envelope: {error}") from error
