"""Liveness and readiness of the Celery worker and beat, on ``CPTED_HEALTH_PORT`` when it is set.

The same tiny HTTP server as the relays' and the consumer's (``shared/bus/health.py``), not a heartbeat key
in Redis read by an exec probe: a probe is then a plain HTTP GET (an exec probe starts a Python interpreter
per probe, a second of CPU each time on a busy node), liveness depends on nothing outside the process (a
Redis outage must not restart every worker), and one kind of probe serves every process that has no API.

- The worker beats from its consumer's event loop (a timer of that loop), so a worker whose loop is stuck,
  or that has lost its broker and is reconnecting, stops beating. Readiness: the database, Redis and the
  broker answer.
- Beat beats after every pass of its scheduler, and wakes at least three times per heartbeat age (a pass
  over a few schedule entries costs nothing), so a beat that stops ticking turns ``/healthz`` 503 within the
  heartbeat's maximum age. Readiness: the broker answers.

Unlike a relay's or the consumer's loop, both wait for a lost broker inside Celery's own reconnection loop,
where nothing of theirs runs: a worker or beat that has not reached its broker for the heartbeat's age is
reported stalled, and a liveness probe restarts it after its failure window. That is harmless (every task is
idempotent, a missed schedule is caught up) and Celery itself ends a worker after
``broker_connection_max_retries``; readiness names the broker as the cause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from celery import Celery, bootsteps, signals
from celery.beat import Service

from shared.bus.health import Check, Heartbeat, platform_checks, serve_health
from shared.settings import Settings

log = logging.getLogger(__name__)


def broker_check(app: Celery) -> Check:
    """The broker answers: a connection of its own, opened and closed (Redis or RabbitMQ alike)."""

    def connect() -> None:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)

    async def broker() -> None:
        await asyncio.to_thread(connect)

    return broker


def _beats_every(settings: Settings) -> float:
    return settings.heartbeat_max_age_s / 3


def _serve(settings: Settings, heartbeat: Heartbeat, name: str, checks: dict[str, Check]) -> ThreadingHTTPServer:
    assert settings.health_port is not None
    return serve_health(settings.health_host, settings.health_port, heartbeat, name, checks)


class WorkerHealth(bootsteps.StartStopStep):
    """A step of the worker's consumer: it starts after the pool's processes are forked (they do not inherit
    the server) and beats on the consumer's timer; a consumer reconnecting to a lost broker does not beat."""

    settings_of: Callable[[], Settings]

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.settings = self.settings_of()
        self.heartbeat = Heartbeat(self.settings.heartbeat_max_age_s)
        self.server: ThreadingHTTPServer | None = None
        self.beating: Any = None

    def start(self, consumer: Any) -> None:
        if not self.settings.health_port:
            return
        if self.server is None:
            checks = platform_checks(self.settings) | {"broker": broker_check(consumer.app)}
            self.server = _serve(self.settings, self.heartbeat, "celery-worker", checks)
        self.heartbeat.beat()
        self.beating = consumer.timer.call_repeatedly(_beats_every(self.settings), self.heartbeat.beat)

    def stop(self, consumer: Any) -> None:
        if self.beating is not None:
            self.beating.cancel()
            self.beating = None

    def shutdown(self, consumer: Any) -> None:
        self.stop(consumer)
        if self.server is not None:
            self.server.shutdown()
            self.server = None


def beat_health(settings_of: Callable[[], Settings]) -> Callable[..., None]:
    """A ``beat_init`` receiver: the beat's heartbeat, beaten after each pass of its scheduler."""

    def started(sender: Service, **_: Any) -> None:
        settings = settings_of()
        if not settings.health_port:
            return
        heartbeat = Heartbeat(settings.heartbeat_max_age_s)
        scheduler = sender.scheduler
        scheduler.max_interval = min(scheduler.max_interval, _beats_every(settings))
        tick = scheduler.tick

        def tick_and_beat(*args: Any, **kwargs: Any) -> Any:
            interval = tick(*args, **kwargs)
            heartbeat.beat()
            return interval

        scheduler.tick = tick_and_beat
        _serve(settings, heartbeat, "celery-beat", {"broker": broker_check(sender.app)})

    return started


def install(app: Celery, settings_of: Callable[[], Settings]) -> None:
    """Health for the worker and beat processes of ``app``; nothing starts in a process that only sends tasks.
    The settings are read (``settings_of()``) when a worker or beat starts."""
    step = type("WorkerHealth", (WorkerHealth,), {"settings_of": staticmethod(settings_of)})
    app.steps["consumer"].add(step)
    signals.beat_init.connect(beat_health(settings_of), weak=False)
