"""Evaluation of an audit on real PostgreSQL: every number reproducible from the incidents the API lists."""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
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
    # No robbery anywhere in the municipality in either window: a missing feed, not an effect.
    assert (
        e["insufficient_data"] is True and e["significant"] is None and "insufficient data" in e["significant_reason"]
    )
    assert e["percent_change"] is None and e["wdq"] is None and e["wdq_reason"]


async def test_a_window_still_running_is_incomplete(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    e = (await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 1825})).json()
    assert e["after_window"] == ["2025-03-02", "2030-02-28"]
    assert e["complete"] is False and 0 < e["after_days_observed"] < 1825
    assert e["significant"] is None and "still running" in e["significant_reason"]
    days = e["after_days_observed"]
    assert e["rates_per_day"]["target"]["after"] == round(e["target"]["after"] / days, 4)


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
    # The pooled primary outcome: random effects on the dispersion-widened variances (phi = 1 here: no history).
    assert body["primary"] == pooled["primary"]["outcome"] == "random_effects_overdispersion"
    assert pooled["primary"]["odds_ratio"] == 2.0 and body["complete"] is True


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


async def test_neighbourhoods_treated_inside_the_windows_are_not_in_the_default_control(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    crime: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    treated = (
        await audits_api.post(
            "/v1/neighbourhoods", json=factories.neighbourhood(boundary=factories.square(-83.05, 42.28, 0.005))
        )
    ).json()
    partnership = (await audits_api.post("/v1/partnerships", json=factories.partnership([treated["id"]]))).json()
    audit = (
        await audits_api.post(
            "/v1/audits", json=factories.audit(partnership["id"], treated["id"], conducted_on="2025-02-01")
        )
    ).json()
    rec = (await audits_api.post(f"/v1/audits/{audit['id']}/recommendations", json=factories.recommendation())).json()
    for to, day in (("accepted", "2025-02-02"), ("in_progress", "2025-02-03"), ("implemented", "2025-03-10")):
        r = await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": to, "on": day})
        assert r.status_code == 200, r.text
    await crime_world.sync_metrics(engine, redis)
    # 2025-03-10 lies inside the after window (2025-03-02..2025-03-31): that neighbourhood was treated too.
    e = (await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30})).json()
    assert e["control_neighbourhood_ids"] == [crime["control"]["id"]]
    assert "1 left out" in e["method"]
    # Named explicitly, a treated neighbourhood can still be a control: the choice is the caller's.
    given = (
        await metrics_api.get(
            f"/v1/evaluations/audits/{crime['audit']['id']}",
            params={"window_days": 30, "control_neighbourhood_ids": treated["id"]},
        )
    ).json()
    assert given["control_neighbourhood_ids"] == [treated["id"]]


async def test_the_buffer_is_carved_out_of_the_control(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    # Three incidents inside the control, about 250 m east of the target: within a 300 m buffer.
    near = (-83.037, 42.305)
    days = ["2025-02-12", "2025-02-13", "2025-03-12"]
    body = [crime_world.incident(f"near-{n}", near, day) for n, day in enumerate(days)]
    assert (await metrics_api.post("/v1/crime-incidents", json=body)).status_code == 201
    e = (
        await metrics_api.get(
            f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30, "buffer_m": 300}
        )
    ).json()
    # The gap's 3 -> 1 and the control's edge 2 -> 1 are the buffer; the control keeps only its own 10 -> 10.
    assert e["buffer"] == {"before": 5, "after": 2}
    assert e["control"] == {"before": 10, "after": 10}
    assert e["buffer_control"] == {"before": 2, "after": 2}
    plain = (await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30})).json()
    assert plain["control"] == {"before": 12, "after": 11}


async def test_the_answer_names_its_primary_outcome_and_the_secondary_tests(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any]
) -> None:
    e = (await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30})).json()
    assert e["primary"]["outcome"] == "odds_ratio_overdispersion"
    assert e["significant"] is e["primary"]["significant"] is False
    assert {row["outcome"] for row in e["secondary"]} >= {"odds_ratio", "wdd", "odds_ratio_exact"}
    assert all(row["role"] == "secondary" for row in e["secondary"])
    # a=4, b=2, c=10, d=10: cells below 10, so the exact conditional interval is part of the primary outcome.
    assert "exact conditional" in e["primary"]["method"]
    # Control 10 is 2.5 times the target's 4 before: the WDD's own test is not given.
    assert e["wdd_significant"] is None and "factor of 2" in e["wdd_significant_reason"]
    # No stored history before the windows: the dispersion is not estimable and says so.
    assert e["dispersion"]["phi"] == 1.0 and e["dispersion"]["reason"]


async def test_the_implementation_period_is_left_out_of_both_windows(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    crime: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    audit = crime["audit"]["id"]
    rec = (await audits_api.post(f"/v1/audits/{audit}/recommendations", json=factories.recommendation())).json()
    for to, day in (("accepted", "2025-02-01"), ("in_progress", "2025-03-02"), ("implemented", "2025-03-10")):
        r = await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": to, "on": day})
        assert r.status_code == 200, r.text
    await crime_world.sync_metrics(engine, redis)
    e = (await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"window_days": 30})).json()
    assert e["intervention_date"] == INTERVENTION and e["implementation_period"] == [INTERVENTION, "2025-03-10"]
    assert e["before_window"] == ["2025-01-30", "2025-02-28"] and e["after_window"] == ["2025-03-11", "2025-04-09"]
    # The target's 5 March incident fell inside the implementation period: in neither window.
    assert e["target"] == {
        "before": 4,
        "after": await _count(metrics_api, e["after_window"], neighbourhood_id=crime["target"]["id"]),
    }
    assert any("implementation period of 10 days" in c for c in e["corrections"])
    first = (
        await metrics_api.get(
            f"/v1/evaluations/audits/{audit}", params={"window_days": 30, "implementation": "first_implemented"}
        )
    ).json()
    assert first["after_window"] == ["2025-03-02", "2025-03-31"] and first["target"] == EXPECTED["target"]
    started = (
        await metrics_api.get(
            f"/v1/evaluations/audits/{audit}", params={"window_days": 30, "implementation": "first_in_progress"}
        )
    ).json()
    # Work began on 1 February, when the world's first recommendation went in progress: the before window
    # ends on 31 January, and the after window still starts after the last implemented_on.
    assert started["implementation_period"] == ["2025-02-01", "2025-03-10"]
    assert started["intervention_source"] == "in_progress to implemented_on"
    assert started["before_window"] == ["2025-01-02", "2025-01-31"]
    assert started["after_window"] == ["2025-03-11", "2025-04-09"]
    given = (
        await metrics_api.get(
            f"/v1/evaluations/audits/{audit}",
            params={"window_days": 30, "implementation_from": "2025-02-20", "implementation_to": "2025-03-05"},
        )
    ).json()
    assert given["intervention_source"] == "given" and given["before_window"] == ["2025-01-21", "2025-02-19"]
    assert given["after_window"] == ["2025-03-06", "2025-04-04"]
    half = await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"implementation_from": "2025-02-20"})
    assert half.status_code == 422 and half.json()["errors"][0]["field"] == "query.implementation_to"
    backwards = await metrics_api.get(
        f"/v1/evaluations/audits/{audit}",
        params={"implementation_from": "2025-03-05", "implementation_to": "2025-02-20"},
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "query.implementation_to"
    ancient = await metrics_api.get(
        f"/v1/evaluations/audits/{audit}",
        params={"implementation_from": "0001-01-01", "implementation_to": "0001-01-02"},
    )
    assert ancient.status_code == 422 and ancient.json()["errors"][0]["field"] == "query.implementation_from"


async def test_the_dispersion_comes_from_the_stored_monthly_history(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any]
) -> None:
    # 34 months of history (April 2022 .. January 2025; with February, 35 months before March 2025) drawn from
    # a negative binomial with variance 4 times the mean: far more spread than Poisson counts.
    rng = np.random.default_rng(7)
    months = [(2022 + (3 + i) // 12, (3 + i) % 12 + 1) for i in range(34)]
    body = []
    for year, month in months:
        target, control = rng.negative_binomial(5 / 3, 1 / 4), rng.negative_binomial(20 / 3, 1 / 4)  # means 5, 20
        for area, at, n in (("t", crime_world.TARGET_AT, target), ("c", crime_world.CONTROL_AT, control)):
            body += [
                crime_world.incident(f"h{area}-{year}-{month}-{k}", at, f"{year}-{month:02d}-{k % 28 + 1:02d}")
                for k in range(n)
            ]
    assert (await metrics_api.post("/v1/crime-incidents", json=body)).status_code == 201
    e = (await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30})).json()
    spread = e["dispersion"]
    assert spread["reason"] is None and spread["months"] == 35 and spread["phi"] > 2
    # The published Poisson CI is unchanged; the new one is sqrt(phi) times as wide on the log scale.
    assert e["odds_ratio_ci95"] == [
        round(x, 4) for x in (math.exp(math.log(2) - Z * math.sqrt(0.95)), math.exp(math.log(2) + Z * math.sqrt(0.95)))
    ]
    half = Z * math.sqrt(spread["phi"] * 0.95)
    low, high = e["odds_ratio_ci95_overdispersion"]
    assert low == pytest.approx(math.exp(math.log(2) - half), abs=2e-4) and high == pytest.approx(
        math.exp(math.log(2) + half), rel=1e-3
    )
    assert e["primary"]["ci95"][0] <= low and e["primary"]["ci95"][1] >= high


MONTHLY_MISMATCH = text(
    """
    (SELECT neighbourhood_id, month, category, incidents FROM metrics.incident_monthly WHERE incidents <> 0
     EXCEPT
     SELECT neighbourhood_id, CAST(date_trunc('month', day) AS date), category, sum(incidents)
     FROM metrics.incident_daily GROUP BY 1, 2, 3 HAVING sum(incidents) <> 0)
    UNION ALL
    (SELECT neighbourhood_id, CAST(date_trunc('month', day) AS date), category, sum(incidents)
     FROM metrics.incident_daily GROUP BY 1, 2, 3 HAVING sum(incidents) <> 0
     EXCEPT
     SELECT neighbourhood_id, month, category, incidents FROM metrics.incident_monthly WHERE incidents <> 0)
    """
)


async def test_the_monthly_counts_follow_the_daily_counts(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any], engine: AsyncEngine
) -> None:
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM metrics.incident_monthly"))).scalar_one() > 0
        assert (await conn.execute(MONTHLY_MISMATCH)).all() == []
    # Another incident on a day that already has one (an update of the daily row), in a new category and month.
    more = [
        crime_world.incident("later-1", crime_world.TARGET_AT, "2025-02-10"),
        crime_world.incident("later-2", crime_world.CONTROL_AT, "2024-11-30", category="Robbery"),
    ]
    assert (await metrics_api.post("/v1/crime-incidents", json=more)).status_code == 201
    async with engine.begin() as conn:
        assert (await conn.execute(MONTHLY_MISMATCH)).all() == []
        await conn.execute(text("DELETE FROM metrics.incident_daily WHERE day = '2025-02-10'"))
        assert (await conn.execute(MONTHLY_MISMATCH)).all() == []
