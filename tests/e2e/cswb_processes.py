"""Celery worker and beat processes of the metrics service, a receiver, and the database they share.

Each set-up has its own database and, on either broker, queues of its own: on
Redis under its key prefix (the run's unique stream prefix), on RabbitMQ in a
virtual host of its own (``tests/rabbitmq.py``), so parallel test runs never
share a queue.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psutil
from celery import Celery

from services.metrics.cswb.settings import CswbSettings
from services.metrics.tasks import config
from shared.db.engine import plain_url
from shared.settings import Settings
from tests.cswb_receiver import Receiver
from tests.e2e.processes import LOGS, Process
from tests.rabbitmq import rabbitmq_vhost
from tests.servers import TestServers, fresh_database

SECRET = "e2e-cswb-secret"
BROKERS = ("redis", "rabbitmq")
"""Redis, the broker of ``make run``; RabbitMQ, the production one."""
CELERY = [sys.executable, "-m", "celery", "-A", "services.metrics.tasks:celery_app"]
QUICK = "--without-gossip", "--without-mingle", "--without-heartbeat"


@dataclass
class CeleryWorld:
    env: dict[str, str]
    database_url: str
    receiver: Receiver
    procs: list[Process] = field(default_factory=list)
    resources: ExitStack = field(default_factory=ExitStack)

    def worker(self, name: str, concurrency: int = 1) -> Process:
        args = [*CELERY, "worker", "-n", f"{name}@%h", "-c", str(concurrency), "--loglevel", "info", *QUICK]
        return self._start(name, args, {})

    def beat(self, name: str) -> Process:
        var_dir = LOGS / f"{name}-{uuid.uuid4().hex[:6]}"  # each beat keeps its own schedule file
        var_dir.mkdir(parents=True, exist_ok=True)
        return self._start(name, [*CELERY, "beat", "--loglevel", "info"], {"CPTED_VAR_DIR": str(var_dir)})

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        proc = Process(f"{name}-{self.env['CPTED_STREAM_PREFIX']}", args, self.env | env).start()
        self.procs.append(proc)
        return proc

    def sender(self) -> Celery:
        """A Celery app of the test's own, configured like the processes'."""
        app = Celery("cswb-e2e-sender")
        settings = Settings(
            database_url=self.database_url,
            redis_url=self.env["CPTED_REDIS_URL"],
            stream_prefix=self.env["CPTED_STREAM_PREFIX"],
        )
        broker = self.env.get("CPTED_CELERY_BROKER_URL"), self.env.get("CPTED_CELERY_BROKER_PASSWORD")
        app.conf.update(config(settings, CswbSettings(celery_broker_url=broker[0], celery_broker_password=broker[1])))
        return app

    def stop(self) -> None:
        for proc in self.procs:
            try:
                proc.stop()
            except Exception:
                kill(proc)
        self.receiver.stop()
        self.resources.close()

    async def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(plain_url(self.database_url))
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def feeds(self) -> dict[str, int]:
        rows = await self.sql("SELECT feed_date::text AS day, count(*) AS n FROM metrics.cswb_feed GROUP BY 1")
        return {r["day"]: int(r["n"]) for r in rows}


def kill(proc: Process, children_only: bool = False) -> None:
    """SIGKILL a worker's pool processes, where its tasks run; unless told otherwise the worker itself first,
    as when its machine is lost, so that nothing is left to hand the task back."""
    assert proc.popen is not None
    parent = psutil.Process(proc.popen.pid)
    children = parent.children(recursive=True)
    if not children_only:
        parent.send_signal(signal.SIGKILL)
        proc.popen.wait(10)
    for child in children:
        child.send_signal(signal.SIGKILL)


def on_broker(env: dict[str, str], broker: str, resources: ExitStack) -> dict[str, str]:
    """``env`` with the broker named: the platform's Redis, or a RabbitMQ virtual host named after its stream
    prefix, dropped when ``resources`` close (the test skips where RabbitMQ cannot be used). The password is
    given apart from the URL, as the production manifests give it."""
    if broker == "redis":
        return env
    url = urlsplit(resources.enter_context(rabbitmq_vhost(env["CPTED_STREAM_PREFIX"])))
    without_password = url._replace(netloc=f"{url.username}@{url.hostname}:{url.port}").geturl()
    return env | {"CPTED_CELERY_BROKER_URL": without_password, "CPTED_CELERY_BROKER_PASSWORD": url.password or ""}


def celery_world(servers: TestServers, broker: str = "redis", **settings: str) -> CeleryWorld:
    suffix = uuid.uuid4().hex[:6]
    resources = ExitStack()
    prefix = f"{servers.stream_prefix}-cswb{suffix}"
    broker_env = on_broker({"CPTED_STREAM_PREFIX": prefix}, broker, resources)
    receiver = Receiver(SECRET).start()
    database_url = fresh_database(servers, f"cswb{suffix}")
    env = (
        dict(os.environ)
        | broker_env
        | {
            "CPTED_DATABASE_URL": database_url,
            "CPTED_CSWB_DESTINATIONS": json.dumps([receiver.url]),
            "CPTED_CSWB_SIGNING_SECRET": SECRET,
            "CPTED_CSWB_BACKOFF_BASE_S": "0.3",
            "CPTED_CSWB_BACKOFF_MAX_S": "2",
            "CPTED_CELERY_TASK_TIME_LIMIT_S": "60",
            "CPTED_CELERY_VISIBILITY_TIMEOUT_S": "61",
            **settings,
        }
    )
    return CeleryWorld(env, database_url, receiver, resources=resources)


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout_s}s; logs in {LOGS}")
        await asyncio.sleep(0.2)


def log_of(proc: Process) -> str:
    return Path(LOGS / f"{proc.name}.log").read_text(errors="replace")
