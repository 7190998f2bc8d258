"""Errors the HTTP API answers, each with a status and a stable machine code.

    ApiError                  base: ``status``, ``code``, human ``message``
    ├── BadRequestError       400, the request itself is wrong
    ├── ForbiddenError        403, allowed to others, not to this user
    ├── NotFoundError         404
    ├── UnsupportedMediaError 415, the body is not JSON
    ├── ConflictError         409
    ├── UnavailableError      503, a dependency (broker, executor) is down
    └── GatewayTimeoutError   504, the work goes on but the answer cannot wait

Every error answers ``{"error": {"code": ..., "message": ...}}``.
"""

from typing import Any


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, code: str | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class BadRequestError(ApiError):
    status = 400
    code = "bad_request"


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class UnsupportedMediaError(ApiError):
    status = 415
    code = "unsupported_media_type"


class ConflictError(ApiError):
    status = 409
    code = "conflict"


class UnavailableError(ApiError):
    status = 503
    code = "unavailable"


class GatewayTimeoutError(ApiError):
    status = 504
    code = "timeout"


_BY_STATUS = {
    400: BadRequestError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    503: UnavailableError,
}


def from_remote(error: dict[str, Any]) -> ApiError:
    """The API error for an error another service sent as data."""
    status = int(error.get("status", 502))
    cls = _BY_STATUS.get(status, ApiError)
    api_error = cls(error.get("message", "unknown error"), code=error.get("code"))
    api_error.status = status
    return api_error
