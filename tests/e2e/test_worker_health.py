"""A real Celery worker process answers its probes: alive and ready while it consumes from its broker,
stalled and not ready once the broker is gone, both again once the broker is back, without a restart."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from tests.e2e.cswb_processes import kill
from tests.e2e.processes import LOGS, Process
from tests.pgproxy import PgProxy
from tests.servers import TestServers, free_port

pytestmark = pytest.mark.e2e

MAX_AGE_S = 3


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:  # not listening yet
        return 0, {}


async def _until(port: int, path: str, status: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        got, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{path}")
        if got == status:
            return body
        assert time.monotonic() < deadline, f"{path} still {got} {body}, not {status}; see {LOGS}"
        await asyncio.sleep(0.3)


async def test_a_worker_that_loses_its_broker_turns_unhealthy_and_healthy_again(servers: TestServers) -> None:
    broker = await PgProxy(servers.redis_url).start()
    port = free_port()
    env = dict(os.environ) | {
        "CPTED_DATABASE_URL": servers.database_url,
        "CPTED_REDIS_URL": broker.url,
        "CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-health{uuid.uuid4().hex[:6]}",
        "CPTED_HEALTH_PORT": str(port),
        "CPTED_HEALTH_HOST": "127.0.0.1",
        "CPTED_HEARTBEAT_MAX_AGE_S": str(MAX_AGE_S),
    }
    args = [sys.executable, "-m", "celery", "-A", "services.metrics.tasks:celery_app", "worker", "-n",
            "health@%h", "-c", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    worker = Process(f"worker-health-{port}", args, env).start()
    try:
        await _until(port, "/healthz", 200, timeout_s=90)  # importing the scientific stack on a busy runner
        body = await _until(port, "/readyz", 200, timeout_s=30)
        assert body["checks"] == {"heartbeat": "ok", "database": "ok", "redis": "ok", "broker": "ok"}

        await broker.set_mode("down")
        body = await _until(port, "/healthz", 503, timeout_s=30)
        assert body["status"] == "stalled" and body["service"] == "celery-worker"
        ready = await _until(port, "/readyz", 503, timeout_s=10)
        assert ready["checks"]["broker"].startswith("unavailable"), ready

        await broker.set_mode("up")
        await _until(port, "/healthz", 200, timeout_s=60)
        await _until(port, "/readyz", 200, timeout_s=10)
        assert worker.popen is not None and worker.popen.poll() is None  # the same process, not restarted
    finally:
        try:
            worker.stop()
        except subprocess.TimeoutExpired:  # a warm shutdown that waits on the broker's sockets: not the point here
            kill(worker)
        await broker.close()
