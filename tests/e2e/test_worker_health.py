"""Real Celery worker and beat processes answer their probes on their health port.

Each is alive and ready while it works with its broker; once the broker is gone it is not ready, and
stalled once its loop has not come round for the heartbeat's age (the worker's consumer and beat's scheduler
both wait in Celery's reconnection loop); both come back when the broker does, without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.e2e.cswb_processes import kill
from tests.e2e.processes import LOGS, Process
from tests.pgproxy import PgProxy
from tests.probes import until
from tests.servers import TestServers, free_port

pytestmark = pytest.mark.e2e

MAX_AGE_S = 3
CELERY = [sys.executable, "-m", "celery", "-A", "services.metrics.tasks:celery_app"]


def _env(servers: TestServers, broker: PgProxy, port: int) -> dict[str, str]:
    return dict(os.environ) | {
        "CPTED_DATABASE_URL": servers.database_url,
        "CPTED_REDIS_URL": broker.url,
        "CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-health{uuid.uuid4().hex[:6]}",
        "CPTED_HEALTH_PORT": str(port),
        "CPTED_HEALTH_HOST": "127.0.0.1",
        "CPTED_HEARTBEAT_MAX_AGE_S": str(MAX_AGE_S),
    }


async def _until(port: int, path: str, status: int, timeout_s: float) -> dict[str, Any]:
    return await until(port, path, status, timeout_s, see=f"; see {LOGS}")


async def _lose_and_regain(broker: PgProxy, port: int, proc: Process, service: str) -> None:
    await broker.set_mode("down")
    ready = await _until(port, "/readyz", 503, timeout_s=10)
    assert ready["checks"]["broker"].startswith("unavailable"), ready
    body = await _until(port, "/healthz", 503, timeout_s=30)
    assert body["status"] == "stalled" and body["service"] == service
    await broker.set_mode("up")
    await _until(port, "/healthz", 200, timeout_s=60)
    await _until(port, "/readyz", 200, timeout_s=10)
    assert proc.popen is not None and proc.popen.poll() is None  # the same process, not restarted


def _stop(proc: Process) -> None:
    try:
        proc.stop()
    except subprocess.TimeoutExpired:  # a warm shutdown that waits on the broker's sockets: not the point here
        kill(proc)


async def test_a_worker_that_loses_its_broker_turns_unhealthy_and_healthy_again(servers: TestServers) -> None:
    broker = await PgProxy(servers.redis_url).start()
    port = free_port()
    args = [*CELERY, "worker", "-n", "health@%h", "-c", "1", "--without-gossip", "--without-mingle",
            "--without-heartbeat"]  # fmt: skip
    worker = Process(f"worker-health-{port}", args, _env(servers, broker, port)).start()
    try:
        await _until(port, "/healthz", 200, timeout_s=90)  # importing the scientific stack on a busy runner
        body = await _until(port, "/readyz", 200, timeout_s=30)
        assert body["checks"] == {"heartbeat": "ok", "database": "ok", "redis": "ok", "broker": "ok"}

        await _lose_and_regain(broker, port, worker, "celery-worker")
    finally:
        _stop(worker)
        await broker.close()


async def test_a_beat_that_loses_its_broker_turns_unhealthy_and_healthy_again(servers: TestServers) -> None:
    broker = await PgProxy(servers.redis_url).start()
    port = free_port()
    var_dir = LOGS / f"beat-health-{port}"  # its schedule file
    var_dir.mkdir(parents=True, exist_ok=True)
    env = _env(servers, broker, port) | {"CPTED_VAR_DIR": str(var_dir), "CPTED_WEBHOOK_SWEEP_EVERY_S": "1"}
    beat = Process(f"beat-health-{port}", [*CELERY, "beat", "--loglevel", "info"], env).start()
    try:
        await _until(port, "/healthz", 200, timeout_s=90)
        body = await _until(port, "/readyz", 200, timeout_s=30)
        assert body["checks"] == {"heartbeat": "ok", "broker": "ok"}
        await _lose_and_regain(broker, port, beat, "celery-beat")  # the sweep, due every second, cannot be sent
    finally:
        _stop(beat)
        await broker.close()
