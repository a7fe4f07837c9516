"""The estimators of an audit on real PostgreSQL: the API gives the pure functions' figures on the stored counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import numpy as np
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.evaluation.domain.estimators import (
    empirical_bayes,
    harm,
    outcome_families,
    pooling,
    power,
    seasonal_glm,
    synthetic_control,
)
from shared.auth.keys import Scope
from tests import factories
from tests.integration import crime_world
from tests.integration.conftest import client_for, new_key

# window_days=365 around the implementation day 2025-03-01: before 2024-03-01..2025-02-28, after
# 2025-03-02..2026-03-01. Whole months: history before March 2025; after April 2025..February 2026 (March 2025
# is cut by the implementation day, so one calendar month lies between the last pre month and the first after one).
HISTORY = [date(2023 + (2 + i) // 12, (2 + i) % 12 + 1, 1) for i in range(24)]  # March 2023 .. February 2025
AFTER = [date(2025 + (3 + i) // 12, (3 + i) % 12 + 1, 1) for i in range(11)]  # April 2025 .. February 2026
CATEGORIES = ("Break and Enter", "Assault", "Drug Possession")


@pytest.fixture
async def crime(
    audits_api: httpx.AsyncClient, metrics_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis
) -> dict[str, Any]:
    world = await crime_world.build(audits_api, engine, redis)
    r = await metrics_api.post("/v1/crime-incidents", json=crime_world.planned_incidents())
    assert r.status_code == 201, r.text
    return world


async def _monthly_world(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    crime: dict[str, Any],
) -> list[str]:
    """Five more Windsor neighbourhoods, and two years of monthly incidents before and one after everywhere."""
    extra = []
    for i in range(5):
        body = factories.neighbourhood(boundary=factories.square(-83.05, 42.36 + 0.02 * i))
        r = await audits_api.post("/v1/neighbourhoods", json=body)
        assert r.status_code == 201, r.text
        extra.append((r.json()["id"], (-83.045, 42.365 + 0.02 * i)))
    await crime_world.sync_metrics(engine, redis)
    places = [
        ("t", crime_world.TARGET_AT, 8.0),
        ("c", crime_world.CONTROL_AT, 9.0),
        *[(f"x{i}", at, 5.0 + 2 * i) for i, (_, at) in enumerate(extra)],
    ]
    rng = np.random.default_rng(11)
    body = []
    for area, at, mean in places:
        for month in HISTORY + AFTER:
            season = 1 + 0.3 * np.cos(2 * np.pi * (month.month - 7) / 12)
            effect = 0.6 if area == "t" and month in AFTER else 1.0
            for k in range(int(rng.poisson(mean * season * effect))):
                day = f"{month.year}-{month.month:02d}-{k % 27 + 2:02d}"
                category = CATEGORIES[k % len(CATEGORIES)]
                body.append(crime_world.incident(f"m{area}-{month}-{k}", at, day, category=category))
    r = await metrics_api.post("/v1/crime-incidents", json=body)
    assert r.status_code == 201, r.text
    return [i for i, _ in extra]


async def _stored_monthly(engine: AsyncEngine) -> dict[str, dict[date, int]]:
    sql = "SELECT neighbourhood_id, month, sum(incidents) FROM metrics.incident_monthly GROUP BY 1, 2"
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql))).all()
    found: dict[str, dict[date, int]] = {}
    for neighbourhood, month, n in rows:
        found.setdefault(str(neighbourhood), {})[month] = int(n)
    return found


async def _window_count(metrics_api: httpx.AsyncClient, window: list[str], neighbourhood: str, **extra: Any) -> int:
    params = {"from": window[0], "to": window[1], "neighbourhood_id": neighbourhood, **extra}
    r = await metrics_api.get("/v1/crime-incidents/count", params=params)
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


async def test_the_estimators_give_the_pure_functions_figures_on_the_stored_counts(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    crime: dict[str, Any],
) -> None:
    extra = await _monthly_world(audits_api, metrics_api, engine, redis, crime)
    r = await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}/estimators", params={"window_days": 365})
    assert r.status_code == 200, r.text
    e = r.json()
    evaluation = (
        await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 365})
    ).json()
    assert e["primary"] == evaluation["primary"] and e["significant"] == evaluation["significant"]
    target, control = crime["target"]["id"], crime["control"]["id"]
    donors = sorted([control, *extra])
    assert e["control_neighbourhood_ids"] == donors
    assert e["monthly"]["after_months"] == [m.isoformat() for m in AFTER]
    assert e["monthly"]["implementation_months_left_out"] == 1
    # The municipality's first incident is in the history's first month that has any: earlier months are no data.
    monthly = await _stored_monthly(engine)
    pre = e["monthly"]["pre_months"]
    assert pre[0] == min(m for n in [target, *donors] for m in monthly.get(n, {})).isoformat()
    months = [date.fromisoformat(m) for m in pre] + AFTER

    def series(n: str) -> list[int]:
        return [monthly.get(n, {}).get(m, 0) for m in months]

    glm = seasonal_glm.seasonal_glm(series(target), [series(d) for d in donors], months[0], len(pre), skipped_months=1)
    assert glm.reason is None and e["seasonal_glm"]["reason"] is None
    assert e["seasonal_glm"]["rate_ratio"] == pytest.approx(glm.rate_ratio, abs=1e-6)
    assert e["seasonal_glm"]["ci95"] == pytest.approx(list(glm.ci95), abs=1e-6)
    assert e["seasonal_glm"]["pretrend_p_value"] == pytest.approx(glm.pretrend_p_value, abs=1e-6)
    assert e["seasonal_glm"]["rate_ratio"] < 1  # the target fell by 40 %

    synthetic = synthetic_control.synthetic_control(series(target), [series(d) for d in donors], len(pre))
    s = e["synthetic_control"]
    assert s["pre_rmse"] == pytest.approx(synthetic.pre_rmse, abs=1e-6)
    assert s["reason"] == synthetic.reason
    if synthetic.reason is None:
        assert s["after_gap_total"] == pytest.approx(synthetic.after_gap_total, abs=1e-5)
        assert s["placebo_p_value"] == pytest.approx(synthetic.placebo_p_value) and s["placebos"] == len(donors)

    # Empirical Bayes: every neighbourhood of Windsor is the reference population; Tecumseh is not.
    before, after = e["before_window"], e["after_window"]
    windsor = [target, *donors]
    reference = [await _window_count(metrics_api, before, n) for n in windsor]
    days = (date.fromisoformat(before[1]) - date.fromisoformat(before[0])).days + 1
    t, c = e["target"], e["control"]
    assert t["before"] == reference[0] and t["after"] == await _window_count(metrics_api, after, target)
    ratio = empirical_bayes.trend_ratio([c["before"]], [c["after"]], 365 / days)
    populations = [(await audits_api.get(f"/v1/neighbourhoods/{n}")).json()["population"] for n in windsor]
    person_years = [p * days / 365.25 for p in populations]
    eb = empirical_bayes.empirical_bayes(t["before"], t["after"], person_years[0], ratio, reference, person_years)
    assert e["empirical_bayes"]["exposure"].startswith("person-years")
    assert e["empirical_bayes"]["reference_neighbourhoods"] == len(windsor)
    assert e["empirical_bayes"]["theta"] == pytest.approx(eb.theta, abs=1e-6)
    assert e["empirical_bayes"]["effect_percent"] == pytest.approx(eb.effect_percent, abs=1e-4)
    assert e["empirical_bayes"]["naive_effect_percent"] == pytest.approx(eb.naive_effect_percent, abs=1e-4)

    # Harm-weighted WDD per category; drug possession has no severity weight and is listed, not guessed.
    by_category: dict[str, list[int]] = {}
    for category in ("break_and_enter", "assault", "drug_possession"):
        by_category[category] = [
            await _window_count(metrics_api, window, n, categories=category)
            for window in (before, after)
            for n in (target, ",".join(donors))
        ]
    h = harm.harm_wdd(
        {k: v[0] for k, v in by_category.items()},
        {k: v[2] for k, v in by_category.items()},
        {k: v[1] for k, v in by_category.items()},
        {k: v[3] for k, v in by_category.items()},
        harm.shipped_csi_weights().weights,
    )
    assert e["harm_wdd"]["unmapped"] == ["drug_possession"]
    assert e["harm_wdd"]["value"] == pytest.approx(h.value) and e["harm_wdd"]["z"] == pytest.approx(h.z, abs=1e-6)
    assert e["harm_wdd"]["weights_year"] == harm.shipped_csi_weights().year

    p = power.power(t["before"], c["before"], days / (365.25 / 12), 365 / (365.25 / 12), e["dispersion_phi"])
    assert e["power"]["minimum_detectable_reduction_percent"] == pytest.approx(
        p.minimum_detectable_reduction_percent, abs=1e-6
    )
    assert e["power"]["after_months_needed"] == p.after_months_needed


async def test_estimators_that_cannot_answer_say_why(metrics_api: httpx.AsyncClient, crime: dict[str, Any]) -> None:
    # The small world: one control neighbourhood, a month of incidents, the after month cut by the implementation.
    r = await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}/estimators", params={"window_days": 30})
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["empirical_bayes"]["reason"] == "fewer than 5 reference neighbourhoods"
    assert e["empirical_bayes"]["theta"] is None
    assert e["seasonal_glm"]["reason"] and e["seasonal_glm"]["rate_ratio"] is None
    assert e["synthetic_control"]["reason"] == "fewer than 5 donor neighbourhoods"
    assert e["synthetic_control"]["pre_rmse"] is None
    # Four incidents before: not even a fall to zero would reach 80 % power, and the answer says so.
    assert e["power"]["reason"] and e["power"]["minimum_detectable_reduction_percent"] is None
    assert 0 < e["power"]["power_at_planning_reduction"] < 0.8
    assert e["harm_wdd"]["reason"] is None and e["harm_wdd"]["categories"] == ["break_and_enter"]
    assert e["harm_wdd"]["comparable_control"] is False and e["harm_wdd"]["caution"]
    # No incident of that category anywhere: every estimator refuses rather than report a figure of nothing.
    none = await metrics_api.get(
        f"/v1/evaluations/audits/{crime['audit']['id']}/estimators", params={"window_days": 30, "categories": "robbery"}
    )
    assert none.status_code == 200 and none.json()["harm_wdd"]["reason"] == "no incident category has a severity weight"
    assert none.json()["power"]["reason"].startswith("no incidents before")


async def test_a_poor_synthetic_fit_is_refused_with_its_rmse(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    crime: dict[str, Any],
) -> None:
    await _monthly_world(audits_api, metrics_api, engine, redis, crime)
    # A busy donor puts the target's level inside the donors' range, but a burst in every other month of the
    # target's history is something no convex mix of steady donors follows.
    body = factories.neighbourhood(boundary=factories.square(-83.10, 42.36))
    assert (await audits_api.post("/v1/neighbourhoods", json=body)).status_code == 201
    await crime_world.sync_metrics(engine, redis)
    busy = [
        crime_world.incident(f"busy-{m}-{k}", (-83.095, 42.365), f"{m.year}-{m.month:02d}-{k % 27 + 2:02d}")
        for m in HISTORY + AFTER
        for k in range(60)
    ]
    burst = [
        crime_world.incident(f"burst-{m}-{k}", crime_world.TARGET_AT, f"{m.year}-{m.month:02d}-15")
        for i, m in enumerate(HISTORY)
        if i % 2
        for k in range(40)
    ]
    assert (await metrics_api.post("/v1/crime-incidents", json=busy + burst)).status_code == 201
    e = (
        await metrics_api.get(f"/v1/evaluations/audits/{crime['audit']['id']}/estimators", params={"window_days": 365})
    ).json()
    s = e["synthetic_control"]
    assert s["reason"] and s["placebo_p_value"] is None and s["gap"] is None
    assert s["reason"].startswith("poor pre-period fit") and s["pre_rmse"] > 0.5 * s["target_pre_mean"]


async def test_families_choose_categories_through_the_shipped_map(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    crime: dict[str, Any],
) -> None:
    await _monthly_world(audits_api, metrics_api, engine, redis, crime)
    audit = crime["audit"]["id"]
    shipped = outcome_families.shipped_category_map()
    r = await metrics_api.get("/v1/evaluations/category-map")
    assert r.status_code == 200 and r.json() == shipped.to_row()
    everything = (await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"window_days": 365})).json()
    assert everything["family"] == "all" and everything["categories"] == []
    totals = {}
    for family, category in (("property", "break_and_enter"), ("violent", "assault"), ("substance", "drug_possession")):
        e = (
            await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"window_days": 365, "family": family})
        ).json()
        assert e["family"] == family and e["category_map_version"] == shipped.version
        assert e["categories"] == sorted(c for c, fs in shipped.categories.items() if family in fs)
        assert e["target"]["before"] == await _window_count(
            metrics_api, e["before_window"], crime["target"]["id"], categories=category
        )
        totals[family] = e["target"]["before"]
        estimators = (
            await metrics_api.get(
                f"/v1/evaluations/audits/{audit}/estimators", params={"window_days": 365, "family": family}
            )
        ).json()
        assert estimators["family"] == family and estimators["target"] == e["target"]
    assert sum(totals.values()) == everything["target"]["before"]
    bad = await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"family": "noise"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.family"
    assert bad.headers["content-type"] == "application/problem+json"
    summary = (
        await metrics_api.get("/v1/evaluations/summary", params={"window_days": 365, "family": "violent"})
    ).json()
    assert summary["family"] == "violent" and "assault" in summary["categories"]
    narrowed = await metrics_api.get(
        f"/v1/evaluations/audits/{audit}", params={"window_days": 365, "family": "violent", "categories": "assault"}
    )
    assert narrowed.json()["categories"] == ["assault"]
    outside = await metrics_api.get(
        f"/v1/evaluations/audits/{audit}", params={"family": "violent", "categories": "arson"}
    )
    assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "query.family"


async def test_a_family_the_data_does_not_have_is_missing_data(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any]
) -> None:
    r = await metrics_api.get(
        f"/v1/evaluations/audits/{crime['audit']['id']}", params={"window_days": 30, "family": "substance"}
    )
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["target"] == {"before": 0, "after": 0} and e["insufficient_data"] is True
    assert e["significant"] is None and "insufficient data" in e["significant_reason"]


async def test_the_summary_adds_hartung_knapp_prediction_and_multiplicity(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any]
) -> None:
    body = (await metrics_api.get("/v1/evaluations/summary", params={"window_days": 30})).json()
    assert body["few_audits"] is True and "fewer than 5" in body["few_audits_warning"]
    pooled = body["pooled"]
    assert pooled["few_audits"] is True
    # One audit: nothing to pool between audits, and the answer says so instead of inventing an interval.
    assert pooled["random_effects"]["hartung_knapp_ci95"] is None
    assert pooled["primary"]["hartung_knapp_reason"] == "at least two audits are needed to pool"
    assert pooled["primary"]["prediction_interval95"] is None
    m = body["multiplicity"]
    [category] = body["by_recommendation_category"]
    adjusted = m["by_recommendation_category"][category]
    assert (
        adjusted["holm_p_value"]
        == adjusted["p_value"]
        == body["by_recommendation_category"][category]["primary"]["p_value"]
    )


async def test_hartung_knapp_and_adjustments_equal_the_pure_functions(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    crime: dict[str, Any],
) -> None:
    extra = await _monthly_world(audits_api, metrics_api, engine, redis, crime)
    # Two more audits in other Windsor neighbourhoods, each with a recommendation implemented.
    for n, (category, day) in zip(extra[-2:], (("lighting", "2025-03-01"), ("maintenance", "2025-03-01")), strict=True):
        p = (await audits_api.post("/v1/partnerships", json=factories.partnership([n]))).json()
        a = (await audits_api.post("/v1/audits", json=factories.audit(p["id"], n, conducted_on="2025-01-15"))).json()
        rec = (
            await audits_api.post(
                f"/v1/audits/{a['id']}/recommendations", json=factories.recommendation(category=category)
            )
        ).json()
        for to, on in (("accepted", "2025-01-20"), ("in_progress", "2025-02-01"), ("implemented", day)):
            r = await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": to, "on": on})
            assert r.status_code == 200, r.text
    await crime_world.sync_metrics(engine, redis)
    body = (await metrics_api.get("/v1/evaluations/summary", params={"window_days": 365})).json()
    audits = body["audits"]
    assert len(audits) == 3 and body["few_audits"] is True
    expected = pooling.random_effects([(a["log_odds_ratio"], a["variance_overdispersion"]) for a in audits])
    primary = body["pooled"]["primary"]
    assert primary["hartung_knapp_ci95"] == [round(x, 4) for x in expected.hksj_ci95]
    assert primary["prediction_interval95"] == [round(x, 4) for x in expected.prediction_interval95]
    p_values = {c: v["p_value"] for c, v in body["multiplicity"]["by_recommendation_category"].items()}
    assert len(p_values) >= 2
    holm = pooling.adjust([body["multiplicity"]["by_recommendation_category"][c]["p_value"] for c in p_values])
    for i, c in enumerate(p_values):
        assert body["multiplicity"]["by_recommendation_category"][c]["holm_p_value"] == pytest.approx(
            holm.adjusted[i], abs=1e-3
        )

    # Reading every family side by side is many tests: they are adjusted together, across families and categories.
    families = (await metrics_api.get("/v1/evaluations/summary/families", params={"window_days": 365})).json()
    shipped = outcome_families.shipped_category_map()
    assert [f["family"] for f in families["families"]] == ["all", *sorted(shipped.families)]
    expected_tests = []
    for row in families["families"]:
        alone = (
            await metrics_api.get("/v1/evaluations/summary", params={"window_days": 365, "family": row["family"]})
        ).json()
        assert row["audits"] == len(alone["audits"])
        assert row["primary"] == (alone["pooled"] or {}).get("primary")
        if alone["pooled"]:
            expected_tests.append((row["family"], None, alone["pooled"]["primary"]["p_value"]))
        for category, pooled in alone["by_recommendation_category"].items():
            expected_tests.append((row["family"], category, pooled["primary"]["p_value"]))
    tests = families["tests"]
    assert [(t["family"], t["recommendation_category"], t["p_value"]) for t in tests] == expected_tests
    assert len(tests) > len(p_values)
    # Rounded p-values go in here; the service adjusts the unrounded ones.
    holm = pooling.adjust([t["p_value"] for t in tests], "holm")
    bh = pooling.adjust([t["p_value"] for t in tests], "fdr_bh")
    for i, t in enumerate(tests):
        assert t["holm_p_value"] == pytest.approx(holm.adjusted[i], abs=2e-3)
        assert t["benjamini_hochberg_p_value"] == pytest.approx(bh.adjusted[i], abs=2e-3)
        assert t["holm_p_value"] >= t["p_value"]


@pytest.fixture
async def other_metrics_editor(engine: AsyncEngine, audits_api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    from services.metrics.app import create_app

    n = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await audits_api.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
    async for client in client_for(create_app(), await new_key(engine, Scope.editor, [p["id"]])):
        yield client


async def test_an_editor_of_another_partnership_does_not_see_the_estimators(
    metrics_api: httpx.AsyncClient, crime: dict[str, Any], other_metrics_editor: httpx.AsyncClient
) -> None:
    path = f"/v1/evaluations/audits/{crime['audit']['id']}/estimators"
    assert (await metrics_api.get(path, params={"window_days": 30})).status_code == 200
    r = await other_metrics_editor.get(path, params={"window_days": 30})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    missing = await other_metrics_editor.get(f"/v1/evaluations/audits/{uuid.uuid4()}/estimators")
    assert missing.status_code == 404


async def test_the_openapi_document_types_the_new_answers(metrics_api: httpx.AsyncClient) -> None:
    doc = (await metrics_api.get("/openapi.json")).json()
    responses = doc["paths"]["/v1/evaluations/audits/{audit_id}/estimators"]["get"]["responses"]
    answer = responses["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/EstimatorsRead")
    schemas = doc["components"]["schemas"]
    for part in ("empirical_bayes", "seasonal_glm", "synthetic_control", "harm_wdd", "power"):
        assert "$ref" in schemas["EstimatorsRead"]["properties"][part]
    assert "pretrend_p_value" in schemas["SeasonalGlmRead"]["properties"]
    assert "family" in schemas["EvaluationRead"]["properties"]
    mapped = doc["paths"]["/v1/evaluations/category-map"]["get"]["responses"]["200"]
    assert mapped["content"]["application/json"]["schema"]["$ref"].endswith("/CategoryMapRead")
    params = {p["name"] for p in doc["paths"]["/v1/evaluations/summary"]["get"]["parameters"]}
    assert "family" in params


async def test_admins_store_new_category_map_versions_and_old_ones_stay_usable(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    crime: dict[str, Any],
    other_metrics_editor: httpx.AsyncClient,
) -> None:
    await _monthly_world(audits_api, metrics_api, engine, redis, crime)
    audit = crime["audit"]["id"]
    shipped = outcome_families.shipped_category_map()
    new_map = {
        "replaces_version": shipped.version,
        "effective_from": "2026-01-01",
        "note": "drug possession counted as disorder, on the partnership's request",
        "families": dict(shipped.families) | {"disorder": "Disorder"},
        "categories": {c: list(fs) for c, fs in shipped.categories.items() if c != "drug_possession"}
        | {"Drug Possession": ["disorder"]},
    }
    refused = await other_metrics_editor.post("/v1/evaluations/category-maps", json=new_map)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    r = await metrics_api.post("/v1/evaluations/category-maps", json=new_map)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["version"] == shipped.version + 1 and stored["created_by"] and stored["created_at"]
    assert stored["categories"]["drug_possession"] == ["disorder"]
    assert r.headers["location"] == f"/v1/evaluations/category-map?version={stored['version']}"
    assert (await metrics_api.get("/v1/evaluations/category-map")).json() == stored
    assert (await metrics_api.get(r.headers["location"])).json() == stored
    first = await metrics_api.get("/v1/evaluations/category-map", params={"version": shipped.version})
    assert first.json()["version"] == shipped.version and "disorder" not in first.json()["families"]
    listed = (await metrics_api.get("/v1/evaluations/category-maps", params={"limit": 1})).json()
    assert [m["version"] for m in listed["items"]] == [stored["version"]] and listed["next_cursor"]
    rest = (await metrics_api.get("/v1/evaluations/category-maps", params={"cursor": listed["next_cursor"]})).json()
    assert [m["version"] for m in rest["items"]] == [shipped.version] and rest["next_cursor"] is None

    # Evaluations use the current version unless told which; the answer names the one used.
    disorder = (
        await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"window_days": 365, "family": "disorder"})
    ).json()
    assert disorder["category_map_version"] == stored["version"] and disorder["categories"] == ["drug_possession"]
    assert disorder["target"]["before"] == await _window_count(
        metrics_api, disorder["before_window"], crime["target"]["id"], categories="drug_possession"
    )
    substance = (
        await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"window_days": 365, "family": "substance"})
    ).json()
    assert "drug_possession" not in substance["categories"]
    before = {"window_days": 365, "family": "substance", "category_map_version": shipped.version}
    again = (await metrics_api.get(f"/v1/evaluations/audits/{audit}", params=before)).json()
    assert again["category_map_version"] == shipped.version and "drug_possession" in again["categories"]
    for path in (f"/v1/evaluations/audits/{audit}", f"/v1/evaluations/audits/{audit}/estimators"):
        old = await metrics_api.get(path, params={"family": "disorder", "category_map_version": shipped.version})
        assert old.status_code == 422 and old.json()["errors"][0]["field"] == "query.family"
    summary = (await metrics_api.get("/v1/evaluations/summary", params={"family": "disorder"})).json()
    assert summary["category_map_version"] == stored["version"]
    unknown = await metrics_api.get(f"/v1/evaluations/audits/{audit}", params={"category_map_version": 99})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "query.category_map_version"
    assert (await metrics_api.get("/v1/evaluations/category-map", params={"version": 99})).status_code == 404

    # A version made from a stale read is refused, not silently overwritten; bad maps name their field.
    stale = await metrics_api.post("/v1/evaluations/category-maps", json=new_map)
    assert stale.status_code == 409 and stale.json()["current_version"] == stored["version"]
    assert stale.json()["errors"][0]["field"] == "body.replaces_version"
    current = stored["version"]
    for change, field in (
        ({"categories": {"arson": ["noise"]}}, "body.categories.arson"),
        ({"families": {"all": "Everything"}}, "body.families.all"),
        ({"categories": {"Break and Enter": ["property"], "break-and-enter": ["property"]}}, "body.categories"),
    ):
        bad = await metrics_api.post(
            "/v1/evaluations/category-maps", json=new_map | {"replaces_version": current} | change
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["field"].startswith(field), bad.json()
    assert (await metrics_api.get("/v1/evaluations/category-map")).json()["version"] == current
