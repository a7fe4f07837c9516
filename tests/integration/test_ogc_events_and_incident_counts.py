"""OGC API collections read from the other services, on real PostgreSQL: ``events`` and ``incident-counts``.

The events and metrics apps run in process and the audits app reaches them
through its HTTP clients (an ASGI transport in place of the network), so the
keys, the paging and the failures are those of the real services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests.integration.conftest import new_key
from tests.integration.crime_world import incident, sync_metrics
from tests.integration.events.factories import event
from tests.integration.test_audit_requests_api import inside

GEOJSON = "application/geo+json"


def _client(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers)


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def _gis_app(stack: AsyncExitStack, service_key: str | None, **transports: Any) -> FastAPI:
    """The audits app as deployed: its OGC API reaches events and metrics through the given transports."""
    from services.audits.app import create_app

    app = create_app(**transports)
    await stack.enter_async_context(app.router.lifespan_context(app))
    app.state.settings = app.state.settings.model_copy(update={"service_api_key": service_key})
    return app


@pytest.fixture
async def apps(admin_key: str, engine: AsyncEngine) -> AsyncIterator[dict[str, Any]]:
    from services.audits.app import create_app as audits_app
    from services.events.app import create_app as events_app
    from services.metrics.app import create_app as metrics_app

    directory = audits_app()  # what the events service checks partnerships with
    events, metrics = events_app(httpx.ASGITransport(app=directory)), metrics_app()
    async with AsyncExitStack() as stack:
        for app in (directory, events, metrics):
            await stack.enter_async_context(app.router.lifespan_context(app))
        wired = {
            "events_transport": httpx.ASGITransport(app=events),
            "metrics_transport": httpx.ASGITransport(app=metrics),
        }
        gis = await _gis_app(stack, await new_key(engine, Scope.reader), **wired)
        yield {"events": events, "metrics": metrics, "gis": gis, "stack": stack, "wired": wired}


@pytest.fixture
async def gis(apps: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(apps["gis"]) as client:
        yield client


@pytest.fixture
async def city(
    apps: dict[str, Any], world: dict[str, Any], admin_key: str, engine: AsyncEngine, redis: Redis
) -> dict[str, Any]:
    """Three events (located in n2; at n1's centroid, cancelled; nowhere, three days long) and incidents:
    n1 January theft 3 + assault 6 (one late on 31 January, local time), February theft 7; n2 January theft 8,
    March assault 5."""
    p, n1, n2 = world["partnership"]["id"], world["n1"], world["n2"]
    bodies = {
        "located": event([p], location=inside(n2), neighbourhood_id=n2["id"]),
        "centroid": event(
            [p], neighbourhood_id=n1["id"], kind="outreach", special=False, status="cancelled",
            starts_at="2025-03-01T10:00:00-05:00", ends_at="2025-03-01T12:00:00-05:00",
        ),
        "nowhere": event(
            [p], kind="patrol_engagement", special=False, status="scheduled",
            starts_at="2025-05-01T09:00:00-04:00", ends_at="2025-05-03T17:00:00-04:00",
        ),
    }  # fmt: skip
    created = {}
    async with _client(apps["events"], admin_key) as events:
        for name, body in bodies.items():
            r = await events.post("/v1/events", json=body)
            assert r.status_code == 201, r.text
            created[name] = r.json()
    await sync_metrics(engine, redis)  # metrics learns the neighbourhoods from the audits stream
    plan = [(n1, "Theft", "2025-01-1", 3), (n1, "Assault", "2025-01-2", 5), (n1, "Theft", "2025-02-1", 7)]
    plan += [(n2, "Theft", "2025-01-1", 8), (n2, "Assault", "2025-03-1", 5)]
    batch = [
        incident(f"{hood['name']}-{prefix}{n}", None, f"{prefix}{n}", category=category, neighbourhood_id=hood["id"])
        for hood, category, prefix, count in plan
        for n in range(count)
    ]
    # 21:00 on 31 January in Toronto, already February in UTC: a January incident.
    batch.append(incident("late", None, "2025-01-31", neighbourhood_id=n1["id"], category="Assault"))
    batch[-1]["occurred_at"] = "2025-02-01T02:00:00Z"
    async with _client(apps["metrics"], admin_key) as metrics:
        r = await metrics.post("/v1/crime-incidents", json=batch)
        assert r.status_code == 201, r.text
    return created | {"n1": n1, "n2": n2}


def _box(hood: dict[str, Any]) -> str:
    ring = hood["boundary"]["coordinates"][0]
    return f"{ring[0][0]},{ring[0][1]},{ring[2][0]},{ring[2][1]}"


async def _all(gis: httpx.AsyncClient, url: str, **params: Any) -> list[dict[str, Any]]:
    found, pages = [], 0
    next_url: str | None = url
    while next_url:
        r = await gis.get(next_url, params=params if pages == 0 else None)
        assert r.status_code == 200 and r.headers["content-type"] == GEOJSON, r.text
        found += r.json()["features"]
        next_url = next((x["href"] for x in r.json()["links"] if x["rel"] == "next"), None)
        pages += 1
    return found


async def test_both_collections_are_listed_with_what_they_cover(gis: httpx.AsyncClient, city: dict[str, Any]) -> None:
    by_id = {c["id"]: c for c in (await gis.get("/ogc/collections")).json()["collections"]}
    assert {"events", "incident-counts"} <= set(by_id)
    counts = by_id["incident-counts"]
    assert "suppressed" in counts["description"] and "never published as points" in counts["description"]
    assert counts["extent"]["temporal"]["interval"] == [["2025-01-01T00:00:00-05:00", "2025-03-31T23:59:59-04:00"]]
    low, high = city["n1"]["boundary"]["coordinates"][0][0], city["n2"]["boundary"]["coordinates"][0][2]
    assert counts["extent"]["spatial"]["bbox"] == [[*low, *high]]  # the neighbourhoods' polygons
    assert by_id["events"]["extent"] == {}
    assert (await gis.get("/ogc/collections/incident-counts")).json() == counts
    api = (await gis.get("/ogc/api")).json()
    assert "503" in api["paths"]["/ogc/collections/events/items"]["get"]["responses"]
    assert "/ogc/collections/incident-counts/items/{featureId}" in api["paths"]


async def test_events_are_points_paged_through_the_events_list(gis: httpx.AsyncClient, city: dict[str, Any]) -> None:
    first = (await gis.get("/ogc/collections/events/items", params={"limit": 2})).json()
    assert first["numberReturned"] == 2 and "numberMatched" not in first
    features = {f["id"]: f for f in await _all(gis, "/ogc/collections/events/items", limit=2)}
    assert set(features) == {city[k]["id"] for k in ("located", "centroid", "nowhere")}
    located, cancelled = features[city["located"]["id"]], features[city["centroid"]["id"]]
    assert (located["geometry"], located["properties"]["location_source"]) == (inside(city["n2"]), "site")
    assert cancelled["geometry"]["coordinates"] == pytest.approx(inside(city["n1"])["coordinates"])
    assert (cancelled["properties"]["status"], cancelled["properties"]["location_source"]) == (
        "cancelled",
        "neighbourhood_centroid",
    )
    assert features[city["nowhere"]["id"]]["geometry"] is None


async def test_events_filter_by_property_time_and_box(gis: httpx.AsyncClient, city: dict[str, Any]) -> None:
    async def ids(**params: str) -> set[str]:
        return {f["id"] for f in await _all(gis, "/ogc/collections/events/items", **params)}

    located, centroid, nowhere = (city[k]["id"] for k in ("located", "centroid", "nowhere"))
    assert await ids(status="cancelled") == {centroid}
    assert await ids(kind="festival", special="true") == {located}
    assert await ids(datetime="2025-05-02T12:00:00Z") == {nowhere}  # going on, though it started the day before
    assert await ids(datetime="2025-03-01/2025-05-01") == {centroid, nowhere}
    assert await ids(datetime="2025-05-04T00:00:00Z/..") == {located}
    assert await ids(bbox=_box(city["n2"])) == {located, nowhere}  # placed nowhere: matches every box
    assert await ids(bbox=_box(city["n1"]), limit="1") == {centroid, nowhere}
    for params in ({"status": "postponed"}, {"special": "yes"}, {"cursor": "nonsense"}, {"colour": "red"}):
        r = await gis.get("/ogc/collections/events/items", params=params)
        assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue", params


async def test_one_event_and_the_callers_own_key(
    gis: httpx.AsyncClient, apps: dict[str, Any], city: dict[str, Any], engine: AsyncEngine
) -> None:
    one = await gis.get(f"/ogc/collections/events/items/{city['located']['id']}")
    assert one.status_code == 200 and one.json()["properties"]["name"] == city["located"]["name"]
    assert {x["rel"] for x in one.json()["links"]} == {"self", "collection"}
    for missing in ("00000000-0000-0000-0000-000000000000", "42"):
        assert (await gis.get(f"/ogc/collections/events/items/{missing}")).status_code == 404
    # An editor of another partnership sees none of these events: its key is passed on, not the service key.
    editor = await new_key(engine, Scope.editor, ["00000000-0000-0000-0000-0000000000aa"])
    async with _client(apps["gis"], editor) as as_editor:
        assert (await as_editor.get("/ogc/collections/events/items")).json()["features"] == []
        hidden = await as_editor.get(f"/ogc/collections/events/items/{city['located']['id']}")
        assert hidden.status_code == 404
    feed = await new_key(engine, Scope.feed)
    async with _client(apps["gis"], feed) as as_feed:
        refused = await as_feed.get("/ogc/collections/events/items")
        assert refused.status_code == 403 and refused.json()["code"] == "Forbidden"


async def test_incident_counts_are_a_complete_suppressed_grid(gis: httpx.AsyncClient, city: dict[str, Any]) -> None:
    page = (await gis.get("/ogc/collections/incident-counts/items", params={"limit": 4})).json()
    assert (page["numberMatched"], page["numberReturned"]) == (6, 4)
    features = await _all(gis, "/ogc/collections/incident-counts/items", limit=4)
    cells = {(f["properties"]["neighbourhood_id"], f["properties"]["month"]): f for f in features}
    n1, n2 = city["n1"]["id"], city["n2"]["id"]
    assert len(features) == 6 and [f["properties"]["month"] for f in features][::2] == ["2025-03", "2025-02", "2025-01"]
    counts = {
        k: {p: f["properties"][p] for p in ("incidents", "incidents_assault", "incidents_theft")}
        for k, f in cells.items()
    }
    # January: n1's theft 3 is small, and its assault 6 would be 9 - 3: both go; n2's 8 thefts stay.
    assert counts[(n1, "2025-01")] == {"incidents": 9, "incidents_assault": None, "incidents_theft": None}
    assert counts[(n2, "2025-01")] == {"incidents": 8, "incidents_assault": 0, "incidents_theft": 8}
    assert counts[(n1, "2025-02")] == {"incidents": 7, "incidents_assault": 0, "incidents_theft": 7}
    assert counts[(n2, "2025-02")] == {"incidents": 0, "incidents_assault": 0, "incidents_theft": 0}
    assert counts[(n2, "2025-03")] == {"incidents": 5, "incidents_assault": 5, "incidents_theft": 0}
    jan = cells[(n1, "2025-01")]
    assert jan["geometry"] == city["n1"]["boundary"] and jan["id"] == f"{n1}_2025-01"
    assert (jan["properties"]["month_start"], jan["properties"]["month_end"]) == ("2025-01-01", "2025-01-31")


async def test_incident_counts_by_month_box_and_one_feature(gis: httpx.AsyncClient, city: dict[str, Any]) -> None:
    async def cells(**params: str) -> set[tuple[str, str]]:
        found = await _all(gis, "/ogc/collections/incident-counts/items", **params)
        return {(f["properties"]["neighbourhood"], f["properties"]["month"]) for f in found}

    n1, n2 = city["n1"]["name"], city["n2"]["name"]
    assert await cells(datetime="2025-02-15T12:00:00Z") == {(n1, "2025-02"), (n2, "2025-02")}
    assert await cells(datetime="2025-02-01T03:00:00Z/..") == {
        (h, m) for h in (n1, n2) for m in ("2025-01", "2025-02", "2025-03")
    }
    assert await cells(bbox=_box(city["n2"]), datetime="../2025-01-31") == {(n2, "2025-01")}
    fid = f"{city['n2']['id']}_2025-03"
    one = await gis.get(f"/ogc/collections/incident-counts/items/{fid}")
    assert one.status_code == 200 and one.json()["properties"]["incidents_assault"] == 5
    for missing in (f"{city['n2']['id']}_2024-12", "00000000-0000-0000-0000-000000000000_2025-01", "x"):
        assert (await gis.get(f"/ogc/collections/incident-counts/items/{missing}")).status_code == 404
    r = await gis.get("/ogc/collections/incident-counts/items", params={"cursor": "nonsense"})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue"


async def test_a_service_away_or_no_service_key_is_503_and_the_rest_still_works(
    apps: dict[str, Any], city: dict[str, Any]
) -> None:
    down = {"events_transport": httpx.MockTransport(_down), "metrics_transport": httpx.MockTransport(_down)}
    stack: AsyncExitStack = apps["stack"]
    for app in (await _gis_app(stack, "cpted_unused", **down), await _gis_app(stack, None, **apps["wired"])):
        async with _client(app) as gis:
            for collection in ("events", "incident-counts"):
                r = await gis.get(f"/ogc/collections/{collection}/items")
                assert r.status_code == 503 and r.json()["code"] == "ServiceUnavailable", r.text
                assert int(r.headers["retry-after"]) > 0
            listed = await gis.get("/ogc/collections")
            assert listed.status_code == 200
            counts = next(c for c in listed.json()["collections"] if c["id"] == "incident-counts")
            assert "temporal" not in counts["extent"]
            assert (await gis.get("/ogc/collections/audits/items")).status_code == 200


async def test_the_metrics_endpoint_answers_monthly_cells(
    metrics_api: httpx.AsyncClient, apps: dict[str, Any], city: dict[str, Any]
) -> None:
    r = await metrics_api.get("/v1/crime-incidents/counts", params={"from": "2025-01", "to": "2025-02"})
    assert r.status_code == 200, r.text
    assert {(i["neighbourhood_id"], i["month"], i["category"], i["incidents"]) for i in r.json()["items"]} == {
        (city["n1"]["id"], "2025-01", "assault", 6),
        (city["n1"]["id"], "2025-01", "theft", 3),
        (city["n1"]["id"], "2025-02", "theft", 7),
        (city["n2"]["id"], "2025-01", "theft", 8),
    }
    only = {"from": "2025-01", "to": "2025-03", "neighbourhood_id": city["n2"]["id"], "categories": "Assault"}
    assert [i["month"] for i in (await metrics_api.get("/v1/crime-incidents/counts", params=only)).json()["items"]] == [
        "2025-03"
    ]
    extent = (await metrics_api.get("/v1/crime-incidents/counts/extent")).json()
    assert extent == {"first_month": "2025-01", "last_month": "2025-03", "categories": ["assault", "theft"]}
    for bad in (
        {"from": "2025-03", "to": "2025-01"},
        {"from": "2025-13", "to": "2025-14"},
        {"from": "0000-01", "to": "0000-01"},
        {"from": "2025-01"},
    ):
        assert (await metrics_api.get("/v1/crime-incidents/counts", params=bad)).status_code == 422
    async with _client(apps["metrics"]) as keyless:
        assert (await keyless.get("/v1/crime-incidents/counts/extent")).status_code == 401
