"""Evaluation of an audit on real PostgreSQL: every number reproducible from the incidents the API lists."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration import crime_world
from tests.integration.crime_world import EXPECTED, INTERVENTION

Z = 1.959963984540054


@pytest.fixture
async def crime(
    audits_api: httpx.AsyncClient, metrics_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis
) -> dict[str, Any]:
    world = await crime_world.build(audits_api, engine, redis)
    r = await metrics_api.post("/v1/crime-incidents", json=crime_world.planned_incidents())
    assert r.status_code == 201, r.text
    return world


async def _count(metrics_api: httpx.AsyncClient, window: list[str], **filters: Any) -> int:
    r = await metrics_api.get("/v1/crime-incidents/count", params={"from": window[0], "to": window[1], **filters})
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


async def test_the_evaluation_follows_the_definitions_and_the_list_reproduces_its_counts(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any]
) -> None:
    r = await metrics_api.get(
        f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30, "buffer_m": 100}
    )
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["intervention_date"] == INTERVENTION and e["intervention_source"] == "implemented_on"
    assert e["before_window"] == ["2025-01-30", "2025-02-28"]
    assert e["after_window"] == ["2025-03-02", "2025-03-31"]
    assert e["complete"] is True and e["after_days_observed"] == 30
    assert {k: e[k] for k in EXPECTED} == EXPECTED
    assert e["control_neighbourhood_ids"] == [crime["control"]["id"]]  # Tecumseh is another municipality
    # a=4, b=2, c=10, d=10: OR = 4*10/(2*10) = 2; V = 1/4 + 1/2 + 1/10 + 1/10 = 0.95.
    assert e["odds_ratio"] == 2.0
    half = Z * math.sqrt(0.95)
    assert e["odds_ratio_ci95"] == [round(math.exp(math.log(2) - half), 4), round(math.exp(math.log(2) + half), 4)]
    assert e["significant"] is False and e["zero_cell_correction"] is False
    assert e["percent_change"] == -50.0 and e["relative_effect_percent"] == -50.0
    # WDQ = (Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb) = (1/10 - 3/10) / (2/10 - 4/10) = 1.
    assert e["wdq"] == 1.0 and e["wdq_interpretation"] == "diffusion of benefits"
    # WDD = (2-4) - (10-10) + (1-3) - (2-2) = -4; Var = 2+4+10+10+1+3+2+2 = 34.
    assert (e["wdd"], e["wdd_variance"], e["wdd_z"]) == (-4, 34, round(-4 / math.sqrt(34), 4))
    target, control = crime["target"]["id"], crime["control"]["id"]
    for area, ids in (("target", target), ("control", control)):
        assert await _count(metrics_api, e["before_window"], neighbourhood_id=ids) == e[area]["before"]
        assert await _count(metrics_api, e["after_window"], neighbourhood_id=ids) == e[area]["after"]
    assert e["areas"]["crs"] == "EPSG:32617"


async def test_zero_cells_are_corrected_and_said_so(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    e = (
        await metrics_api.get(
            f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30, "categories": "robbery"}
        )
    ).json()
    assert e["target"] == {"before": 0, "after": 0} and e["zero_cell_correction"] is True
    assert e["odds_ratio"] == 1.0 and "Haldane-Anscombe" in e["method"]
    assert e["percent_change"] is None and e["wdq"] is None and e["wdq_reason"]


async def test_a_window_still_running_is_incomplete(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    e = (await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 1825})).json()
    assert e["after_window"] == ["2025-03-02", "2030-02-28"]
    assert e["complete"] is False and 0 < e["after_days_observed"] < 1825


async def test_bad_requests_are_problems(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any], engine: AsyncEngine
) -> None:
    audit = crime["audit"]["id"]
    missing = await metrics_api.get("/v1/evaluations/audits/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    for days in (29, 1826):
        r = await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"window_days": days})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = await metrics_api.get(
        f"/v1/evaluations/audits/{audit}", params={"control_neighbourhood_ids": crime["target"]["id"]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.control_neighbourhood_ids"
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM metrics.subject WHERE kind = 'neighbourhood' AND id = :id"), {"id": crime["target"]["id"]}
        )
    r = await metrics_api.get(f"/v1/evaluations/audits/{audit}")
    assert r.status_code == 409 and r.json()["missing"] == "neighbourhood_boundary"


async def test_summary_pools_the_audits_by_category(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    r = await metrics_api.get("/v1/evaluations/summary", params={"window_days": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [a["audit_id"] for a in body["audits"]] == [crime["audit"]["id"]]
    pooled = body["pooled"]
    # One audit: both estimates are its own OR; Q = 0 on 0 degrees of freedom.
    assert pooled["fixed_effect"]["odds_ratio"] == pooled["random_effects"]["odds_ratio"] == 2.0
    assert (pooled["q"], pooled["q_df"], pooled["random_effects"]["tau2"]) == (0.0, 0, 0.0)
    assert list(body["by_recommendation_category"]) == ["lighting"]


async def test_targeting_ranks_by_rate_with_trend_and_last_audit(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any]
) -> None:
    r = await metrics_api.get("/v1/targeting", params={"from": "2025-02-01", "to": "2025-02-28"})
    assert r.status_code == 200, r.text
    body = r.json()
    # The control: 10 incidents for about 5,000 residents (2 per 1,000) ranks above the target's 1 per 1,000.
    ranked = [i["neighbourhood_id"] for i in body["items"]]
    assert ranked == [crime["control"]["id"], crime["target"]["id"], crime["elsewhere"]["id"]]
    target = next(i for i in body["items"] if i["neighbourhood_id"] == crime["target"]["id"])
    # Target in February: 4 incidents, 4,000 residents -> 1 per 1,000; January 4..31: one (the 29th).
    assert (target["incidents"], target["rate_per_1000"], target["previous_incidents"]) == (4, 1.0, 1)
    assert target["last_audit_on"] == "2025-01-15" and target["days_since_last_audit"] > 300
    assert body["previous_period"] == ["2025-01-04", "2025-01-31"]
    # The gap, east-of-control and nowhere points lie in no neighbourhood: 3 + 2 + 1 in February.
    assert body["unassigned_incidents"] == 6


async def test_the_chart_is_a_png(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    r = await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}/chart.png", params={"window_days": 90})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG") and len(r.content) > 10_000
