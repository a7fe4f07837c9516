"""The problem+json renderer and the exception handlers every service installs (see ``shared.errors``)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import PROBLEM_BASE, PROBLEM_JSON, RETRY_AFTER_S, Problem, infrastructure_fault
from shared.settings import NotConfigured

log = logging.getLogger(__name__)


def problem_response(
    status: int, type_: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": PROBLEM_BASE + type_, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [{"field": _field_path(err["loc"]), "message": err["msg"]} for err in exc.errors()]


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        return JSONResponse(exc.body(), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        fields = ", ".join(e["field"] for e in errors[:5])
        return problem_response(422, "validation-error", "Invalid request", f"invalid: {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            exc.status_code, slug, str(exc.detail), str(exc.detail), headers=getattr(exc, "headers", None)
        )

    async def _backing_server(request: Request, exc: Exception) -> JSONResponse:
        reason = infrastructure_fault(exc)
        if reason is None:
            log.exception("unexpected error")
            return problem_response(500, "internal", "Internal error", "an unexpected error occurred")
        log.warning("503: %s (%s: %s)", reason, type(exc).__name__, exc)
        return problem_response(
            503, "unavailable", "Service unavailable", reason, headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    for exc_class in (DBAPIError, PoolTimeoutError, OSError, NotConfigured, RedisError, asyncpg.PostgresError):
        app.add_exception_handler(exc_class, _backing_server)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A concurrent change won the race (e.g. the audit was deleted while a recommendation was added).
        log.info("integrity conflict: %s", exc.orig)
        return problem_response(409, "conflict", "Conflict", "the request conflicts with a concurrent change; retry")

    # Whatever else escapes: still a 503 if a backing server failed (asyncpg's interface errors, say).
    app.add_exception_handler(Exception, _backing_server)
