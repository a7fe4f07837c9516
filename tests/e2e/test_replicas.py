"""Two API processes of one service behind a load balancer, on one database and one Redis, answer as one.

Nothing a request depends on is kept in one process's memory: a key revoked
through one replica is refused by the other on its next request, the rate
limit of a key counts the requests of both, an ``Idempotency-Key`` claimed on
one is replayed by the other, and an ``ETag`` given by one is a 304 on the
other.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from shared.auth.keys import Scope
from tests import factories
from tests.e2e.conftest import _issue_key
from tests.e2e.processes import Platform
from tests.servers import TestServers, fresh_database

pytestmark = pytest.mark.e2e

RATE_LIMIT = 20
"""Requests per second per key; each replica alone gets fewer than this in the rate-limit test."""


@pytest.fixture(scope="module")
def replicas(servers: TestServers) -> Iterator[Platform]:
    suffix = uuid.uuid4().hex[:6]
    database_url = fresh_database(servers, f"rep{suffix}")
    env = dict(os.environ) | {
        "CPTED_DATABASE_URL": database_url,
        "CPTED_REDIS_URL": servers.redis_url,
        "CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-rep{suffix}",
        "CPTED_RATE_LIMIT_PER_SECOND": str(RATE_LIMIT),
    }
    platform = Platform(env)
    platform.api_key = _issue_key(database_url, Scope.admin)  # type: ignore[attr-defined]
    platform.database_url = database_url  # type: ignore[attr-defined]
    for replica in ("audits-a", "audits-b"):
        platform.start_service("audits", replica)
    try:
        platform.wait_ready()
        yield platform
    finally:
        platform.stop()


@asynccontextmanager
async def _clients(platform: Platform, key: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=platform.url("audits-a"), headers=headers, timeout=30) as a,
        httpx.AsyncClient(base_url=platform.url("audits-b"), headers=headers, timeout=30) as b,
    ):
        yield a, b


async def test_a_key_revoked_through_one_replica_is_refused_by_the_other(replicas: Platform) -> None:
    async with _clients(replicas, replicas.api_key) as (admin_a, _):  # type: ignore[attr-defined]
        created = await admin_a.post("/v1/keys", json={"name": "revoked on a", "scope": "reader"})
        assert created.status_code == 201, created.text
    async with _clients(replicas, created.json()["key"]) as (reader_a, reader_b):
        assert (await reader_b.get("/v1/partnerships")).status_code == 200  # b has seen the key work
        async with _clients(replicas, replicas.api_key) as (admin_a, _):  # type: ignore[attr-defined]
            assert (await admin_a.delete(f"/v1/keys/{created.json()['id']}")).status_code == 204
        refused = await reader_b.get("/v1/partnerships")
        assert refused.status_code == 401, refused.text
        assert (await reader_a.get("/v1/partnerships")).status_code == 401


async def test_the_rate_limit_of_a_key_counts_the_requests_of_both_replicas(replicas: Platform) -> None:
    """Each replica gets 12 requests, under the limit of 20: only a count shared between them can refuse any.

    The limit is a window of one second; a round whose requests straddle two windows may refuse none, so
    rounds start just after a second begins and are tried a few times."""
    # A key of its own, so that the other tests' requests do not count.
    key = await asyncio.to_thread(_issue_key, replicas.database_url, Scope.reader)  # type: ignore[attr-defined]
    async with _clients(replicas, key) as (a, b):
        statuses: list[int] = []
        for _ in range(5):
            await asyncio.sleep(1.02 - time.time() % 1)
            answers = await asyncio.gather(*(c.get("/v1/partnerships") for c in [a, b] * 12))
            statuses = [r.status_code for r in answers]
            if 429 in statuses:
                break
        assert set(statuses) == {200, 429}, statuses
        assert statuses.count(200) <= RATE_LIMIT
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.headers["Retry-After"] == "1"


async def test_an_idempotency_key_claimed_on_one_replica_is_replayed_by_the_other(replicas: Platform) -> None:
    async with _clients(replicas, replicas.api_key) as (a, b):  # type: ignore[attr-defined]
        body = factories.neighbourhood()
        headers = {"Idempotency-Key": f"replicas-{uuid.uuid4()}"}
        first = await a.post("/v1/neighbourhoods", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await b.post("/v1/neighbourhoods", json=body, headers=headers)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json() and again.headers["Location"] == first.headers["Location"]
        other = await b.post("/v1/neighbourhoods", json=factories.neighbourhood(), headers=headers)
        assert other.status_code == 422, other.text  # the key is taken, by another request

        racing = {"Idempotency-Key": f"replicas-{uuid.uuid4()}"}
        raced = factories.neighbourhood()
        answers = await asyncio.gather(*(c.post("/v1/neighbourhoods", json=raced, headers=racing) for c in (a, b)))
        assert sorted(r.status_code for r in answers) in ([201, 201], [201, 409]), [r.text for r in answers]
        named = [n for n in (await a.get("/v1/neighbourhoods", params={"limit": 200})).json()["items"]]
        assert [n["name"] for n in named].count(raced["name"]) == 1
        assert [n["name"] for n in named].count(body["name"]) == 1


async def test_an_etag_given_by_one_replica_is_a_304_on_the_other(replicas: Platform) -> None:
    async with _clients(replicas, replicas.api_key) as (a, b):  # type: ignore[attr-defined]
        created = await a.post("/v1/neighbourhoods", json=factories.neighbourhood())
        record = await a.get(created.headers["Location"])
        again = await b.get(created.headers["Location"], headers={"If-None-Match": record.headers["ETag"]})
        assert again.status_code == 304
        listed = await a.get("/v1/neighbourhoods")
        relisted = await b.get("/v1/neighbourhoods", headers={"If-None-Match": listed.headers["ETag"]})
        assert relisted.status_code == 304
