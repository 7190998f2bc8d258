"""The ``data`` of each event type, as pydantic models.

These models are the one definition of every message's schema: services validate
with them and the event catalogue's JSON Schemas are generated from them.
"""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from contract.events import EventType
from contract.images import SUPPORTED_SOURCES, ContainerType, ImageSource
from contract.names import name_problem
from contract.params import CreateParams, PortMapping

# Ids and byte counts are 64-bit signed integers in SQL; larger ones are refused
# here rather than by the database.
MAX_SQL_INT = 2**63 - 1
TaskId = Annotated[int, Field(ge=1, le=MAX_SQL_INT)]
ByteCount = Annotated[int, Field(ge=0, le=MAX_SQL_INT)]


class Step(StrEnum):
    """The step a task is at: ``detail_state`` in the task list."""

    QUEUED = "queued"
    INSPECTING = "inspecting"
    PULLING = "pulling"
    IMPORTING = "importing"
    CREATING = "creating"
    STARTING = "starting"
    DONE = "done"
    CANCELLED = "cancelled"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateRequested(_Data):
    """Asks for a container. Published by the gateway or by any other service."""

    user: str = Field(min_length=1, max_length=64)
    type: ContainerType
    source: ImageSource
    image: str = Field(min_length=1, max_length=512)
    tag: str = Field(default="latest", min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=255)
    params: CreateParams = Field(default_factory=CreateParams)
    # A repeat with the same key and user answers the first task, makes no other.
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def pair_and_name_are_valid(self) -> "CreateRequested":
        if self.source not in SUPPORTED_SOURCES[self.type]:
            raise ValueError(f"cannot create {self.type} containers from {self.source}")
        problem = name_problem(self.type, self.name)
        if problem:
            raise ValueError(problem)
        return self


class CloneRequested(_Data):
    """Asks for a copy of an existing container, under a new name."""

    user: str = Field(min_length=1, max_length=64)
    type: ContainerType
    # The container to copy, by name (or, for Docker, id).
    source_container: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    start: bool = True
    # Host port bindings for the copy; the source's cannot be shared.
    ports: list[PortMapping] | None = None
    # A repeat with the same key and user answers the first task, makes no other.
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def name_is_valid(self) -> "CloneRequested":
        problem = name_problem(self.type, self.name)
        if problem:
            raise ValueError(problem)
        return self


class CancelRequested(_Data):
    """Asks to stop a waiting or running task; ``user`` must own it or be an admin."""

    task_id: TaskId
    user: str = Field(min_length=1)


class _Work(_Data):
    task_id: TaskId
    # Unique across installations (the requested event's id), unlike task_id.
    task_uid: str
    # The installation that owns the task, labelled on what the work makes.
    installation: str = ""


class WorkCreate(CreateRequested, _Work):
    """Create work for an executor: the request plus the task that tracks it."""


class WorkClone(CloneRequested, _Work):
    """Clone work for an executor."""

    # Admins may clone any container; others only their own.
    admin: bool = False


class WorkRemove(_Work):
    """Remove the container a task made, if it still exists."""

    user: str
    type: ContainerType
    reason: str


class TaskCancelled(_Work):
    type: ContainerType


class TaskProgress(_Data):
    task_id: TaskId
    step: Step
    current: ByteCount | None = None
    total: ByteCount | None = None
    executor: str | None = None


class ContainerSummary(_Data):
    type: ContainerType
    name: str
    id: str
    state: str
    ports: list[dict[str, Any]] = Field(default_factory=list)


class TaskCompleted(_Data):
    task_id: TaskId
    container: ContainerSummary
    notes: list[str] = Field(default_factory=list)
    executor: str | None = None


class TaskAborted(_Data):
    task_id: TaskId
    step: Step
    code: str
    reason: str
    executor: str | None = None


class RpcRequest(_Data):
    """A question to an executor.

    The reply is ``{"result": ...}`` or ``{"error": {code, message, status}}``.
    """

    method: str
    args: dict[str, Any] = Field(default_factory=dict)


# What the executors accept on their work queue, by type.
WORK_INPUTS: dict[str, type[_Work]] = {
    EventType.WORK_CREATE: WorkCreate,
    EventType.WORK_CLONE: WorkClone,
    EventType.WORK_REMOVE: WorkRemove,
}

# What the orchestrator accepts, by event type; anything else is dead-lettered.
ORCHESTRATOR_INPUTS: dict[str, type[_Data]] = {
    EventType.CREATE_REQUESTED: CreateRequested,
    EventType.CLONE_REQUESTED: CloneRequested,
    EventType.CANCEL_REQUESTED: CancelRequested,
    EventType.TASK_PROGRESS: TaskProgress,
    EventType.TASK_COMPLETED: TaskCompleted,
    EventType.TASK_ABORTED: TaskAborted,
}


# The shapes below are not validated by any service on receipt: they document what
# the orchestrator, the gateway and the executors send, for the event catalogue
# (``contract.catalogue``), whose tests check them against the code that builds them.


class TaskProgressFigures(_Data):
    """Bytes of the last pull or import."""

    current: ByteCount | None
    total: ByteCount | None


class TaskError(_Data):
    """Why a task was aborted."""

    code: str = Field(
        description="An API error code (image_not_found, name_taken, ...), or "
        "cancelled, rejected, executor_silent, no_executor, internal_error."
    )
    step: str = Field(description="The step the task was at.")
    message: str


class TaskView(_Data):
    """A task as the API shows it (``orchestrator.tasks.task_to_dict``)."""

    id: TaskId
    init: int = Field(description="When the request was made, in epoch seconds.")
    start: int | None = Field(description="When an executor began.")
    end: int | None = Field(description="When the task ended.")
    result: Literal[0, 1] | None = Field(description="0 success, 1 failure.")
    from_: ImageSource | Literal["clone"] = Field(alias="from")
    state: Literal["waiting", "running", "completed", "aborted"]
    detail_state: str = Field(
        description="A step (queued, inspecting, pulling, importing, creating, "
        "starting, done, cancelled), or '<step> failed: <reason>', or "
        "'rejected: <reason>'."
    )
    type: ContainerType
    user: str
    image: str = Field(description="The image; for a clone, the source container.")
    tag: str = Field(description="The tag; empty for a clone.")
    create_params: dict[str, Any] = Field(
        description="The create params as validated; for a clone, start and ports."
    )
    kind: Literal["create", "clone"]
    name: str
    progress: TaskProgressFigures | None
    container: ContainerSummary | None
    error: TaskError | None
    notes: list[str]


class TaskEventData(_Data):
    """The ``data`` of the orchestrator's task events: the task as stored."""

    task: TaskView


class TasksPurged(_Data):
    """Finished tasks deleted from the list, by ``user``."""

    ids: list[TaskId]
    user: str


class RemoteError(_Data):
    """An error sent as data, which the gateway turns into an API error."""

    code: str
    message: str
    status: int | None = Field(default=None, description="HTTP status; 502 if absent.")


class RpcResult(_Data):
    """An executor's answer to a question."""

    result: Any


class RpcFailure(_Data):
    """A question or a request that failed."""

    error: RemoteError


class RpcReply(RootModel[RpcResult | TaskEventData | RpcFailure]):
    """A reply on the asker's ``reply_to`` queue: a bare JSON body, no envelope.

    Executors answer ``{"result": ...}``; the orchestrator answers a requested event
    with ``{"task": ...}``; either may answer ``{"error": {...}}``.
    """
