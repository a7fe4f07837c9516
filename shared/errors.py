"""RFC 9457 problem+json answers for every error a client can see.

Each error has a stable ``type`` URI; validation errors list the fields in
``errors`` as ``{"field": "body.findings.0.rating", "message": ...}``. A
client never sees a stack trace.
"""

from __future__ import annotations

import socket
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.settings import NotConfigured

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
