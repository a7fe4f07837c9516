"""Scratch servers for a test run (and a benchmark run: ``bench`` imports them from here), with the run's own
database and stream prefix.

``<PREFIX>DATABASE_URL`` / ``<PREFIX>REDIS_URL`` when set (``CPTED_TEST_`` for
tests, ``CPTED_BENCH_`` for benchmarks), else the local servers on their
default ports when they answer, else embedded ones started for the run. Each
run creates its own database and stream prefix and drops them at the end, so
it never touches other data.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import redis

from cpted.embedded import EmbeddedPostgres, EmbeddedRedis
from cpted.pgtools import with_database
from shared.db.engine import plain_url


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class ScratchServers:
    env_prefix: str = "CPTED_TEST_"
    name: str = "cpted_test"
    admin_url: str = ""
    redis_url: str = ""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    embedded: list[object] = field(default_factory=list)
    extra_databases: list[str] = field(default_factory=list)

    @property
    def database(self) -> str:
        return f"{self.name}_{self.run_id}"

    @property
    def database_url(self) -> str:
        return with_database(self.admin_url, self.database)

    @property
    def stream_prefix(self) -> str:
        return f"{self.name.replace('_', '-')}-{self.run_id}"

    def start(self) -> None:
        scratch = Path(tempfile.mkdtemp(prefix=f"{self.name}-servers-"))
        self.admin_url = os.environ.get(f"{self.env_prefix}DATABASE_URL", "")
        if not self.admin_url:
            if _answers("127.0.0.1", 5432):
                self.admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
            else:
                pg = EmbeddedPostgres(scratch / "pg")
                pg.start()
                self.embedded.append(pg)
                self.admin_url = pg.admin_url()
        self.redis_url = os.environ.get(f"{self.env_prefix}REDIS_URL", "")
        if not self.redis_url:
            if _answers("127.0.0.1", 6379):
                self.redis_url = "redis://127.0.0.1:6379/0"
            else:
                rd = EmbeddedRedis(scratch / "redis", appendonly=False)
                self.redis_url = rd.start()
                self.embedded.append(rd)
        asyncio.run(_admin(self.admin_url, f'CREATE DATABASE "{self.database}"'))

    def stop(self) -> None:
        try:
            for name in [*self.extra_databases, self.database]:
                asyncio.run(_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            client = redis.Redis.from_url(self.redis_url)
            for pattern in (f"{self.stream_prefix}*", f"{{{self.stream_prefix}*"):  # partitions begin with their tag
                for key in client.scan_iter(pattern):
                    client.delete(key)
            client.close()
        finally:
            for server in reversed(self.embedded):
                server.stop()  # type: ignore[attr-defined]


class TestServers(ScratchServers):
    __test__ = False  # not a test class, whatever pytest thinks of its name


def wait_answering(url: str, what: str, alive: Callable[[], bool] = lambda: True, timeout_s: float = 30) -> None:
    """Return once ``url`` answers 200; fail when the process serving it dies or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if not alive():
            raise RuntimeError(f"{what}: the process exited")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database(servers: ScratchServers, suffix: str) -> str:
    """Another database of this run (dropped with the run), migrated."""
    from cpted.platform import migrate

    name = f"{servers.database}_{suffix}"
    asyncio.run(_admin(servers.admin_url, f'CREATE DATABASE "{name}"'))
    servers.extra_databases.append(name)
    url = with_database(servers.admin_url, name)
    asyncio.run(migrate(url))
    return url
