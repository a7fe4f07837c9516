"""The three services as real processes: events checked against audits over HTTP, totals through both streams."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.e2e.conftest import start_platform
from tests.e2e.processes import Platform
from tests.servers import TestServers

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30


@pytest.fixture(scope="module")
def engagement_platform(servers: TestServers) -> Iterator[Platform]:
    platform = start_platform(servers)
    try:
        yield platform
    finally:
        platform.stop()


async def _wait_for(metrics: httpx.AsyncClient, want: dict[str, int], **params: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = (await metrics.get("/v1/totals", params=params)).json()
        if {k: got[k] for k in want} == want and got["lag_events"] == 0:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"totals never matched: want {want}, got {got}")


def _event(partnership_ids: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "partnership_ids": partnership_ids,
        "name": "Block party",
        "kind": "festival",
        "special": True,
        "starts_at": "2025-06-14T12:00:00-04:00",
        "officers_attending": 4,
        "status": "held",
    } | changes


async def test_engagement_flows_from_the_events_service_to_the_totals(engagement_platform: Platform) -> None:
    headers = {"Authorization": f"Bearer {engagement_platform.api_key}"}  # type: ignore[attr-defined]
    clients = [
        httpx.AsyncClient(base_url=engagement_platform.url(s), headers=headers, timeout=30)
        for s in ("audits", "events", "metrics")
    ]
    audits, events, metrics = clients
    try:
        n = (await audits.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
        p = [(await audits.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()["id"] for _ in "ab"]
        shared = await events.post("/v1/events", json=_event(p, neighbourhood_id=n["id"]))
        assert shared.status_code == 201, shared.text
        unknown = await events.post("/v1/events", json=_event([str(uuid.uuid4())]))
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.partnership_ids"
        flipped = (await events.post("/v1/events", json=_event([p[0]]))).json()
        cancelled = (await events.post("/v1/events", json=_event([p[1]], status="scheduled"))).json()
        await events.patch(f"/v1/events/{flipped['id']}", json={"special": False})
        await events.patch(f"/v1/events/{cancelled['id']}", json={"status": "cancelled"})
        await _wait_for(metrics, {"partnerships": 2, "events": 2, "special_events": 1, "officers_attending": 8})
        await _wait_for(metrics, {"events": 2, "special_events": 1}, partnership_id=p[0])
        await _wait_for(metrics, {"events": 1, "special_events": 1}, partnership_id=p[1])
        brochure = await events.post(
            "/v1/materials",
            json={
                "slug": "cpted-audit-brochure",
                "kind": "brochure",
                "topic": "cpted_audit",
                "source_language": "en",
                "translations": {
                    "en": {"title": "CPTED audits", "body": "Walk the block."},
                    "fr": {"title": "Évaluations CPTED", "body": "Parcourez le quartier."},
                },
            },
        )
        content = await events.get(
            f"/v1/materials/{brochure.json()['id']}/content", headers={"Accept-Language": "fr-CA,fr;q=0.9"}
        )
        assert content.headers["content-language"] == "fr" and content.json()["title"] == "Évaluations CPTED"
        await _wait_for(metrics, {"materials": 1, "translations": 1})
    finally:
        for client in clients:
            await client.aclose()
