from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.auth.keys import Scope, issue_key
from shared.db.engine import dispose_engines, get_engine, session_factory
from shared.settings import Settings
from tests.e2e.processes import LOGS, Platform
from tests.servers import TestServers, free_port, fresh_database


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Where each process log stood when the test began, so a failure can show what the processes said."""
    item.stash[_LOG_SIZES] = {path: path.stat().st_size for path in LOGS.glob("*.log")}
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed end-to-end test shows the warnings and errors its processes logged while it ran."""
    report: pytest.TestReport = yield
    if call.when == "call" and report.failed:
        sizes = item.stash.get(_LOG_SIZES, {})
        for path in sorted(LOGS.glob("*.log")):
            with path.open("rb") as log:
                log.seek(sizes.get(path, 0))
                lines = [line for line in log.read().decode(errors="replace").splitlines() if _worth_showing(line)]
            if lines:
                report.sections.append((f"{path.name} (warnings and errors)", "\n".join(lines[-40:])))
    return report


def _worth_showing(line: str) -> bool:
    return any(word in line for word in ('"level":"warning"', '"level":"error"', "Traceback", "ERROR", "WARNING"))


_LOG_SIZES = pytest.StashKey[dict[Path, int]]()


def _issue_key(database_url: str, scope: Scope) -> str:
    async def issue() -> str:
        engine = get_engine(Settings(database_url=database_url))
        async with session_factory(engine)() as session:
            issued = await issue_key(session, name=f"e2e {scope}", scope=scope)
            await session.commit()
        await dispose_engines()
        return issued.plaintext

    return asyncio.run(issue())


def start_platform(
    servers: TestServers,
    *,
    redis_url: str | None = None,
    relays: int = 1,
    consumers: int = 1,
    reach_database: Callable[[str], str] | None = None,
    ready_timeout_s: float = 120,  # three services importing at once on a busy machine take a while
    replicas: int = 1,
    env: dict[str, str] | None = None,
) -> Platform:
    """The three services, `relays` relays per producer and `consumers` metrics consumers, on a fresh database
    (which the processes reach at ``reach_database(url)`` when given: through a proxy, say). ``replicas``
    processes of each producer's API (the second named ``audits-2``); ``env``: more settings for all."""
    suffix = uuid.uuid4().hex[:6]
    database_url = fresh_database(servers, f"e2e{suffix}")
    environment = (
        dict(os.environ)
        | (env or {})
        | {
            "CPTED_DATABASE_URL": reach_database(database_url) if reach_database else database_url,
            "CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-e2e{suffix}",
        }
    )
    if redis_url:
        environment["CPTED_REDIS_URL"] = redis_url
    platform = Platform(environment)
    platform.database_url = database_url  # type: ignore[attr-defined]
    platform.ports = {service: free_port() for service in ("audits", "events", "metrics")}
    # Known before the services start: the events service checks partnerships with the audits service.
    platform.env |= {"CPTED_AUDITS_URL": platform.url("audits"), "CPTED_EVENTS_URL": platform.url("events")}
    # The audits service's OGC API reads events and incident counts from the others, as `cpted dev` wires it.
    platform.env |= {
        "CPTED_METRICS_URL": platform.url("metrics"),
        "CPTED_SERVICE_API_KEY": _issue_key(database_url, Scope.service),
    }
    for service in ("audits", "events", "metrics"):
        platform.start_service(service)
    for n in range(2, replicas + 1):
        for service in ("audits", "events"):
            platform.start_service(service, f"{service}-{n}")
    for n in range(1, relays + 1):
        for source in ("audits", "events"):
            platform.start_cli(f"relay-{source}-{n}", "relay", source)
    for n in range(1, consumers + 1):
        platform.start_cli(f"consumer-{n}", "consume", CPTED_CONSUMER_NAME=f"consumer-{n}")
    platform.api_key = _issue_key(database_url, Scope.admin)  # type: ignore[attr-defined]
    try:
        platform.wait_ready(ready_timeout_s)
    except Exception:
        platform.stop()
        raise
    return platform


@pytest.fixture(scope="module")
def platform(servers: TestServers) -> Iterator[Platform]:
    """Audits, events and metrics services, one relay per producer and one consumer, as real processes."""
    platform = start_platform(servers)
    try:
        yield platform
    finally:
        platform.stop()
