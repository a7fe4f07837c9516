"""The demo incidents: placed before the consumer runs, unchanged once it has, evaluations meaningful."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.demo.audits import AUDITS, _id, load_demo
from cpted.demo.crime import generate, load_crime_demo
from tests.integration.crime_world import sync_metrics


async def _placements(engine: AsyncEngine) -> dict[str, str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT external_id, neighbourhood_id FROM metrics.crime_incident"))
        return {r[0]: str(r[1]) if r[1] else None for r in rows}


async def test_demo_incidents_are_placed_at_load_time_and_evaluations_show_the_work(
    engine: AsyncEngine, redis: Redis, metrics_api: httpx.AsyncClient
) -> None:
    assert generate([]) == generate([])  # deterministic
    assert await load_demo(engine)
    assert await load_crime_demo(engine)
    assert not await load_crime_demo(engine)
    before_consumer = await _placements(engine)
    assert 4000 < len(before_consumer) < 10_000
    assert 0 < sum(v is None for v in before_consumer.values()) < len(before_consumer) / 20
    await sync_metrics(engine, redis)
    assert await _placements(engine) == before_consumer

    evaluations = []
    for site in AUDITS:
        r = await metrics_api.get(f"/v1/evaluations/audits/{_id('audit', site.name)}", params={"buffer_m": 200})
        assert r.status_code == 200, r.text
        evaluations.append(r.json())
    implemented = [e for e in evaluations if e["intervention_source"] == "implemented_on" and e["complete"]]
    assert implemented, "the demo has audits with work done and a full year after it"
    assert sum(e["relative_effect_percent"] < 0 for e in implemented) > len(implemented) / 2
    summary = (await metrics_api.get("/v1/evaluations/summary")).json()
    assert summary["pooled"]["fixed_effect"]["odds_ratio"] > 1
    assert {"lighting", "traffic_calming", "landscaping"} <= set(summary["by_recommendation_category"])
    ranked = (await metrics_api.get("/v1/targeting", params={"to": "2026-11-20"})).json()["items"]
    assert len(ranked) == 8 and all(i["rate_per_1000"] is not None for i in ranked)
