"""Protective middleware every service runs: body size limits, per-key rate limits,
request timeouts and security headers.

Pure ASGI (no BaseHTTPMiddleware) so they add little to each request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping

import orjson
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_BASE, PROBLEM_JSON, RETRY_AFTER_S, infrastructure_fault
from shared.web.docs import PAGE_PREFIXES

log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
API_ONLY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


async def send_problem(
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] = {},
    extra_body: Mapping[str, str] = {},
) -> None:
    body = orjson.dumps({"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, **extra_body})
    raw_headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _path_limit(path: str, default: int, overrides: Mapping[str, int]) -> int:
    for suffix, limit in overrides.items():
        if path.endswith(suffix):
            return limit
    return default


class BodyLimitMiddleware:
    """413 for a body over the limit, whether or not it announced its length."""

    def __init__(self, app: ASGIApp, max_bytes: int, overrides: Mapping[str, int]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _path_limit(scope["path"], self.max_bytes, self.overrides)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_problem(send, 413, "payload-too-large", "Payload too large", f"the body exceeds {limit} bytes")
            return
        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    if not started:
                        await send_problem(
                            send, 413, "payload-too-large", "Payload too large", f"the body exceeds {limit} bytes"
                        )
                    # The route sees the client gone and stops; nothing it answers is sent.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


class LivenessMiddleware:
    """``GET /healthz`` answered before anything that touches the database or Redis or starts a task.

    A liveness probe asks whether the process still runs its event loop; under load every extra trip
    through the loop's queue (a task, a Redis call) would make a busy pod look dead.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.body = orjson.dumps({"status": "ok", "service": service})
        self.headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})
            return
        await self.app(scope, receive, send)


class BackingServerFaultMiddleware:
    """A backing server failing under a middleware (outside the routes' error handlers) is a 503 as well.

    The idempotency and rate-limit middlewares use the database and Redis before any route runs;
    their faults must read as what they are, not as a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            reason = infrastructure_fault(exc)
            if reason is None or started:
                raise
            log.warning("503: %s (%s: %s)", reason, type(exc).__name__, exc)
            await send_problem(
                send, 503, "unavailable", "Service unavailable", reason, {"Retry-After": str(RETRY_AFTER_S)}
            )


class TimeoutMiddleware:
    """503 when a request has not started answering within the time limit."""

    def __init__(self, app: ASGIApp, seconds: float, overrides: Mapping[str, float]) -> None:
        self.app = app
        self.seconds = seconds
        self.overrides = overrides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        seconds = _path_limit(scope["path"], self.seconds, self.overrides)  # type: ignore[arg-type]
        started = asyncio.Event()

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, tracking_send))
        waiter = asyncio.ensure_future(started.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await send_problem(
                send, 503, "timeout", "Request timed out", f"no answer within {seconds:g} s", {"Retry-After": "5"}
            )
            return
        await task


class RateLimitMiddleware:
    """At most N requests per second per API key (a fixed one-second window in Redis); 429 beyond."""

    def __init__(self, app: ASGIApp, per_second: int, redis: Redis | None = None) -> None:
        self.app = app
        self.per_second = per_second
        self.redis = redis

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.per_second <= 0 or not scope["path"].startswith(("/v1", "/open311", "/ogc")):
            await self.app(scope, receive, send)
            return
        token = dict(scope["headers"]).get(b"authorization", b"")
        redis: Redis | None = self.redis or getattr(getattr(scope.get("app"), "state", None), "redis", None)
        if token and redis is not None:
            window = int(time.time())
            key = f"ratelimit:{hashlib.sha256(token).hexdigest()[:24]}:{window}"
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, 2)
                    count, _ = await pipe.execute()
            except Exception:  # the limiter must never take the API down with Redis
                count = 0
            if count > self.per_second:
                await send_problem(
                    send, 429, "rate-limited", "Too many requests",
                    f"this key may make {self.per_second} requests per second", {"Retry-After": "1"},
                )  # fmt: skip
                return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(PAGE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = SECURITY_HEADERS + ([] if docs else API_ONLY_HEADERS)
                if self.hsts:
                    extra = [*extra, (b"strict-transport-security", b"max-age=31536000; includeSubDomains")]
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *[(k, v) for k, v in extra if k not in present]]
            await send(message)

        await self.app(scope, receive, with_headers)
