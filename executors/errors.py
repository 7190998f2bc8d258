"""Errors the executors raise, translated once from engine exceptions.

    ExecutorError                 base; carries a stable ``code`` and an HTTP ``status``
    ├── ImageNotFoundError        the source has no such image or tag (404)
    ├── ImageSourceError          the source cannot be reached or answered badly (502)
    ├── NameTakenError            a container of that name exists already (409)
    ├── ContainerNotFoundError    no container of that name or id (404)
    ├── InvalidParamsError        a create param the engine cannot honour (400)
    ├── ContainerRunningError     an action needs the container stopped (409)
    ├── TaskCancelledError        the task was cancelled while it ran
    └── EngineError               the engine refused or failed an operation (502)

Each error crosses the bus as data (``to_dict``) so that the gateway can answer the
right status without importing engine libraries.
"""

from typing import Any


class ExecutorError(Exception):
    code = "executor_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status}


class ImageNotFoundError(ExecutorError):
    code = "image_not_found"
    status = 404


class ImageSourceError(ExecutorError):
    code = "image_source_unavailable"
    status = 502


class NameTakenError(ExecutorError):
    code = "name_taken"
    status = 409


class ContainerNotFoundError(ExecutorError):
    code = "container_not_found"
    status = 404


class InvalidParamsError(ExecutorError):
    code = "invalid_params"
    status = 400


class ContainerRunningError(ExecutorError):
    code = "container_running"
    status = 409


class TaskCancelledError(ExecutorError):
    code = "cancelled"
    status = 409


class EngineError(ExecutorError):
    code = "engine_error"
    status = 502
