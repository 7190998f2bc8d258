"""The container API: list, inspect, start, stop, restart, delete, look up, clone.

Every call goes to an executor of the type over the bus, as a question with a
deadline; the executor answers from its engine. A plain user sees and acts on the
containers made for them; an admin on all, including those ctstation did not make.
"""

import logging
import time
from typing import Any

from flask import Blueprint, jsonify, request

from contract.events import EventType
from contract.images import ContainerType, ImageSource
from contract.names import name_problem
from contract.schemas import CloneRequested
from gateway.auth import auth, current_user, owner_filter
from gateway.bodies import CloneBody, CreateBody, json_object, validate
from gateway.errors import ApiError, BadRequestError, GatewayTimeoutError
from gateway.services import services
from gateway.task_api import (
    create_task,
    idempotency_key,
    replayed_task,
    task_response,
)
from orchestrator.states import FINAL_STATES
from orchestrator.tasks import task_to_dict

log = logging.getLogger(__name__)

api = Blueprint("containers", __name__, url_prefix="/api/v1")

ACTIONS = ("start", "stop", "restart")

# The states the engines report, lower-case (Docker's and LXD's together).
CONTAINER_STATES = (
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
    "stopped",
    "frozen",
    "error",
)

# Abort codes of a create task, and the status POST /container answers for them.
_ABORT_STATUS = {
    "name_taken": 409,
    "image_not_found": 404,
    "invalid_params": 400,
    "cancelled": 409,
}


@api.get("/container", strict_slashes=False)
@auth.login_required
def list_containers() -> Any:
    """Containers of every type this server runs (or of ``?type=``)."""
    state = request.args.get("state")
    if state is not None and state not in CONTAINER_STATES:
        raise BadRequestError(
            f"query parameter 'state' must be one of {', '.join(CONTAINER_STATES)}"
        )
    found: list[dict[str, Any]] = []
    for ctype in _types_asked():
        found += services().ask_executor(ctype, "list", **owner_filter(), state=state)
    return jsonify(found)


@api.post("/container", strict_slashes=False)
@auth.login_required
def create_container() -> Any:
    """Create from a local image and answer once the container exists.

    The create rides the task pipeline like any other; this call waits for the
    task to end (``CTSTATION_RPC_TIMEOUT`` times ten at most).
    """
    body = validate(CreateBody, json_object(request))
    if body.type is None or body.name is None:
        raise BadRequestError("type and name are required", code="invalid_request")
    task = create_task(ImageSource.LOCAL, body.type, body)
    final = _wait_for_end(task["id"], services().settings.rpc_timeout * 10)
    if final["state"] == "aborted":
        error = final["error"] or {}
        failure = ApiError(
            final["detail_state"], code=error.get("code"), task=final["id"]
        )
        failure.status = _ABORT_STATUS.get(error.get("code"), 502)
        raise failure
    container = services().ask_executor(
        body.type, "inspect", container=body.name, **owner_filter()
    )
    return {"task": final, "container": container}, 201


@api.get("/container/<container_type>/<container>")
@auth.login_required
def inspect_container(container_type: str, container: str) -> Any:
    return services().ask_executor(
        _type(container_type), "inspect", container=container, **owner_filter()
    )


@api.put("/container/<container_type>/<container>/<action>")
@auth.login_required
def act_on_container(container_type: str, container: str, action: str) -> Any:
    if action not in ACTIONS:
        raise BadRequestError(
            f"unknown action {action!r}: use start, stop or restart",
            code="unknown_action",
        )
    result = services().ask_executor(
        _type(container_type),
        "act",
        container=container,
        action=action,
        **owner_filter(),
    )
    log.info(
        "user %s: %s %s %s", current_user().name, action, container_type, container
    )
    return result


@api.delete("/container/<container_type>/<container>")
@auth.login_required
def delete_container(container_type: str, container: str) -> Any:
    force = request.args.get("force", "false").lower() in ("1", "true", "yes")
    result = services().ask_executor(
        _type(container_type),
        "remove",
        container=container,
        force=force,
        **owner_filter(),
    )
    log.info("user %s deleted %s %s", current_user().name, container_type, container)
    return result


@api.get("/container/docker/getid/<name>")
@auth.login_required
def get_docker_id(name: str) -> Any:
    """The id of a Docker container by name, or an error (the draft greps for it)."""
    return services().ask_executor(
        ContainerType.DOCKER, "getid", container=name, **owner_filter()
    )


@api.post("/container/<container_type>/<container>/clone")
@auth.login_required
def clone_container(container_type: str, container: str) -> Any:
    """Add a clone task: a copy of the container under a new name."""
    ctype = _type(container_type)
    body = validate(CloneBody, json_object(request))
    replayed = replayed_task()
    if replayed is not None:
        return replayed
    problem = name_problem(ctype, body.name)
    if problem:
        raise BadRequestError(problem, code="invalid_name")
    precheck = services().ask_executor(
        ctype, "precheck_clone", source=container, name=body.name, **owner_filter()
    )

    requested = CloneRequested(
        user=current_user().name,
        type=ctype,
        # The executor resolved a name or id prefix; the task names the container.
        source_container=precheck["source"]["name"],
        name=body.name,
        start=body.start,
        ports=body.ports,
        idempotency_key=idempotency_key(),
    )
    task = services().ask_orchestrator(
        EventType.CLONE_REQUESTED, requested.model_dump(mode="json")
    )
    return task_response(task)


def _type(container_type: str) -> ContainerType:
    try:
        return ContainerType(container_type)
    except ValueError:
        raise BadRequestError(
            f"unknown container type {container_type!r}: use lxc or docker",
            code="unknown_type",
        ) from None


def _types_asked() -> list[ContainerType]:
    asked = request.args.get("type")
    if asked is not None:
        return [_type(asked)]
    return [ContainerType(kind) for kind in services().settings.executors]


def _wait_for_end(task_id: int, timeout: float) -> dict[str, Any]:
    """Poll the task until it ends.

    Raises:
        GatewayTimeoutError: it did not end in time; it goes on, and its id says
            where to follow it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = services().tasks.get(task_id)
        if task is not None and task.state in FINAL_STATES:
            return task_to_dict(task)
        time.sleep(0.1)
    raise GatewayTimeoutError(
        f"task {task_id} did not end within {timeout:g} s; it goes on",
        task=task_id,
    )
