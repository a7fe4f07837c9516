from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from shared.auth import Scope, issue_key
from shared.db import dispose_engines, get_engine, session_factory
from shared.settings import Settings
from tests.e2e.processes import Platform
from tests.servers import TestServers, fresh_database


def _issue_admin_key(database_url: str) -> str:
    async def issue() -> str:
        engine = get_engine(Settings(database_url=database_url))
        async with session_factory(engine)() as session:
            issued = await issue_key(session, name="e2e admin", scope=Scope.admin)
            await session.commit()
        await dispose_engines()
        return issued.plaintext

    return asyncio.run(issue())


@pytest.fixture(scope="module")
def platform(servers: TestServers) -> Iterator[Platform]:
    """Audits, events and metrics services, the audits relay and one consumer, as real processes."""
    suffix = uuid.uuid4().hex[:6]
    database_url = fresh_database(servers, f"e2e{suffix}")
    env = dict(os.environ) | {
        "CPTED_DATABASE_URL": database_url,
        "CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-e2e{suffix}",
    }
    platform = Platform(env)
    for service in ("audits", "events", "metrics"):
        platform.start_service(service)
    platform.env |= {
        "CPTED_AUDITS_URL": platform.url("audits"),
        "CPTED_EVENTS_URL": platform.url("events"),
    }
    platform.start_cli("relay-audits", "relay", "audits")
    platform.start_cli("consumer-1", "consume", CPTED_CONSUMER_NAME="consumer-1")
    platform.api_key = _issue_admin_key(database_url)  # type: ignore[attr-defined]
    try:
        platform.wait_ready()
        yield platform
    finally:
        platform.stop()
