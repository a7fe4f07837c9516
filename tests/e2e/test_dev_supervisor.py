"""`cpted dev`'s supervisor on real processes: children and embedded servers come back when they die,
each child on its own schedule, and a child that ran stably starts its back-off afresh."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from cpted.dev import Child, Platform, Ports
from cpted.embedded import EmbeddedPostgres, EmbeddedRedis
from shared.settings import Settings

pytestmark = pytest.mark.e2e

PY = sys.executable


def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Callable[[Platform], None]]:
    """Runs a platform's supervisor in a thread; stops it and its children afterwards."""
    running: list[tuple[Platform, threading.Thread]] = []

    def start(platform: Platform) -> None:
        thread = threading.Thread(target=platform.supervise, args=(dict(os.environ),), daemon=True)
        thread.start()
        running.append((platform, thread))

    yield start
    for platform, thread in running:
        platform.stopping = True
        thread.join(5)
        platform.stop()


def _platform(tmp_path: Path, children: list[Child]) -> Platform:
    platform = Platform(Settings(var_dir=tmp_path / "var"), Ports(), demo=False, stable_s=2)
    platform.procs = children
    return platform


def _pid(child: Child) -> int:
    return child.process.pid if child.process else -1


def test_one_childs_back_off_never_holds_up_another_and_a_stable_child_starts_afresh(
    tmp_path: Path, supervised: Callable[[Platform], None]
) -> None:
    crasher = Child("crasher", [PY, "-c", "raise SystemExit(3)"], restarts=5)  # far into its back-off
    steady = Child("steady", [PY, "-c", "import time; time.sleep(600)"])
    flaky = Child("flaky", [PY, "-c", "import time; time.sleep(3); raise SystemExit(1)"])  # dies after running a while
    supervised(_platform(tmp_path, [crasher, steady, flaky]))
    _eventually(lambda: crasher.due_at is not None and steady.alive(), "the crasher waits out its back-off")
    first = _pid(steady)
    steady.process.kill()  # type: ignore[union-attr]
    _eventually(lambda: steady.alive() and _pid(steady) != first, "the steady child is started again")
    assert crasher.due_at is not None and not crasher.alive()  # still waiting: its wait held nobody up
    pids = {_pid(flaky)}
    _eventually(lambda: pids.add(_pid(flaky)) or len(pids) >= 3, "the flaky child restarted twice", 30)
    assert flaky.restarts == 1  # each run was stable: no growing back-off


def test_embedded_redis_and_postgres_are_started_again_and_no_zombie_is_left(
    tmp_path: Path, supervised: Callable[[Platform], None]
) -> None:
    platform = _platform(tmp_path, [Child("steady", [PY, "-c", "import time; time.sleep(600)"])])
    platform.redis = EmbeddedRedis(tmp_path / "redis", appendonly=False)
    platform.redis.start()
    platform.postgres = EmbeddedPostgres(tmp_path / "pg")
    database_url = platform.postgres.start()
    supervised(platform)

    assert platform.redis._process is not None
    dead = platform.redis._process.pid
    os.kill(dead, signal.SIGKILL)
    client = redis.Redis(unix_socket_path=str(platform.redis.socket), socket_timeout=1)

    def redis_back() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    _eventually(redis_back, "embedded Redis answers again", 60)
    with pytest.raises(ChildProcessError):
        os.waitpid(dead, os.WNOHANG)  # reaped by the supervisor, not a zombie

    postmaster = int((tmp_path / "pg" / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGQUIT)  # PostgreSQL's immediate shutdown, as in a crash
    _eventually(lambda: not platform.postgres.alive() or _postmaster(tmp_path) != postmaster, "PostgreSQL went down")
    _eventually(lambda: platform.postgres.alive() and _answers(database_url), "embedded PostgreSQL answers again", 180)


def _postmaster(tmp_path: Path) -> int:
    try:
        return int((tmp_path / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


def _answers(url: str) -> bool:
    import asyncio

    import asyncpg

    from shared.db.engine import plain_url

    async def ping() -> bool:
        try:
            conn = await asyncpg.connect(plain_url(url), timeout=2)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(ping())
