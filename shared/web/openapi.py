"""The OpenAPI document: every error answer documented as RFC 9457 problem+json."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from shared.auth.keys import API_KEY_SCHEME, OPTIONAL_KEY_SCHEME
from shared.errors import PROBLEM_JSON


class FieldError(BaseModel):
    field: str = Field(description="where: `body.findings.0.rating`, `query.limit`, or `line 12` of a CSV file")
    message: str
    line: int | None = Field(default=None, description="the CSV line, for a row of an import")


class Problem(BaseModel):
    """RFC 9457 problem details, with the extension members this platform's problem types add."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="each invalid field (422)")
    available_media_types: list[str] | None = Field(default=None, description="what Accept may ask for (406)")
    available_languages: list[str] | None = Field(default=None, description="the languages there are (404)")
    current_version: int | None = Field(default=None, description="the version to make the change on (409)")
    missing: str | None = Field(default=None, description="the data an evaluation lacks (409)")
    neighbourhood_id: uuid.UUID | None = Field(default=None, description="the neighbourhood it lacks it for")
    subject_id: uuid.UUID | None = Field(default=None, description="the record a lost answer was about (409)")


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


WRITES = {"post", "put", "patch", "delete"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _possible_errors(method: str, operation: dict[str, Any]) -> list[str]:
    """The problem answers this operation can actually give (and those its route declares)."""
    codes = ["400", "404", "422", "429", "503"]
    codes += [code for code in operation.get("responses", {}) if code in ERRORS]
    if operation.get("security"):
        codes += ["401", "403"]
    if method in WRITES:
        codes.append("409")
    if "requestBody" in operation:
        codes.append("413")
    headers = {p["name"].lower() for p in operation.get("parameters", []) if p.get("in") == "header"}
    if "if-match" in headers:
        codes.append("412")
    return sorted(set(codes))


def _declare_security(schema: dict[str, Any], oidc_issuer: str | None) -> None:
    """The open standards' optional key reads as "no key, or an API key"; OIDC tokens are an alternative key."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    optional = schemes.pop(OPTIONAL_KEY_SCHEME, None)
    if optional is not None:
        schemes.setdefault(API_KEY_SCHEME, {"type": "http", "scheme": "bearer"})
    if oidc_issuer:
        schemes["oidc"] = {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
        }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            requirements = operation.get("security")
            if not requirements:
                continue
            if {OPTIONAL_KEY_SCHEME: []} in requirements:
                requirements = [{}, {API_KEY_SCHEME: []}]
            if oidc_issuer and {API_KEY_SCHEME: []} in requirements:
                requirements = [*requirements, {"oidc": []}]
            operation["security"] = requirements


JSON = "application/json"
STANDARDS = ("/ogc", "/open311")
"""The open standards document their own headers and formats."""

_TEXT = {"type": "string"}
_BINARY = {"type": "string", "format": "binary"}


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or _TEXT}


def _parameter(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema or _TEXT}


def _declare_bodies(operation: dict[str, Any]) -> None:
    """A non-JSON answer with no schema is text (``text/*``) or bytes (images, PDFs): say which."""
    for response in operation["responses"].values():
        for media_type, content in response.get("content", {}).items():
            if content.get("schema") in (None, {}) and "json" not in media_type:
                content["schema"] = dict(_TEXT if media_type.startswith("text/") else _BINARY)


def _declare_headers(method: str, operation: dict[str, Any], idempotent_posts: bool) -> None:
    """The headers the middleware reads and writes on every service, declared where they apply."""
    responses = operation["responses"]
    parameters = operation.setdefault("parameters", [])
    names = {p["name"].lower() for p in parameters if p.get("in") == "header"}
    if method == "get" and JSON in responses.get("200", {}).get("content", {}):
        if "if-none-match" not in names:
            parameters.append(_parameter("If-None-Match", "An ETag from an earlier answer: 304 when unchanged"))
        responses["200"].setdefault("headers", {})["ETag"] = _header("The answer's validator, for If-None-Match")
        responses.setdefault("304", {"description": "Not modified since the ETag sent in If-None-Match"})
    if method == "post" and idempotent_posts and "idempotency-key" not in names:
        parameters.append(
            _parameter(
                "Idempotency-Key",
                "Any unique string: a repeat with the same key and body gets the first answer",
                {"type": "string", "maxLength": 255},
            )
        )
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {})["Idempotent-Replayed"] = _header(
                    "`true` when this is the stored answer of an earlier request with the same key"
                )
    if "201" in responses:
        responses["201"].setdefault("headers", {})["Location"] = _header("The new record's URL")
    for code in ("429", "503"):
        if code in responses:
            responses[code].setdefault("headers", {})["Retry-After"] = _header("Seconds to wait before trying again")
    if not parameters:
        del operation["parameters"]


def document_problems(
    app: FastAPI, *, server_url: str | None = None, oidc_issuer: str | None = None, idempotent_posts: bool = False
) -> None:
    """Replace FastAPI's default 422 schema, add the problem answers each operation can give, declare auth."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            servers=[{"url": server_url}] if server_url else None,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(components["Problem"].pop("$defs", {}))
        _declare_security(schema, oidc_issuer)
        for path, operations in schema.get("paths", {}).items():
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            for method, operation in operations.items():
                for code in _possible_errors(method, operation):
                    declared = operation["responses"].get(code, {}).get("description")
                    operation["responses"][code] = _problem_response(declared or ERRORS[code])
                _document_replay(operation, components)
                _declare_bodies(operation)
                if not path.startswith(STANDARDS):
                    _declare_headers(method, operation, idempotent_posts)
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
