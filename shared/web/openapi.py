"""The OpenAPI document: every error answer documented as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from shared.auth.keys import API_KEY_SCHEME, OPTIONAL_KEY_SCHEME
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


def document_problems(app: FastAPI, *, server_url: str | None = None, oidc_issuer: str | None = None) -> None:
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
