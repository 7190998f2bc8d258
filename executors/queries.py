"""Questions the gateway asks an executor, answered from its engine.

Each answer is ``{"result": ...}`` or ``{"error": {code, message, status}}``, so
that engine failures cross the bus as data. ``owner`` and ``installation`` in a question
limit what the asker may see: both None for an admin (everything, foreign containers
too), else the user's name and the installation's id (only the containers that
installation made for that user).
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from contract.images import ImageReferenceError, ImageSource, parse_reference
from contract.params import CreateParams
from executors.engine import ContainerDetails, Engine
from executors.errors import (
    ContainerNotFoundError,
    ContainerRunningError,
    ExecutorError,
    InvalidParamsError,
    NameTakenError,
)

Answer = dict[str, Any]


def answer(engine: Engine, method: str, args: dict[str, Any]) -> Answer:
    """Run one question; unknown methods and executor errors become error answers."""
    handler = _METHODS.get(method)
    if handler is None:
        error = InvalidParamsError(f"unknown method {method!r}")
        return {"error": error.to_dict()}
    try:
        return {"result": handler(engine, args)}
    except ImageReferenceError as error:
        return {"error": InvalidParamsError(str(error)).to_dict()}
    except ExecutorError as error:
        return {"error": error.to_dict()}


def details_to_dict(details: ContainerDetails) -> dict[str, Any]:
    data = asdict(details)
    ref = data.pop("ref")
    return {"type": ref["type"], "name": ref["name"], "id": ref["id"], **data}


def precheck(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    """Pre-inspection: the image, and whether a create with these params could work.

    Raises:
        ImageNotFoundError, ImageSourceError, InvalidParamsError, NameTakenError.
    """
    ref = parse_reference(args["image"], args.get("tag"))
    name = args.get("name")
    if args.get("params") is not None:
        params = CreateParams.model_validate(args["params"])
        engine.check_params(params, name)
    info = engine.inspect_image(ImageSource(args["source"]), ref)
    _check_name_free(engine, name)
    return {"image": info.to_dict()}


def precheck_clone(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    """Whether a clone could work: the source is visible, the name is free."""
    source = _visible(engine, args, args["source"])
    _check_name_free(engine, args["name"])
    return {"source": details_to_dict(source)}


def list_containers(engine: Engine, args: dict[str, Any]) -> list[dict[str, Any]]:
    state = args.get("state")
    found = [
        details
        for details in engine.list_containers()
        if _may_see(details, args) and (state is None or details.state == state)
    ]
    return [details_to_dict(details) for details in sorted(found, key=_by_name)]


def inspect(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    return details_to_dict(_visible(engine, args))


def act(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    """Start, stop or restart a container, then describe it."""
    container = _visible(engine, args)
    action = args["action"]
    # Starting a running container, or stopping a stopped one, is done already;
    # engines disagree on whether that is an error, users expect it is not.
    if action == "start" and container.state != "running":
        engine.start(container.ref)
    elif action == "stop" and container.state in ("running", "paused", "frozen"):
        engine.stop(container.ref)
    elif action == "restart":
        engine.restart(container.ref)
    elif action not in ("start", "stop"):
        raise InvalidParamsError(f"unknown action {action!r}")
    return details_to_dict(engine.find_container(container.ref.name))


def remove(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    """Remove a container; a running one only with ``force``."""
    container = _visible(engine, args)
    if container.state == "running" and not args.get("force"):
        raise ContainerRunningError(
            f"{container.ref.type} container {container.ref.name!r} is running; "
            "stop it first or delete with force=true"
        )
    engine.remove(container.ref)
    return {"name": container.ref.name, "id": container.ref.id, "deleted": True}


def getid(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": _visible(engine, args).ref.id}


def ping(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": engine.type}


def _visible(
    engine: Engine, args: dict[str, Any], name_or_id: str | None = None
) -> ContainerDetails:
    """The container the question names, if the asker may see it.

    Raises:
        ContainerNotFoundError: there is none, or it is another user's: the two
            answer the same words, so that others' container names do not leak.
    """
    name_or_id = name_or_id or args["container"]
    missing = ContainerNotFoundError(f"no {engine.type} container {name_or_id!r}")
    try:
        details = engine.find_container(name_or_id)
    except ContainerNotFoundError:
        raise missing from None
    if not _may_see(details, args):
        raise missing
    return details


def _may_see(details: ContainerDetails, args: dict[str, Any]) -> bool:
    owner = args.get("owner")
    if owner is None:
        return True  # an admin
    return details.owner == owner and details.installation == args.get("installation")


def _check_name_free(engine: Engine, name: str | None) -> None:
    if name and engine.is_name_taken(name):
        raise NameTakenError(f"{engine.type} container name {name!r} is in use")


def _by_name(details: ContainerDetails) -> str:
    return details.ref.name


_METHODS: dict[str, Callable[[Engine, dict[str, Any]], Any]] = {
    "precheck": precheck,
    "precheck_clone": precheck_clone,
    "list": list_containers,
    "inspect": inspect,
    "act": act,
    "remove": remove,
    "getid": getid,
    "ping": ping,
}
