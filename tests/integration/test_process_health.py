"""Readiness and liveness of the processes that serve no API: a relay's or the consumer's servers, and beat.

Readiness follows the servers the process works with (here reached through proxies the test takes down);
liveness follows only the process's own loop, so an outage of PostgreSQL or Redis never restarts a worker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, signals
from celery.beat import Scheduler, Service

from services.metrics.health import beat_health, broker_check
from shared.bus.health import Heartbeat, platform_checks, serve_health
from shared.settings import Settings
from tests.pgproxy import PgProxy
from tests.probes import probe, until
from tests.rabbitmq import rabbitmq_vhost
from tests.servers import TestServers, free_port


async def test_a_relay_is_ready_while_its_database_and_redis_answer_and_alive_whatever_they_do(
    servers: TestServers,
) -> None:
    database, redis = await PgProxy(servers.database_url).start(), await PgProxy(servers.redis_url).start()
    settings = Settings(database_url=database.url, redis_url=redis.url)
    port = free_port()
    server = serve_health("127.0.0.1", port, Heartbeat(30), "relay-audits", platform_checks(settings))
    try:
        status, body = await probe(port, "/readyz")
        assert (status, body["checks"]) == (200, {"heartbeat": "ok", "database": "ok", "redis": "ok"}), body
        await database.set_mode("down")
        status, body = await probe(port, "/readyz")
        assert status == 503 and body["status"] == "not-ready"
        assert body["checks"]["database"].startswith("unavailable") and body["checks"]["redis"] == "ok"
        assert (await probe(port, "/healthz"))[0] == 200  # a database outage is no reason to restart it
        await redis.set_mode("down")
        status, body = await probe(port, "/readyz")
        assert status == 503 and body["checks"]["redis"].startswith("unavailable")
        await database.set_mode("up")
        await redis.set_mode("up")
        assert (await probe(port, "/readyz"))[0] == 200
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


async def test_beat_is_alive_while_it_ticks_and_stalled_once_it_stops(beat: int) -> None:
    await until(beat, "/healthz", 200)
    body = await until(beat, "/readyz", 200)
    assert body["checks"] == {"heartbeat": "ok", "broker": "ok"}
    StallingScheduler.stalled.set()
    body = await until(beat, "/healthz", 503)
    assert body["status"] == "stalled" and body["service"] == "celery-beat"
    assert (await probe(beat, "/readyz"))[0] == 503
    StallingScheduler.stalled.clear()
    await until(beat, "/healthz", 200)


async def test_the_workers_readiness_reaches_a_rabbitmq_broker_and_names_it_when_it_is_gone() -> None:
    with rabbitmq_vhost(f"health-{uuid.uuid4().hex[:8]}") as url:
        broker = await PgProxy(url).start()
        app = Celery("broker-health")
        app.conf.broker_url = broker.url
        port = free_port()
        server = serve_health("127.0.0.1", port, Heartbeat(30), "celery-worker", {"broker": broker_check(app)})
        try:
            assert (await probe(port, "/readyz"))[0] == 200
            await broker.set_mode("down")
            status, body = await probe(port, "/readyz")
            assert status == 503 and body["checks"]["broker"].startswith("unavailable"), body
        finally:
            server.shutdown()
            await broker.close()
