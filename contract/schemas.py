"""The ``data`` of each event type, as pydantic models.

These models are the one definition of every message's schema: services validate
with them and the event catalogue's JSON Schemas are generated from them.
"""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.events import EventType
from contract.images import SUPPORTED_SOURCES, ContainerType, ImageSource
from contract.names import name_problem
from contract.params import CreateParams


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

    user: str = Field(min_length=1)
    type: ContainerType
    source: ImageSource
    image: str = Field(min_length=1)
    tag: str = Field(default="latest", min_length=1)
    name: str = Field(min_length=1)
    params: CreateParams = Field(default_factory=CreateParams)

    @model_validator(mode="after")
    def pair_and_name_are_valid(self) -> "CreateRequested":
        if self.source not in SUPPORTED_SOURCES[self.type]:
            raise ValueError(f"cannot create {self.type} containers from {self.source}")
        problem = name_problem(self.type, self.name)
        if problem:
            raise ValueError(problem)
        return self


class WorkCreate(CreateRequested):
    """Work for an executor: the request plus the task that tracks it."""

    task_id: int
    # Unique across installations (the requested event's id), unlike task_id.
    task_uid: str


class TaskProgress(_Data):
    task_id: int
    step: Step
    current: int | None = None
    total: int | None = None
    executor: str | None = None


class ContainerSummary(_Data):
    type: ContainerType
    name: str
    id: str
    state: str
    ports: list[dict[str, Any]] = Field(default_factory=list)


class TaskCompleted(_Data):
    task_id: int
    container: ContainerSummary
    notes: list[str] = Field(default_factory=list)
    executor: str | None = None


class TaskAborted(_Data):
    task_id: int
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


# What the orchestrator accepts, by event type; anything else is dead-lettered.
ORCHESTRATOR_INPUTS: dict[str, type[_Data]] = {
    EventType.CREATE_REQUESTED: CreateRequested,
    EventType.TASK_PROGRESS: TaskProgress,
    EventType.TASK_COMPLETED: TaskCompleted,
    EventType.TASK_ABORTED: TaskAborted,
}
