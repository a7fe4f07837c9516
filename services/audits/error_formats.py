"""Open311 and OGC API answer errors in their own formats, not as problem+json; their OpenAPI entries say so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from shared.web.inputs import reads_text_as_is


def keep_declared_errors(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """After the service-wide document is built, put back the error answers these routers declare."""
    reads_text_as_is(app, routers)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for route in (r for router in routers for r in router.routes if isinstance(r, APIRoute)):
            for method in route.methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                for status, declared in route.responses.items():
                    if str(status) != "200":
                        operation["responses"][str(status)] = declared
                operation["responses"].pop("422", None)  # every parameter is read as text: no validation errors
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
