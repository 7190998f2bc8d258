"""Create-container tasks: pre-inspect, create, list, cancel and delete.

The gateway never talks to an engine: questions about images go to the executors
over the bus, and tasks are made by the orchestrator from the events published here.
"""

import logging
from enum import StrEnum
from typing import Any

from flask import Blueprint, jsonify, request

from contract.events import EventType, make_event
from contract.images import (
    SUPPORTED_SOURCES,
    ContainerType,
    ImageRef,
    ImageReferenceError,
    ImageSource,
    parse_reference,
)
from contract.names import name_problem
from contract.params import CreateParams
from contract.schemas import MAX_SQL_INT, CancelRequested, CreateRequested
from contract.topology import EVENTS
from gateway.auth import auth, current_user
from gateway.bodies import CreateBody, json_object, validate
from gateway.errors import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
)
from gateway.policy import check_params_allowed
from gateway.services import SERVICE, services
from orchestrator.states import FINAL_STATES, TaskState
from orchestrator.tasks import task_to_dict

log = logging.getLogger(__name__)

api = Blueprint("tasks", __name__, url_prefix="/api/v1")


@api.post("/image/create/<repository>/<container_type>")
@auth.login_required
def create_from_image(repository: str, container_type: str) -> Any:
    """Pre-inspect an image; with a ``name``, also add a create task."""
    source, ctype = _supported_pair(repository, container_type)
    body = validate(CreateBody, json_object(request))
    if body.name is None:
        ref, params = _read_create(ctype, body)
        return _precheck(ctype, source, ref.repository, ref.tag, None, params)

    replayed = replayed_task()
    if replayed is not None:
        return replayed
    return task_response(create_task(source, ctype, body))


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= 255:
        raise BadRequestError("Idempotency-Key must be 1 to 255 characters")
    return key


def replayed_task() -> Any:
    """The answer to a request repeated with the same Idempotency-Key, if it is one.

    The repeat is answered before any check, so that it gets the first task even
    when a check would now fail (the name is taken by that task's container).
    """
    task = services().tasks.find_by_key(current_user().name, idempotency_key())
    if task is None:
        return None
    response = jsonify(task_to_dict(task))
    response.headers["Idempotent-Replayed"] = "true"
    return response


def task_response(task: dict[str, Any]) -> Any:
    response = jsonify(task)
    response.status_code = 202
    response.headers["Location"] = f"{api.url_prefix}/image/create/{task['id']}"
    return response


def create_task(
    source: ImageSource, ctype: ContainerType, body: CreateBody
) -> dict[str, Any]:
    """Check a named create request, pre-inspect it, and have its task stored.

    Raises:
        ApiError: what is wrong with the request, before any task exists.
    """
    ref, params = _read_create(ctype, body)
    _check_name(ctype, body.name)
    _check_allowed(params)
    _precheck(ctype, source, ref.repository, ref.tag, body.name, params)
    return request_create(ctype, source, ref.repository, ref.tag, body.name, params)


def _read_create(
    ctype: ContainerType, body: CreateBody
) -> tuple[ImageRef, CreateParams]:
    if body.type is not None and body.type != ctype:
        raise BadRequestError(
            f"type '{body.type}' in the body differs from '{ctype}' in the path",
            code="type_mismatch",
        )
    try:
        ref = parse_reference(body.image, body.tag)
    except ImageReferenceError as error:
        raise BadRequestError(str(error), code="invalid_image") from error
    return ref, body.params()


@api.get("/image/create/", strict_slashes=False)
@auth.login_required
def list_tasks() -> Any:
    """The caller's tasks (an admin's: everyone's), oldest first."""
    user = current_user()
    owner = request.args.get("user")
    if not user.is_admin:
        if owner not in (None, user.name):
            raise ForbiddenError("only admins may list other users' tasks")
        owner = user.name
    tasks = services().tasks.search(
        user=owner,
        state=_choice_arg("state", TaskState),
        type=_choice_arg("type", ContainerType),
        limit=_int_arg("limit"),
        offset=_int_arg("offset") or 0,
    )
    return jsonify([task_to_dict(task) for task in tasks])


@api.get("/image/create/<int:task_id>")
@auth.login_required
def get_task(task_id: int) -> Any:
    return task_to_dict(_visible_task(task_id))


@api.delete("/image/create/<int:task_id>")
@auth.login_required
def delete_or_cancel_task(task_id: int) -> Any:
    """Delete a finished task from the list; cancel a waiting or running one.

    A cancelled task ends aborted with ``detail_state`` cancelled, whatever it had
    made is removed by its executor, and it stays in the list until purged.
    """
    task = _visible_task(task_id)
    if task.state in FINAL_STATES and services().tasks.delete_finished(task_id):
        log.info("user %s deleted task %s", current_user().name, task_id)
        return {"id": task_id, "deleted": True}

    cancel = CancelRequested(task_id=task_id, user=current_user().name)
    return services().ask_orchestrator(
        EventType.CANCEL_REQUESTED, cancel.model_dump(mode="json")
    )


def _visible_task(task_id: int) -> Any:
    """The task, if the caller may see it; others' tasks look like missing ones."""
    task = services().tasks.get(task_id) if task_id <= MAX_SQL_INT else None
    user = current_user()
    if task is None or not (user.is_admin or task.user == user.name):
        raise NotFoundError(f"no task {task_id}", code="task_not_found")
    return task


@api.delete("/image/create/", strict_slashes=False)
@auth.login_required
def purge_tasks() -> Any:
    """Delete the caller's completed and aborted tasks (an admin's: all)."""
    user = current_user()
    ids = services().tasks.purge_finished(None if user.is_admin else user.name)
    if ids:
        log.info("user %s purged tasks %s", user.name, ids)
        event = make_event(
            EventType.TASKS_PURGED, {"ids": ids, "user": user.name}, SERVICE
        )
        try:
            services().bus.publish(event, EVENTS, EventType.TASKS_PURGED.routing_key)
        except UnavailableError:
            log.warning("purge of tasks %s done but its event was not published", ids)
    return jsonify(ids)


def _supported_pair(
    repository: str, container_type: str
) -> tuple[ImageSource, ContainerType]:
    try:
        source = ImageSource(repository)
        ctype = ContainerType(container_type)
    except ValueError:
        raise BadRequestError(
            f"unknown image repository or type {repository}/{container_type}: "
            "repository is local, dockerhub or appcenter; type is lxc or docker",
            code="unknown_repository",
        ) from None
    if source not in SUPPORTED_SOURCES[ctype]:
        supported = ", ".join(sorted(SUPPORTED_SOURCES[ctype]))
        raise BadRequestError(
            f"{ctype} containers cannot be created from {source}; use {supported}",
            code="unsupported_repository",
        )
    return source, ctype


def _check_name(ctype: ContainerType, name: str) -> None:
    problem = name_problem(ctype, name)
    if problem:
        raise BadRequestError(problem, code="invalid_name")


def _check_allowed(params: Any) -> None:
    check_params_allowed(params, current_user().is_admin, services().settings)


def _precheck(
    ctype: ContainerType,
    source: ImageSource,
    image: str,
    tag: str,
    name: str | None,
    params: CreateParams,
) -> dict[str, Any]:
    """Ask an executor of the type what the image is and whether the name is free."""
    result = services().ask_executor(
        ctype,
        "precheck",
        source=source,
        image=image,
        tag=tag,
        name=name,
        params=params.model_dump(mode="json"),
    )
    return result["image"]


def request_create(
    ctype: ContainerType,
    source: ImageSource,
    image: str,
    tag: str,
    name: str,
    params: CreateParams,
) -> dict[str, Any]:
    """Publish the requested event and answer the task the orchestrator stored."""
    requested = CreateRequested(
        user=current_user().name,
        type=ctype,
        source=source,
        image=image,
        tag=tag,
        name=name,
        params=params,
        idempotency_key=idempotency_key(),
    )
    return services().ask_orchestrator(
        EventType.CREATE_REQUESTED, requested.model_dump(mode="json")
    )


def _choice_arg(name: str, choices: type[StrEnum]) -> str | None:
    value = request.args.get(name)
    if value is None or value in {choice.value for choice in choices}:
        return value
    allowed = ", ".join(choice.value for choice in choices)
    raise BadRequestError(f"query parameter {name!r} must be one of {allowed}")


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and int(value) <= MAX_SQL_INT):
        raise BadRequestError(f"query parameter {name!r} must be a whole number")
    return int(value)
