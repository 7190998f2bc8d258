"""The HTTP API: validates, authenticates, publishes, and reads task state.

The gateway never talks to an engine: questions about images go to the executors
over the bus, and tasks are made by the orchestrator from the events published here.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from werkzeug.exceptions import HTTPException

from contract.events import EventType, make_event
from contract.images import (
    SUPPORTED_SOURCES,
    ContainerType,
    ImageReferenceError,
    ImageSource,
    parse_reference,
)
from contract.names import name_problem
from contract.schemas import CreateRequested, RpcRequest
from contract.topology import EVENTS, RPC
from ctstation.config import Settings
from gateway.bodies import CreateBody, json_object, validate
from gateway.bus import BusClient
from gateway.errors import (
    ApiError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
    from_remote,
)
from gateway.policy import check_params_allowed
from gateway.users import UserStore
from orchestrator.db import User
from orchestrator.states import TaskState
from orchestrator.tasks import TaskStore, task_to_dict

log = logging.getLogger(__name__)

SERVICE = "gateway"

basic_auth = HTTPBasicAuth(realm="ctstation")
token_auth = HTTPTokenAuth(scheme="Bearer", realm="ctstation")
auth = MultiAuth(basic_auth, token_auth)

api = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass
class Services:
    """What the request handlers need, kept on the app."""

    settings: Settings
    bus: BusClient
    tasks: TaskStore
    users: UserStore


def services() -> Services:
    return current_app.extensions["ctstation"]


@basic_auth.verify_password
def verify_password(name: str, password: str) -> User | None:
    if not name or not password:
        return None
    return services().users.check_password(name, password)


@token_auth.verify_token
def verify_token(token: str) -> User | None:
    return services().users.check_token(token) if token else None


@basic_auth.error_handler
@token_auth.error_handler
def unauthorized(status: int) -> tuple[Any, int]:
    if status == 403:
        return {"error": {"code": "forbidden", "message": "not allowed"}}, 403
    if request.authorization is not None:
        message = "invalid credentials: wrong user, password or API token"
    else:
        message = "authentication required: HTTP Basic or a Bearer API token"
    return {"error": {"code": "unauthorized", "message": message}}, 401


def normalise_auth_scheme() -> None:
    """Accept ``bearer`` and ``basic`` in any case, as RFC 7235 says.

    flask-httpauth's MultiAuth compares the scheme case-sensitively, so a client
    that sends ``bearer TOKEN`` would be refused without this.
    """
    header = request.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    for canonical in ("Bearer", "Basic"):
        if scheme.lower() == canonical.lower() and scheme != canonical:
            request.environ["HTTP_AUTHORIZATION"] = f"{canonical} {credentials}"


def current_user() -> User:
    return auth.current_user()


@api.post("/image/create/<repository>/<container_type>")
@auth.login_required
def create_from_image(repository: str, container_type: str) -> Any:
    """Pre-inspect an image; with a ``name``, also add a create task."""
    source, ctype = _supported_pair(repository, container_type)
    body = validate(CreateBody, json_object(request))
    if body.type is not None and body.type != ctype:
        raise BadRequestError(
            f"type '{body.type}' in the body differs from '{ctype}' in the path",
            code="type_mismatch",
        )
    try:
        ref = parse_reference(body.image, body.tag)
    except ImageReferenceError as error:
        raise BadRequestError(str(error), code="invalid_image") from error
    params = body.params()
    if body.name is not None:
        _check_name(ctype, body.name)
        _check_allowed(params)

    image = _precheck(ctype, source, ref.repository, ref.tag, body.name, params)
    if body.name is None:
        return image

    task = _request_create(ctype, source, ref.repository, ref.tag, body.name, params)
    response = jsonify(task)
    response.status_code = 202
    response.headers["Location"] = f"{api.url_prefix}/image/create/{task['id']}"
    return response


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
    task = services().tasks.get(task_id)
    user = current_user()
    if task is None or not (user.is_admin or task.user == user.name):
        raise NotFoundError(f"no task {task_id}", code="task_not_found")
    return task_to_dict(task)


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


@api.get("/health")
def health() -> Any:
    """Unauthenticated liveness: the database and the broker listener."""
    checks = {"broker": services().bus.is_healthy, "database": True}
    try:
        services().tasks.count()
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = False
    healthy = all(checks.values())
    return {"status": "ok" if healthy else "unhealthy", **checks}, (
        200 if healthy else 503
    )


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
    settings = services().settings
    check_params_allowed(
        params,
        current_user().is_admin,
        settings.allow_privileged,
        settings.allowed_host_paths,
    )


def _precheck(
    ctype: ContainerType,
    source: ImageSource,
    image: str,
    tag: str,
    name: str | None,
    params: Any,
) -> dict[str, Any]:
    """Ask an executor of the type what the image is and whether the name is free."""
    question = RpcRequest(
        method="precheck",
        args={
            "source": source,
            "image": image,
            "tag": tag,
            "name": name,
            "params": params.model_dump(mode="json"),
        },
    )
    envelope = make_event(
        EventType.RPC_REQUEST, question.model_dump(mode="json"), SERVICE
    )
    answer = services().bus.ask(
        envelope, RPC, ctype, services().settings.rpc_timeout, who=f"{ctype} executor"
    )
    if "error" in answer:
        raise from_remote(answer["error"])
    return answer["result"]["image"]


def _request_create(
    ctype: ContainerType,
    source: ImageSource,
    image: str,
    tag: str,
    name: str,
    params: Any,
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
    )
    envelope = make_event(
        EventType.CREATE_REQUESTED, requested.model_dump(mode="json"), SERVICE
    )
    answer = services().bus.ask(
        envelope,
        EVENTS,
        EventType.CREATE_REQUESTED.routing_key,
        services().settings.rpc_timeout,
        who="orchestrator",
    )
    if "error" in answer:
        raise from_remote(answer["error"])
    return answer["task"]


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
    if not value.isdigit():
        raise BadRequestError(f"query parameter {name!r} must be a whole number")
    return int(value)


def _api_error(error: ApiError) -> tuple[Any, int]:
    return error.to_dict(), error.status


def _http_error(error: HTTPException) -> tuple[Any, int]:
    code = (error.name or "error").lower().replace(" ", "_")
    return {"error": {"code": code, "message": error.description}}, error.code or 500


def _unexpected_error(error: Exception) -> tuple[Any, int]:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return {"error": {"code": "internal_error", "message": "internal error"}}, 500


def create_app(
    settings: Settings, bus: BusClient, tasks: TaskStore, users: UserStore
) -> Flask:
    app = Flask("ctstation.gateway")
    app.json.sort_keys = False
    app.extensions["ctstation"] = Services(settings, bus, tasks, users)
    app.before_request(normalise_auth_scheme)
    app.register_blueprint(api)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app
