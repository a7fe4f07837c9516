"""The OpenAPI document: every error answer documented as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from shared.errors import PROBLEM_JSON


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


ERRORS = {
    "400": "Bad request",
    "401": "Missing, unknown, revoked or expired API key",
    "403": "The key may not do this",
    "404": "Not found (or not visible to this key)",
    "409": "Conflicts with the current state",
    "412": "If-Match is stale",
    "413": "Body too large",
    "422": "Invalid request: see errors[].field",
    "429": "Rate limit reached: see Retry-After",
    "503": "A backing service is unavailable: see Retry-After",
}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document_problems(app: FastAPI) -> None:
    """Replace FastAPI's default 422 schema and add every problem answer to every API operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(components["Problem"].pop("$defs", {}))
        for path, operations in schema.get("paths", {}).items():
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            for operation in operations.values():
                for code, description in ERRORS.items():
                    operation["responses"][code] = _problem_response(description)
                _document_replay(operation, components)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_replay(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """A create that takes a client-chosen ``id`` answers 200 with the stored record when it exists already."""
    created = operation["responses"].get("201")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = body.get("$ref", "")
    properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}) if ref else body.get("properties", {})
    if created is not None and "id" in properties:
        operation["responses"]["200"] = created | {"description": "A record with this id exists already: the record"}
