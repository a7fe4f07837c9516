"""Audit requests → outbox → relay → stream → consumer → exact ``audit_requests`` and ``audit_requests_open``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus.consumer import StreamConsumer
from shared.settings import get_settings
from tests.integration.test_audit_requests_api import a_request, inside
from tests.integration.test_bus import _consume_all, _consumer, _relay_all, _totals


async def _requests(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> list[str]:
    """Four requests: one scheduled then done, one rejected, two open (one in n1, received on an earlier day)."""
    bodies = [
        a_request(world, received_at="2026-03-02T03:30:00Z"),  # 22:30 on 1 March in Toronto
        a_request(world, received_at="2026-03-05T15:00:00Z"),
        a_request(world, received_at="2026-03-05T16:00:00Z"),
        a_request(world, location=inside(world["n1"]), received_at="2026-02-10T12:00:00Z"),
    ]
    ids = [(await audits_api.post("/v1/audit-requests", json=b)).json()["id"] for b in bodies]
    await audits_api.patch(
        f"/v1/audit-requests/{ids[0]}", json={"status": "scheduled", "audit_id": world["audit"]["id"]}
    )
    await audits_api.patch(f"/v1/audit-requests/{ids[0]}", json={"status": "done"})
    await audits_api.patch(f"/v1/audit-requests/{ids[1]}", json={"status": "rejected", "reason": "private lot"})
    await audits_api.delete(f"/v1/audit-requests/{ids[2]}/requester")  # changes nothing that counts
    return ids


@pytest.fixture
async def projected(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine, redis: Redis
) -> StreamConsumer:
    """The requests written, relayed and applied; the consumer that applied them."""
    await _requests(audits_api, world)
    await _relay_all(redis)
    consumer = _consumer(engine, redis)
    await _consume_all(consumer)
    return consumer


async def test_audit_requests_reach_exact_totals(
    projected: StreamConsumer, metrics_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    totals = await _totals(metrics_api)
    assert (totals["audit_requests"], totals["audit_requests_open"]) == (4, 2)
    n2 = await _totals(metrics_api, neighbourhood_id=world["n2"]["id"])
    assert (n2["audit_requests"], n2["audit_requests_open"]) == (3, 1)
    march_1 = await _totals(metrics_api, **{"from": "2026-03-01", "to": "2026-03-01"})
    assert (march_1["audit_requests"], march_1["audit_requests_open"]) == (1, 0)
    march = await _totals(metrics_api, **{"from": "2026-03-01", "to": "2026-03-31"})
    assert (march["audit_requests"], march["audit_requests_open"]) == (3, 1)
    partnership = await _totals(metrics_api, partnership_id=world["partnership"]["id"])
    assert (partnership["audit_requests"], partnership["audit_requests_open"]) == (1, 0)


async def test_replaying_the_stream_changes_nothing(
    projected: StreamConsumer, metrics_api: httpx.AsyncClient, redis: Redis
) -> None:
    stream = get_settings().stream("audits")
    for _, fields in await redis.xrevrange(stream):  # newest first, all over again
        await redis.xadd(stream, fields)
    await _consume_all(projected)
    totals = await _totals(metrics_api)
    assert (totals["audit_requests"], totals["audit_requests_open"]) == (4, 2)
