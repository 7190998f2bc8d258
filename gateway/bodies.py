"""Request bodies the HTTP API accepts, validated before anything is published."""

from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.images import ContainerType
from contract.params import CreateParams, PortMapping
from gateway.errors import BadRequestError, UnsupportedMediaError


class CreateBody(CreateParams):
    """The body of a create request: what to make, and the create params, flat."""

    name: str | None = Field(default=None, min_length=1)
    image: str = Field(min_length=1)
    tag: str | None = Field(default=None, min_length=1)
    type: ContainerType | None = None

    def params(self) -> CreateParams:
        fields = set(CreateParams.model_fields)
        return CreateParams.model_validate(self.model_dump(include=fields))


class CloneBody(BaseModel):
    """The body of a clone request."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    start: bool = True
    # Host port bindings for the copy; the source's cannot be shared.
    ports: list[PortMapping] | None = None


def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body.

    Raises:
        BadRequestError: no JSON content type, malformed JSON, or not an object.
    """
    if not request.is_json:
        raise UnsupportedMediaError(
            "the body must be JSON, sent with Content-Type: application/json"
        )
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise BadRequestError(
            "the body nests too deeply", code="malformed_json"
        ) from None
    if body is None:
        raise BadRequestError("the body is not valid JSON", code="malformed_json")
    if not isinstance(body, dict):
        raise BadRequestError(
            f"the body must be a JSON object, not {type(body).__name__}",
            code="not_an_object",
        )
    return body


Body = TypeVar("Body", bound=BaseModel)


def validate(model: type[Body], body: dict[str, Any]) -> Body:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = [
            {
                "field": ".".join(str(part) for part in item["loc"]),
                "message": item["msg"],
            }
            for item in error.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise BadRequestError(
            f"invalid request: {summary}", code="invalid_request", fields=problems
        ) from error
