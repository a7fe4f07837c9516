"""Readiness and liveness of the processes that serve no API: a relay's or the consumer's servers, and beat.

Readiness follows the servers the process works with (here reached through proxies the test takes down);
liveness follows only the process's own loop, so an outage of PostgreSQL or Redis never restarts a worker.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, signals
from celery.beat import Scheduler, Service

from services.metrics.health import beat_health
from shared.bus.health import Heartbeat, platform_checks, serve_health
from shared.settings import Settings
from tests.pgproxy import PgProxy
from tests.servers import TestServers, free_port


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def _probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """In a thread: the proxies of the test run on this loop and must go on while the probe waits."""
    return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{path}")


async def test_a_relay_is_ready_while_its_database_and_redis_answer_and_alive_whatever_they_do(
    servers: TestServers,
) -> None:
    database, redis = await PgProxy(servers.database_url).start(), await PgProxy(servers.redis_url).start()
    settings = Settings(database_url=database.url, redis_url=redis.url)
    port = free_port()
    server = serve_health("127.0.0.1", port, Heartbeat(30), "relay-audits", platform_checks(settings))
    try:
        status, body = await _probe(port, "/readyz")
        assert (status, body["checks"]) == (200, {"heartbeat": "ok", "database": "ok", "redis": "ok"}), body
        await database.set_mode("down")
        status, body = await _probe(port, "/readyz")
        assert status == 503 and body["status"] == "not-ready"
        assert body["checks"]["database"].startswith("unavailable") and body["checks"]["redis"] == "ok"
        assert (await _probe(port, "/healthz"))[0] == 200  # a database outage is no reason to restart it
        await redis.set_mode("down")
        status, body = await _probe(port, "/readyz")
        assert status == 503 and body["checks"]["redis"].startswith("unavailable")
        await database.set_mode("up")
        await redis.set_mode("up")
        assert (await _probe(port, "/readyz"))[0] == 200
    finally:
        server.shutdown()
        await database.close()
        await redis.close()


class StallingScheduler(Scheduler):
    """A scheduler whose passes hang while ``stalled`` is set, as one stuck on a lock or a dead socket would."""

    stalled = threading.Event()

    def tick(self, *args: Any, **kwargs: Any) -> Any:
        while self.stalled.is_set():
            time.sleep(0.05)
        return super().tick(*args, **kwargs)


@pytest.fixture
def beat(servers: TestServers) -> Iterator[int]:
    """A beat of its own (no schedule entries) in a thread, answering its health on the port yielded."""
    port = free_port()
    app = Celery("beat-health")
    app.conf.update(broker_url=servers.redis_url, beat_schedule={}, beat_enable_remote_control=False)
    service = Service(app, scheduler_cls=StallingScheduler)
    receiver = beat_health(lambda: Settings(health_port=port, health_host="127.0.0.1", heartbeat_max_age_s=1.5))
    signals.beat_init.connect(receiver, sender=service, weak=False)
    thread = threading.Thread(target=service.start, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        StallingScheduler.stalled.clear()
        service.stop()
        thread.join(10)
        signals.beat_init.disconnect(receiver, sender=service)


async def _until(port: int, path: str, status: int, timeout_s: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got, body = await _probe(port, path)
        except OSError:  # not listening yet
            got, body = 0, {}
        if got == status:
            return body
        assert time.monotonic() < deadline, f"{path} still {got} {body}, not {status}"
        await asyncio.sleep(0.2)


async def test_beat_is_alive_while_it_ticks_and_stalled_once_it_stops(beat: int) -> None:
    await _until(beat, "/healthz", 200)
    body = await _until(beat, "/readyz", 200)
    assert body["checks"] == {"heartbeat": "ok", "broker": "ok"}
    StallingScheduler.stalled.set()
    body = await _until(beat, "/healthz", 503)
    assert body["status"] == "stalled" and body["service"] == "celery-beat"
    assert (await _probe(beat, "/readyz"))[0] == 503
    StallingScheduler.stalled.clear()
    await _until(beat, "/healthz", 200)
