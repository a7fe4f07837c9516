"""Test run set-up: real PostgreSQL and Redis, a fresh database and stream prefix per run."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.servers import TestServers

SERVERS = TestServers()
PHOTO_DIR = Path(tempfile.gettempdir()) / f"cpted-test-photos-{SERVERS.run_id}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run the long versions of the randomised tests")


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get("CPTED_TEST_RUN_ID"):
        return
    SERVERS.start()
    os.environ.update(
        CPTED_ENV="test",
        CPTED_TEST_RUN_ID=SERVERS.run_id,
        CPTED_DATABASE_URL=SERVERS.database_url,
        CPTED_REDIS_URL=SERVERS.redis_url,
        CPTED_STREAM_PREFIX=SERVERS.stream_prefix,
        CPTED_RATE_LIMIT_PER_SECOND="0",
        CPTED_CLAIM_IDLE_MS="1000",
        CPTED_CLAIM_EVERY_S="0.5",
        CPTED_CONSUMER_BLOCK_MS="100",
        CPTED_RELAY_POLL_S="0.2",
        # Apps start hundreds of times in one test process: no full collection of its heap at each start.
        CPTED_HEAP_FREEZE="0",
        # Photos of the run go to a scratch directory, never to ./var of a developer's platform.
        CPTED_PHOTO_DIR=str(PHOTO_DIR),
    )
    from cpted.platform import migrate

    asyncio.run(migrate(SERVERS.database_url))


def pytest_unconfigure(config: pytest.Config) -> None:
    if SERVERS.admin_url:
        SERVERS.stop()
        shutil.rmtree(PHOTO_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def servers() -> TestServers:
    return SERVERS


@pytest.fixture(scope="session")
async def engine() -> AsyncIterator[AsyncEngine]:
    from shared.db.engine import dispose_engines, get_engine
    from shared.settings import get_settings

    yield get_engine(get_settings())
    await dispose_engines()


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    from shared.bus.client import redis_client
    from shared.settings import get_settings

    client = redis_client(get_settings())
    yield client
    await client.aclose()


ALL_DATA_TABLES = text(
    """
    SELECT string_agg(format('%I.%I', table_schema, table_name), ', ')
    FROM information_schema.tables
    WHERE table_schema IN ('auth', 'audits', 'events', 'metrics')
      AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'
    """
)


@pytest.fixture
async def clean(engine: AsyncEngine, redis: Redis) -> None:
    """Empty tables and streams, for tests that count exactly."""
    from shared.settings import get_settings

    async with engine.begin() as conn:
        tables = (await conn.execute(ALL_DATA_TABLES)).scalar_one()
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    prefix = get_settings().stream_prefix
    keys = [k for pattern in (f"{prefix}*", f"{{{prefix}*") async for k in redis.scan_iter(pattern)]
    if keys:
        await redis.delete(*keys)
