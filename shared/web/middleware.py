"""Protective middleware every service runs: body size limits, per-key rate limits,
request timeouts and security headers.

Pure ASGI (no BaseHTTPMiddleware) so they add little to each request.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping

import orjson
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import request_id
from shared.errors import PROBLEM_BASE, PROBLEM_JSON, RETRY_AFTER_S, infrastructure_fault
from shared.web.docs import PAGE_PREFIXES
from shared.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

REQUESTS = Counter("cpted_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("cpted_http_request_seconds", "HTTP request latency", ["service", "method", "route"])

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


class TimeoutMiddleware:
    """503 when a request has not started answering within the time limit.

    The route runs in the request's own task under a deadline that is lifted once the answer starts (no second
    task and no waiter per request)."""

    def __init__(self, app: ASGIApp, seconds: float, overrides: Mapping[str, float]) -> None:
        self.app = app
        self.seconds = seconds
        self.overrides = overrides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        seconds = _path_limit(scope["path"], self.seconds, self.overrides)  # type: ignore[arg-type]
        deadline = asyncio.timeout(seconds)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                deadline.reschedule(None)  # answering: the body takes as long as it takes
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except Exception:  # a cancellation from outside is a BaseException and passes
            if started or not deadline.expired():
                raise
        else:
            if started or not deadline.expired():
                return
        await send_problem(
            send, 503, "timeout", "Request timed out", f"no answer within {seconds:g} s", {"Retry-After": "5"}
        )


class EdgeMiddleware:
    """What every request meets first, in one layer (a layer each would wrap ``send`` once more each):

    - a request id (``X-Request-ID``, the client's or a new one) on the answer and in the logs, and the request
      timed and counted;
    - ``GET /healthz`` answered before anything that touches the database or Redis or starts a task: a liveness
      probe asks whether the process still runs its event loop, and under load every extra trip through the
      loop's queue would make a busy pod look dead;
    - at most N requests per second per API key (a fixed one-second window in Redis), 429 beyond;
    - 413 for a body over the limit, whether or not it announced its length;
    - a backing server failing under a middleware (outside the routes' error handlers: the idempotency
      middleware uses the database, the rate limit Redis) answered as a 503, not a 500.
    """

    def __init__(
        self, app: ASGIApp, service: str, per_second: int, max_bytes: int, body_limits: Mapping[str, int]
    ) -> None:
        self.app = app
        self.service = service
        self.per_second = per_second
        self.limiter = RateLimiter(per_second)
        self.max_bytes = max_bytes
        self.body_limits = body_limits
        self.health = orjson.dumps({"status": "ok", "service": service})
        self.health_headers = [
            (b"content-type", b"application/json"), (b"content-length", str(len(self.health)).encode()),
        ]  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:100] if incoming else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = refused = False
        began = time.perf_counter()

        async def answer(message: Message) -> None:
            nonlocal status, started
            if refused:  # the body went over the limit and the 413 went out: nothing the route answers is sent
                return
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        limit = _path_limit(scope["path"], self.max_bytes, self.body_limits)
        declared = headers.get(b"content-length", b"")
        received = 0

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    if not started:
                        await _too_large(answer, limit)
                    refused = True
                    return {"type": "http.disconnect"}  # the route sees the client gone and stops
            return message

        try:
            if scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
                await answer({"type": "http.response.start", "status": 200, "headers": self.health_headers})
                await answer({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.health})
            elif await self._rate_limited(scope, headers.get(b"authorization", b"")):
                await send_problem(
                    answer, 429, "rate-limited", "Too many requests",
                    f"this key may make {self.per_second} requests per second", {"Retry-After": "1"},
                )  # fmt: skip
            elif declared.isdigit() and int(declared) > limit:
                await _too_large(answer, limit)
            else:
                await self.app(scope, counting_receive, answer)
        except Exception as exc:
            reason = infrastructure_fault(exc)
            if reason is None or started:
                raise
            log.warning("503: %s (%s: %s)", reason, type(exc).__name__, exc)
            await send_problem(
                answer, 503, "unavailable", "Service unavailable", reason, {"Retry-After": str(RETRY_AFTER_S)}
            )
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
            LATENCY.labels(self.service, scope["method"], route).observe(time.perf_counter() - began)
            request_id.reset(token)

    async def _rate_limited(self, scope: Scope, token: bytes) -> bool:
        if self.per_second <= 0 or not token or not scope["path"].startswith(("/v1", "/open311", "/ogc")):
            return False
        redis: Redis | None = getattr(getattr(scope.get("app"), "state", None), "redis", None)
        if redis is None:
            return False
        return await self.limiter.refuses(redis, token)


async def _too_large(send: Send, limit: int) -> None:
    await send_problem(send, 413, "payload-too-large", "Payload too large", f"the body exceeds {limit} bytes")


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
