"""Liveness and readiness of the processes that serve no API (relays, the metrics consumer, Celery worker and
beat): a heartbeat and a tiny HTTP server.

- ``/healthz``, liveness: the process's own loop still turns. The loop beats on every round, including
  rounds that only wait for Redis or the database (a restart would not bring them back); a loop that stopped
  turning for longer than the heartbeat's maximum age answers 503 ``stalled``. Nothing outside the process is
  asked, so an outage of PostgreSQL or Redis never restarts every relay or consumer at once (a process whose
  waiting happens in a library's loop, as Celery's reconnection to its broker, stops beating while it waits).
- ``/readyz``, readiness: alive, and every server the process works with (the database, Redis, the Celery
  broker) answers within a few seconds; else 503 naming the check that failed.
- ``/metrics``: the process's Prometheus metrics.

The server runs in its own thread, so a busy loop still answers, and probes are plain HTTP GETs: no
interpreter is started per probe.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.bus.client import redis_client
from shared.db.engine import plain_url
from shared.settings import Settings

Check = Callable[[], Awaitable[object]]
"""Raises (or takes longer than ``CHECK_TIMEOUT_S``) when the server it checks cannot be used."""
T = TypeVar("T")
CHECK_TIMEOUT_S = 3.0


class Heartbeat:
    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last

    def alive(self) -> bool:
        return self.age() < self.max_age_s


def platform_checks(settings: Settings) -> dict[str, Check]:
    """The database and Redis of the platform, each reached with a connection of its own."""

    async def database() -> None:
        connection = await asyncpg.connect(plain_url(settings.resolved_database_url()), timeout=CHECK_TIMEOUT_S)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            await connection.close()

    async def redis() -> None:
        client = redis_client(settings, socket_timeout=CHECK_TIMEOUT_S)
        try:
            await client.ping()
        finally:
            await client.aclose()

    return {"database": database, "redis": redis}


def unavailable(exc: BaseException) -> str:
    """How a failed readiness check reads, for every process: the kind of failure, never its message."""
    return f"unavailable: {type(exc).__name__}"


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """Every check at once, each given ``CHECK_TIMEOUT_S``: a hung dependency reads as unavailable, in time."""

    async def one(check: Check) -> str:
        try:
            await within(check(), CHECK_TIMEOUT_S)
            return "ok"
        except Exception as exc:
            return unavailable(exc)

    results = await asyncio.gather(*(one(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


_abandoned: set[asyncio.Future[Any]] = set()


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``'s result, or TimeoutError after ``seconds``, on time even when the awaitable does not stop
    at once when cancelled (a driver whose server hung may spend its own long timeout closing the connection):
    it is cancelled and left to end by itself."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        raise TimeoutError(f"no answer within {seconds:g} s")
    return task.result()


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: the failure was reported as the timeout


def serve_health(
    host: str, port: int, heartbeat: Heartbeat, name: str, checks: Mapping[str, Check] | None = None
) -> ThreadingHTTPServer:
    """Start answering ``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                alive, age = heartbeat.alive(), round(heartbeat.age(), 1)
                self._json(200 if alive else 503, {"status": "ok" if alive else "stalled", "service": name,
                                                   "last_beat_s": age})  # fmt: skip
            elif self.path == "/readyz":
                found = {"heartbeat": "ok" if heartbeat.alive() else "stalled"}
                found |= asyncio.run(run_checks(checks or {}))
                ready = all(v == "ok" for v in found.values())
                self._json(200 if ready else 503, {"status": "ready" if ready else "not-ready", "service": name,
                                                   "checks": found})  # fmt: skip
            elif self.path == "/metrics":
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._json(404, {"status": "not found"})

        def _json(self, status: int, body: dict[str, object]) -> None:
            self._answer(status, json.dumps(body).encode(), "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: not worth a log line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{name}-health", daemon=True).start()
    return server
