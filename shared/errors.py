"""RFC 9457 problem+json answers for every error a client can see.

Each error has a stable ``type`` URI; validation errors list the fields in
``errors`` as ``{"field": "body.findings.0.rating", "message": ...}``. A
client never sees a stack trace.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.settings import NotConfigured

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://cpted.example.org/problems/"
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error with a problem type, raised anywhere below the routers."""

    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field:
            body["errors"] = [{"field": self.field, "message": self.detail}]
        body.update(self.extra)
        return body


class NotFound(Problem):
    status, type, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, type, title = 409, "conflict", "Conflict"


class InvalidField(Problem):
    status, type, title = 422, "validation-error", "Invalid request"


class IllegalTransition(Conflict):
    type, title = "illegal-transition", "Illegal status change"


class Unauthorized(Problem):
    status, type, title = 401, "unauthorized", "Unauthorized"


class Forbidden(Problem):
    status, type, title = 403, "forbidden", "Forbidden"


class PreconditionFailed(Problem):
    status, type, title = 412, "precondition-failed", "Precondition failed"


class Unavailable(Problem):
    status, type, title = 503, "unavailable", "Service unavailable"


RETRY_AFTER_S = 5

# SQLSTATEs of a database that is gone, going or not yet back: connection exceptions (class 08),
# administrator/crash shutdown and "cannot connect now" (57P01-57P03).
_LOST_STATES = ("08", "57P01", "57P02", "57P03")


def _sqlstate(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = seen.__cause__
    return ""


def infrastructure_fault(exc: BaseException) -> str | None:
    """What failed, in words for the client, when ``exc`` is a fault of a backing server; None otherwise."""
    if isinstance(exc, PoolTimeoutError):
        return "the database connection pool is exhausted (every connection is busy); try again shortly"
    if isinstance(exc, NotConfigured):
        return str(exc)
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "Redis (the event bus) is unavailable; try again shortly"
    if isinstance(exc, RedisError):
        return None
    if isinstance(exc, DBAPIError):
        state = _sqlstate(exc.orig or exc)
        if state == "53300":
            return "the database refuses new connections (too many clients); try again shortly"
        if exc.connection_invalidated or state.startswith(_LOST_STATES):
            return "the database connection was lost (the database is restarting or unreachable); try again shortly"
        if isinstance(exc, OperationalError):
            return "the database is unavailable; try again shortly"
        return None
    state = _sqlstate(exc)
    if state == "53300":
        return "the database refuses new connections (too many clients); try again shortly"
    if state.startswith(_LOST_STATES):
        return "the database connection was lost (the database is restarting or unreachable); try again shortly"
    # Raw socket errors come from the database driver: Redis and HTTP clients wrap theirs.
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return "the database cannot be reached; try again shortly"
    if isinstance(exc, OSError):
        return f"a server resource failed ({exc.strerror or type(exc).__name__}); try again shortly"
    return None


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
