"""Who is asking: HTTP Basic with a password, or a Bearer API token."""

from typing import Any

from flask import request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from gateway.services import services
from orchestrator.db import User

basic_auth = HTTPBasicAuth(realm="ctstation")
token_auth = HTTPTokenAuth(scheme="Bearer", realm="ctstation")
auth = MultiAuth(basic_auth, token_auth)


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


def owner_filter() -> dict[str, str | None]:
    """Whose containers the caller may see, as arguments of an executor question:
    an admin everything, a plain user what this installation made for them."""
    user = current_user()
    if user.is_admin:
        return {"owner": None, "installation": None}
    return {"owner": user.name, "installation": services().installation}
