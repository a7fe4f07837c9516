"""Crime incident ingestion on real PostgreSQL: idempotency, reject vs skip, placement, local days."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration import crime_world
from tests.integration.conftest import client_for, new_key
from tests.integration.crime_world import CONTROL_AT, GAP_AT, NOWHERE_AT, TARGET_AT, incident

HEADER = "Incident Number,Offence,Occurred,X,Y\n"


@pytest.fixture
async def world(audits_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis) -> dict[str, Any]:
    return await crime_world.build(audits_api, engine, redis)


async def _import(api: httpx.AsyncClient, body: str | bytes, **params: Any) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    params.setdefault("source", "wps")
    return await api.post(
        "/v1/crime-incidents/import", content=content, params=params, headers={"Content-Type": "text/csv"}
    )


async def _daily_total(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(text("SELECT coalesce(sum(incidents), 0) FROM metrics.incident_daily"))).scalar()
        )


async def test_a_json_batch_is_placed_and_a_repeat_changes_nothing(
    metrics_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    batch = [
        incident("a", TARGET_AT, "2025-02-01"),
        incident("b", CONTROL_AT, "2025-02-01"),
        incident("c", NOWHERE_AT, "2025-02-01"),
        incident("d", None, "2025-02-01", neighbourhood_id=world["control"]["id"]),
    ]
    first = await metrics_api.post("/v1/crime-incidents", json=batch)
    assert first.status_code == 201, first.text
    assert {k: first.json()[k] for k in ("stored", "duplicates", "unassigned")} == {
        "stored": 4, "duplicates": 0, "unassigned": 1,
    }  # fmt: skip
    assert first.json()["unassigned_lines"] == [2]
    again = await metrics_api.post("/v1/crime-incidents", json=batch)
    assert again.status_code == 200 and (again.json()["stored"], again.json()["duplicates"]) == (0, 4)
    listed = (await metrics_api.get("/v1/crime-incidents", params={"limit": 10})).json()["items"]
    placed = {i["external_id"]: i["neighbourhood_id"] for i in listed}
    assert placed == {"a": world["target"]["id"], "b": world["control"]["id"], "c": None, "d": world["control"]["id"]}
    assert await _daily_total(engine) == 4


async def test_reject_stores_nothing_and_skip_stores_the_good_rows_in_one_go(
    metrics_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    lon, lat = TARGET_AT
    csv = (
        HEADER
        + f"E1,Theft,2025-02-01 10:00,{lon},{lat}\n"
        + f"E2,Theft,2025-13-01 10:00,{lon},{lat}\n"
        + f"E3,Theft,2025-02-02 10:00,{lon},95\n"
        + ",Theft,2025-02-03 10:00,1,1\n"
        + f"E5,Theft,2025-02-04T10:00:00-05:00,{lon},{lat}\n"
    )
    rejected = await _import(metrics_api, csv)
    assert rejected.status_code == 422 and rejected.json()["type"].endswith("/rejected-rows")
    lines = [(e["line"], e["message"]) for e in rejected.json()["errors"]]
    assert [n for n, _ in lines] == [3, 4, 5]
    assert "occurred_at" in lines[0][1] and "latitude 95 is outside" in lines[1][1] and "external_id" in lines[2][1]
    assert (await metrics_api.get("/v1/crime-incidents/count")).json()["count"] == 0
    skipped = await _import(metrics_api, csv, on_error="skip")
    assert skipped.status_code == 201, skipped.text
    assert {k: skipped.json()[k] for k in ("rows", "stored", "rejected", "committed")} == {
        "rows": 5, "stored": 2, "rejected": 3, "committed": True,
    }  # fmt: skip
    again = await _import(metrics_api, csv, on_error="skip")
    assert again.status_code == 200 and (again.json()["stored"], again.json()["duplicates"]) == (0, 2)
    assert await _daily_total(engine) == 2


async def test_columns_are_mapped_by_name_and_bad_files_are_reported(
    metrics_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    lon, lat = TARGET_AT
    custom = f"When,Ref,Kind,Agency,lat,lon\n2025-02-01 10:00,R1,Mischief,city,{lat},{lon}\n"
    r = await _import(metrics_api, custom, column=["occurred_at=When", "external_id=Ref", "category=Kind"])
    assert r.status_code == 201 and r.json()["stored"] == 1
    item = (await metrics_api.get("/v1/crime-incidents")).json()["items"][0]
    assert (item["source"], item["category"], item["neighbourhood_id"]) == ("city", "mischief", world["target"]["id"])
    missing = await _import(metrics_api, "Incident Number,X,Y\nE1,1,1\n")
    assert missing.status_code == 422 and "category" in missing.json()["detail"]
    latin = (HEADER + f"E9,Vol qualifi\xe9,2025-02-01 10:00,{lon},{lat}\n").encode("latin-1")
    bad = await _import(metrics_api, latin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["line"] == 2
    assert "not valid utf-8" in bad.json()["errors"][0]["message"]
    assert (await _import(metrics_api, latin, encoding="latin-1")).json()["stored"] == 1
    wrong = await metrics_api.post("/v1/crime-incidents/import", files={"file": ("a.csv", b"x")})
    assert wrong.status_code == 415


async def test_local_days_follow_daylight_saving(metrics_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    times = {
        "spring-before": "2025-03-09T04:30:00Z",  # 23:30 EST on 8 March
        "spring-after": "2025-03-10T04:30:00Z",  # 00:30 EDT on 10 March
        "fall-before": "2025-11-02T04:30:00Z",  # 00:30 EDT on 2 November
        "fall-after": "2025-11-03T04:30:00Z",  # 23:30 EST on 2 November
    }
    batch = [incident(k, TARGET_AT, "2025-01-01", occurred_at=v) for k, v in times.items()]
    assert (await metrics_api.post("/v1/crime-incidents", json=batch)).status_code == 201
    items = (await metrics_api.get("/v1/crime-incidents")).json()["items"]
    days = {i["external_id"]: i["occurred_on"] for i in items}
    assert days == {
        "spring-before": "2025-03-08", "spring-after": "2025-03-10",
        "fall-before": "2025-11-02", "fall-after": "2025-11-02",
    }  # fmt: skip
    november_2 = await metrics_api.get("/v1/crime-incidents/count", params={"from": "2025-11-02", "to": "2025-11-02"})
    assert november_2.json()["count"] == 2  # a 25-hour local day


async def test_incidents_follow_a_changed_boundary(
    metrics_api: httpx.AsyncClient, audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine,
    redis: Redis,
) -> None:  # fmt: skip
    batch = [incident("gap", GAP_AT, "2025-02-01"), incident("in", TARGET_AT, "2025-02-01")]
    assert (await metrics_api.post("/v1/crime-incidents", json=batch)).json()["unassigned"] == 1
    # The target grows east over the gap (the control starts at -83.038).
    ring = [[-83.05, 42.30], [-83.0385, 42.30], [-83.0385, 42.31], [-83.05, 42.31], [-83.05, 42.30]]
    wider = {"type": "Polygon", "coordinates": [ring]}
    r = await audits_api.patch(f"/v1/neighbourhoods/{world['target']['id']}", json={"boundary": wider})
    assert r.status_code == 200, r.text
    await crime_world.sync_metrics(engine, redis)
    items = (await metrics_api.get("/v1/crime-incidents")).json()["items"]
    assert {i["external_id"]: i["neighbourhood_id"] for i in items} == {
        "gap": world["target"]["id"], "in": world["target"]["id"],
    }  # fmt: skip
    ranked = (await metrics_api.get("/v1/targeting", params={"from": "2025-02-01", "to": "2025-02-01"})).json()
    assert ranked["unassigned_incidents"] == 0
    assert next(i for i in ranked["items"] if i["neighbourhood_id"] == world["target"]["id"])["incidents"] == 2


async def test_only_admins_write_and_lists_page(
    metrics_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    from services.metrics.app import create_app
    from shared.auth.keys import Scope

    batch = [incident(f"p{n}", TARGET_AT, f"2025-02-{n:02d}") for n in range(1, 8)]
    async for reader in client_for(create_app(), await new_key(engine, Scope.reader)):
        assert (await reader.post("/v1/crime-incidents", json=batch)).status_code == 403
    assert (await metrics_api.post("/v1/crime-incidents", json=batch)).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await metrics_api.get("/v1/crime-incidents", params=params)).json()
        seen += [i["external_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"p{n}" for n in range(7, 0, -1)]


async def test_repeats_inside_a_file_and_overlapping_files_store_each_incident_once(
    metrics_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    lon, lat = TARGET_AT
    first = HEADER + "".join(f"E{n},Theft,2025-02-{n:02d} 10:00,{lon},{lat}\n" for n in (1, 2, 3, 2))
    r = await _import(metrics_api, first)
    assert (r.json()["rows"], r.json()["stored"], r.json()["duplicates"]) == (4, 3, 1)
    overlapping = HEADER + "".join(f"E{n},Theft,2025-02-{n:02d} 10:00,{lon},{lat}\n" for n in (3, 4, 5))
    r = await _import(metrics_api, overlapping)
    assert (r.json()["stored"], r.json()["duplicates"]) == (2, 1)
    assert (await metrics_api.get("/v1/crime-incidents/count")).json()["count"] == 5
    assert await _daily_total(engine) == 5
