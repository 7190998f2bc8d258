"""The HTTP API's application: blueprints, authentication and error answers."""

import logging
from typing import Any

from flask import Blueprint, Flask, request
from werkzeug.exceptions import HTTPException

from ctstation.config import Settings
from gateway import container_api, events_api, task_api
from gateway.auth import normalise_auth_scheme
from gateway.bus import BusClient
from gateway.errors import ApiError
from gateway.services import Services, services
from gateway.users import UserStore
from orchestrator.events import EventLog
from orchestrator.tasks import TaskStore

log = logging.getLogger(__name__)

health_api = Blueprint("health", __name__, url_prefix="/api/v1")


@health_api.get("/health")
def health() -> Any:
    """Unauthenticated liveness: the database and the broker listener."""
    checks = {"broker": services().bus.is_healthy, "database": True}
    try:
        services().tasks.count()
    except Exception:
        checks["database"] = False
    healthy = all(checks.values())
    return {"status": "ok" if healthy else "unhealthy", **checks}, (
        200 if healthy else 503
    )


def _api_error(error: ApiError) -> tuple[Any, int]:
    return error.to_dict(), error.status


def _http_error(error: HTTPException) -> tuple[Any, int]:
    code = (error.name or "error").lower().replace(" ", "_")
    return {"error": {"code": code, "message": error.description}}, error.code or 500


def _unexpected_error(error: Exception) -> tuple[Any, int]:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return {"error": {"code": "internal_error", "message": "internal error"}}, 500


def create_app(
    settings: Settings,
    bus: BusClient,
    tasks: TaskStore,
    users: UserStore,
    installation: str,
    events: EventLog,
) -> Flask:
    app = Flask("ctstation.gateway")
    app.json.sort_keys = False
    app.extensions["ctstation"] = Services(
        settings, bus, tasks, users, installation, events
    )
    app.before_request(normalise_auth_scheme)
    app.register_blueprint(health_api)
    app.register_blueprint(task_api.api)
    app.register_blueprint(container_api.api)
    app.register_blueprint(events_api.api)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app
