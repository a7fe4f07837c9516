"""What a request's input must be before any route sees it (app-wide dependencies).

Text in the query string or the path holds no NUL character: PostgreSQL text cannot, and a
query with one would fail in the database instead of answering a 422 naming the parameter.

JSON request bodies are validated in pydantic's strict JSON mode.

FastAPI hands a route's body model the already-decoded JSON as Python objects, and pydantic's
lax Python mode then coerces: ``"3"`` becomes the rating 3, ``"yes"`` becomes true,
``"2025-04-10T00:00:00"`` becomes a date, ``["-83.0", "42.3"]`` become coordinates. A client that
sends such values has a bug, and the record it wrote would not be what it meant. Strict JSON mode
takes each value only in its JSON type: numbers as numbers, booleans as ``true``/``false``; UUIDs,
dates (``YYYY-MM-DD`` exactly), date-times and enumerations as strings, the way JSON writes them.

Query strings and form fields stay lax: everything in them is text.

Both run before a route's own dependencies, the key check among them: input refused here is a
422 for any caller, and nothing has been read from the database yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from shared.web.query import refuse_unknown_query


def _adapter(route: Any) -> TypeAdapter[Any] | None:
    """The route's body type, built once per route (and kept on it)."""
    if not isinstance(route, APIRoute) or route.body_field is None:
        return None
    adapter: TypeAdapter[Any] | None = route.__dict__.get("strict_body")
    if adapter is None:
        annotation: Any = route.body_field.field_info.annotation
        adapter = route.__dict__["strict_body"] = TypeAdapter(annotation)
    return adapter


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _nul_error(where: str, name: str, value: str) -> dict[str, Any]:
    return {"type": "string_nul", "loc": (where, name), "msg": "text may not contain NUL characters", "input": value}


def reads_text_as_is(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """These routers' routes, as the app registered them, answer bad parameters themselves, in their standard's
    own error format."""
    endpoints = {route.endpoint for router in routers for route in router.routes if isinstance(route, APIRoute)}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.endpoint in endpoints:
            route.__dict__["text_as_is"] = True


async def plain_text_parameters(request: Request) -> None:
    """An app-wide dependency: a NUL in a query or path parameter is a 422 naming it."""
    if getattr(request.scope.get("route"), "text_as_is", False):
        return
    errors = [_nul_error("query", k, v) for k, v in request.query_params.multi_items() if "\x00" in k + v]
    errors += [_nul_error("path", k, v) for k, v in request.path_params.items() if "\x00" in str(v)]
    if errors:
        raise RequestValidationError(errors)


async def strict_json_body(request: Request) -> None:
    """An app-wide dependency: a JSON body that strict validation refuses is a 422 naming each field."""
    if not _is_json(request) or (adapter := _adapter(request.scope.get("route"))) is None:
        return
    body = await request.body()  # kept by the request: the route reads it again without a second receive
    if not body:
        return
    try:
        adapter.validate_json(body, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            return  # not JSON at all: the route answers that itself, as for any other body
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors], body=body) from None


async def checked_input(request: Request) -> None:
    """The app-wide dependency: no unknown query parameter, no NUL in text, a body strict JSON validation takes.

    One dependency for the three: FastAPI solves each dependency anew on every request."""
    await refuse_unknown_query(request)
    await plain_text_parameters(request)
    await strict_json_body(request)
