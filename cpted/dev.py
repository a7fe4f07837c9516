"""``cpted dev``: the whole platform as one supervised command.

Starts embedded PostgreSQL and Redis unless URLs are configured, migrates,
loads the demo data once, then runs the three services, the two outbox
relays, the metrics consumer and the Celery worker and beat (nightly CSWB
feeds) as child processes, restarting any that dies (and the embedded
servers too), until Ctrl-C stops everything.

A child that dies soon after starting waits longer before each new start
(1, 2, 4 ... 30 s); one that ran ``stable_s`` without dying starts afresh.
Each child keeps its own restart time, so one child's wait never holds up
another's restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console

from cpted.demo import load_demo_data
from cpted.embedded import EmbeddedPostgres, EmbeddedRedis
from cpted.platform import ensure_dev_key, ensure_service_key, migrate
from shared.db.engine import dispose_engines, get_engine
from shared.settings import Settings

console = Console(stderr=True)


LOCAL_ORIGINS = r"http://(localhost|127\.0\.0\.1)(:[0-9]+)?"
MAX_BACKOFF_S = 30


@dataclass
class Child:
    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    due_at: float | None = None
    """When a dead child is to be started again."""

    def start(self, env: dict[str, str], output: IO[bytes] | None = None) -> None:
        """Start the child; its output goes to ``output`` when given, else to this terminal."""
        self.process = subprocess.Popen(self.args, env=env, stdout=output, stderr=output)
        self.started_at = time.monotonic()
        self.due_at = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tend(self, env: dict[str, str], now: float, stable_s: float) -> str | None:
        """Start the child again when it is dead and its wait is over; returns what to tell the user."""
        if self.alive():
            if now - self.started_at >= stable_s:
                self.restarts = 0
            return None
        said = None
        if self.due_at is None:
            if now - self.started_at >= stable_s:
                self.restarts = 0
            wait = min(2**self.restarts, MAX_BACKOFF_S) if self.restarts or now - self.started_at < stable_s else 0
            self.due_at = now + wait
            code = self.process.returncode if self.process else None
            said = f"{self.name} exited ({code}); restarting in {wait}s"
        if now >= self.due_at:
            self.restarts += 1
            self.start(env)
        return said


# Longer than the idle timeout of common clients and load balancers (60 s): a client reusing an idle
# connection never races the server closing it (which the client sees as a reset, a read error).
KEEP_ALIVE_S = 75


@dataclass
class Ports:
    audits: int = 8001
    events: int = 8002
    metrics: int = 8003
    host: str = "127.0.0.1"
    api_workers: int = 1  # uvicorn worker processes per API

    def url(self, service: str) -> str:
        return f"http://{self.host}:{getattr(self, service)}"


def children(ports: Ports) -> list[Child]:
    py = sys.executable
    serve = [py, "-m", "uvicorn", "--factory", "--host", ports.host, "--no-access-log", "--log-level", "warning"]
    serve += ["--timeout-keep-alive", str(KEEP_ALIVE_S)]
    if ports.api_workers > 1:
        serve += ["--workers", str(ports.api_workers)]
    celery = [py, "-m", "celery", "-A", "services.metrics.tasks:celery_app"]
    return [
        Child("audits", [*serve, "--port", str(ports.audits), "services.audits.app:create_app"]),
        Child("events", [*serve, "--port", str(ports.events), "services.events.app:create_app"]),
        Child("metrics", [*serve, "--port", str(ports.metrics), "services.metrics.app:create_app"]),
        Child("relay-audits", [py, "-m", "cpted", "relay", "audits"]),
        Child("relay-events", [py, "-m", "cpted", "relay", "events"]),
        Child("consumer", [py, "-m", "cpted", "consume"]),
        Child("worker", [*celery, "worker", "--loglevel", "warning", "--without-gossip", "--without-mingle"]),
        Child("beat", [*celery, "beat", "--loglevel", "warning"]),  # the scheduler: exactly one
    ]


@dataclass
class Platform:
    settings: Settings
    ports: Ports
    demo: bool = True
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    procs: list[Child] = field(default_factory=list)
    stopping: bool = False
    service_key: str = ""
    stable_s: float = 30.0

    def start_servers(self) -> tuple[str, str]:
        var = self.settings.var_dir
        database_url = self.settings.database_url
        redis_url = self.settings.redis_url
        if not database_url:
            self.postgres = EmbeddedPostgres((var / "pg").resolve())
            database_url = self.postgres.start()
            console.print(f"[green]embedded PostgreSQL[/] data in {var / 'pg'}")
        if not redis_url:
            self.redis = EmbeddedRedis(var / "redis")
            redis_url = self.redis.start()
            console.print(f"[green]embedded Redis[/] data in {var / 'redis'}")
        var.mkdir(parents=True, exist_ok=True)
        # Every `cpted` command run beside this platform reads its servers and services from here.
        running = {"database_url": database_url, "redis_url": redis_url}
        running |= {f"{service}_url": self.ports.url(service) for service in ("audits", "events", "metrics")}
        self.settings.servers_file().write_text(json.dumps(running, indent=2) + "\n")
        return database_url, redis_url

    async def prepare(self, database_url: str) -> str:
        settings = self.settings.model_copy(update={"database_url": database_url})
        await migrate(database_url)
        engine = get_engine(settings)
        try:
            key = await ensure_dev_key(engine, settings.var_dir)
            self.service_key = await ensure_service_key(engine, settings.var_dir)
            if self.demo:
                for part in await load_demo_data(engine):
                    console.print(f"[green]demo data loaded: {part}[/]")
            return key
        finally:
            await dispose_engines()

    def environment(self, database_url: str, redis_url: str) -> dict[str, str]:
        env = dict(os.environ)
        # One BLAS thread, as in the image: the estimators' small factorisations only fight over cores with more.
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.setdefault("OMP_NUM_THREADS", "1")
        env.update(
            CPTED_DATABASE_URL=database_url,
            CPTED_REDIS_URL=redis_url,
            CPTED_VAR_DIR=str(self.settings.var_dir.resolve()),
            CPTED_STREAM_PREFIX=self.settings.stream_prefix,
            CPTED_AUDITS_URL=self.ports.url("audits"),
            CPTED_EVENTS_URL=self.ports.url("events"),
            CPTED_METRICS_URL=self.ports.url("metrics"),
            CPTED_SERVICE_API_KEY=self.settings.service_api_key or self.service_key,
            # A front end in development runs on some local port; production names its origins.
            CPTED_CORS_ORIGIN_REGEX=self.settings.cors_origin_regex or LOCAL_ORIGINS,
        )
        return env

    def supervise(self, env: dict[str, str]) -> None:
        self.procs = self.procs or children(self.ports)
        for child in self.procs:
            child.start(env)
        while not self.stopping:
            time.sleep(0.5)
            self.tend_servers()
            for child in self.procs:
                if self.stopping:
                    break
                said = child.tend(env, time.monotonic(), self.stable_s)
                if said:
                    console.print(f"[yellow]{said}[/]")

    def tend_servers(self) -> None:
        """Start an embedded server again when it died; the children reconnect to the same address."""
        for name, server in (("Redis", self.redis), ("PostgreSQL", self.postgres)):
            if self.stopping or server is None or server.alive():
                continue
            console.print(f"[yellow]embedded {name} died; starting it again[/]")
            try:
                server.revive()
            except Exception as exc:  # tried again on the next round
                console.print(f"[red]embedded {name} did not start: {exc}[/]")

    def stop(self) -> None:
        self.stopping = True
        for child in self.procs:
            if child.alive():
                child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        for child in self.procs:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
        self.settings.servers_file().unlink(missing_ok=True)


def run(settings: Settings, ports: Ports, demo: bool = True) -> None:
    platform = Platform(settings, ports, demo)

    def _stop(signum: int, frame: object) -> None:
        platform.stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        database_url, redis_url = platform.start_servers()
        key = asyncio.run(platform.prepare(database_url))
        env = platform.environment(database_url, redis_url)
        _announce(ports, key, settings.var_dir)
        platform.supervise(env)
    finally:
        console.print("stopping…")
        platform.stop()
        console.print("[green]stopped[/]")


def _announce(ports: Ports, key: str, var_dir: Path) -> None:
    console.rule("[bold]CPTED platform")
    for service in ("audits", "events", "metrics"):
        console.print(f"  {service:<8} {ports.url(service)}   docs: {ports.url(service)}/docs")
    console.print(f"  dev admin API key: [bold]{key}[/]  (also in {var_dir / 'dev-api-key'})")
    console.print(f"  try: curl -H 'Authorization: Bearer {key}' {ports.url('metrics')}/v1/totals")
    console.print("  Ctrl-C stops everything.")
    console.rule()
