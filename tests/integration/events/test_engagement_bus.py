"""The events stream through relay and consumer: exact engagement totals, counting rules, local days, redelivery."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import plain_url
from shared.settings import get_settings
from tests import factories
from tests.integration.events.factories import distribution, event, material, stakeholder, training
from tests.integration.test_bus import _consume_all, _consumer, _relay_all, _totals

ENGAGEMENT = (
    "events",
    "special_events",
    "officers_attending",
    "materials",
    "translations",
    "copies_distributed",
    "trainings",
    "trainees",
    "stakeholders",
    "new_connections",
)


def _pick(totals: dict[str, Any]) -> dict[str, int]:
    return {k: totals[k] for k in ENGAGEMENT}


async def _scenario(api: httpx.AsyncClient, audits_api: httpx.AsyncClient, world: dict[str, Any]) -> dict[str, str]:
    p, n1 = world["partnership"]["id"], world["n1"]["id"]
    other_n = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()["id"]
    q = (await audits_api.post("/v1/partnerships", json=factories.partnership([other_n]))).json()["id"]

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await api.post(path, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    # 23:30 on Saturday 8 March 2025 in Toronto is already the 9th in UTC; DST begins at 02:00 on the 9th.
    await post(
        "/v1/events",
        event([p, q], neighbourhood_id=n1, starts_at="2025-03-08T23:30:00-05:00", ends_at=None, officers_attending=3),
    )
    await post("/v1/events", event([p], special=False, starts_at="2025-03-09T01:30:00-05:00", ends_at=None))
    cancelled = await post("/v1/events", event([p], status="scheduled"))
    deleted = await post("/v1/events", event([p]))
    flipped = await post("/v1/events", event([p]))
    assert (await api.patch(f"/v1/events/{cancelled['id']}", json={"status": "cancelled"})).status_code == 200
    assert (await api.delete(f"/v1/events/{deleted['id']}")).status_code == 204
    assert (await api.patch(f"/v1/events/{flipped['id']}", json={"special": False})).status_code == 200
    brochure = await post("/v1/materials", material(published_on="2025-03-01"))
    r = await api.put(
        f"/v1/materials/{brochure['id']}/translations/ar",
        json={"title": "عنوان", "body": "نص", "translated_on": "2025-03-10"},
    )
    assert r.status_code == 201
    await post("/v1/distributions", distribution(brochure["id"], distributed_on="2025-03-09"))
    await post("/v1/trainings", training(held_on="2025-03-09"))
    await post("/v1/stakeholders", stakeholder(p, neighbourhood_id=n1, connected_on="2025-03-10"))
    return {"p": p, "q": q}


EXPECTED = {
    "events": 3,
    "special_events": 1,
    "officers_attending": 3 + 4 + 4,
    "materials": 1,
    "translations": 2,
    "copies_distributed": 250,
    "trainings": 1,
    "trainees": 24,
    "stakeholders": 1,
    "new_connections": 1,
}


@pytest.fixture
async def scenario(
    events_api: httpx.AsyncClient, audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> dict[str, str]:
    return await _scenario(events_api, audits_api, world)


@pytest.fixture
async def applied(scenario: dict[str, str], engine: AsyncEngine, redis: Redis) -> dict[str, str]:
    """The scenario relayed from the outbox and applied by the metrics consumer."""
    assert await _relay_all(redis, "events") == 13
    await _consume_all(_consumer(engine, redis))
    return scenario


async def test_the_events_stream_gives_exact_totals_by_the_counting_rules(
    applied: dict[str, str], metrics_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ids = applied
    assert _pick(await _totals(metrics_api)) == EXPECTED
    rows = {r["id"]: r for r in (await metrics_api.get("/v1/totals/by-partnership")).json()}
    assert (rows[ids["p"]]["events"], rows[ids["p"]]["special_events"], rows[ids["p"]]["stakeholders"]) == (3, 1, 1)
    assert (rows[ids["q"]]["events"], rows[ids["q"]]["special_events"], rows[ids["q"]]["officers_attending"]) == (
        1,
        1,
        3,
    )
    by_n = {r["id"]: r for r in (await metrics_api.get("/v1/totals/by-neighbourhood")).json()}
    assert by_n[world["n1"]["id"]]["events"] == 1
    assert (await _totals(metrics_api, partnership_id=ids["q"]))["events"] == 1


async def test_periods_use_toronto_days_across_the_dst_change(
    applied: dict[str, str], metrics_api: httpx.AsyncClient
) -> None:
    saturday = _pick(await _totals(metrics_api, **{"from": "2025-03-08", "to": "2025-03-08"}))
    assert (saturday["events"], saturday["special_events"], saturday["officers_attending"]) == (1, 1, 3)
    sunday = _pick(await _totals(metrics_api, **{"from": "2025-03-09", "to": "2025-03-09"}))
    assert sunday == EXPECTED | {
        "events": 1,
        "special_events": 0,
        "officers_attending": 4,
        "materials": 0,
        "translations": 0,
        "stakeholders": 0,
        "new_connections": 0,
    }
    week = _pick(await _totals(metrics_api, **{"from": "2025-03-01", "to": "2025-03-10"}))
    assert week == EXPECTED | {"events": 2, "officers_attending": 7, "translations": 1}  # fr: translated today
    # The flipped and the later events are on the factory's July date: outside the week.


async def test_redelivered_and_reordered_events_change_nothing(
    scenario: dict[str, str], metrics_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis
) -> None:
    settings = get_settings()
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    rows = await conn.fetch("SELECT envelope::text AS e FROM events.outbox ORDER BY position DESC")
    await conn.close()
    for row in [*rows, *reversed(rows)]:  # newest first, then everything again in order
        await redis.xadd(settings.stream("events"), {"event": row["e"]})
    await _consume_all(_consumer(engine, redis))
    assert _pick(await _totals(metrics_api)) == EXPECTED
