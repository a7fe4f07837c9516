"""Bad input is a 422 (or 404) problem naming what is wrong, never a 500, on the real services.

Nulls for fields a record cannot be without, numbers beyond what PostgreSQL stores, stream ids
beyond what Redis has, NaN and Infinity in coordinates, and loosely typed JSON bodies.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.integration.events import factories as events_factories
from tests.integration.events.conftest import events_client

PROBLEM = "application/problem+json"


def fields_of(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == PROBLEM, response.text
    return [e["field"] for e in response.json()["errors"]]


@pytest.fixture
async def events_api(admin_key: str, audits_api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async for client in events_client(admin_key):
        yield client


@pytest.fixture
async def records(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, world: dict[str, Any]
) -> dict[str, str]:
    """One record of every kind that can be changed with PATCH, by its path."""
    audit = world["audit"]["id"]
    rec = await audits_api.post(f"/v1/audits/{audit}/recommendations", json=factories.recommendation())
    request = await audits_api.post("/v1/audit-requests", json={"place": "Alley", "description": "Dark at night"})
    p = world["partnership"]["id"]
    event = await events_api.post("/v1/events", json=events_factories.event([p]))
    material = await events_api.post("/v1/materials", json=events_factories.material())
    stakeholder = await events_api.post(
        "/v1/stakeholders",
        json={"partnership_id": p, "name": "Glengarry BIA", "kind": "bia", "connected_on": "2025-01-10"},
    )
    created = [rec, request, event, material, stakeholder]
    assert all(r.status_code == 201 for r in created), [r.text for r in created]
    return {
        "audits": f"/v1/audits/{audit}",
        "neighbourhoods": f"/v1/neighbourhoods/{world['n1']['id']}",
        "partnerships": f"/v1/partnerships/{p}",
        "recommendations": f"/v1/recommendations/{rec.json()['id']}",
        "audit-requests": f"/v1/audit-requests/{request.json()['id']}",
        "events": f"/v1/events/{event.json()['id']}",
        "materials": f"/v1/materials/{material.json()['id']}",
        "stakeholders": f"/v1/stakeholders/{stakeholder.json()['id']}",
    }


# Every field of every PATCH body that the record cannot be without.
REQUIRED = {
    "audits": ["site_name", "conducted_on", "auditors", "trigger", "findings", "status"],
    "neighbourhoods": ["name", "municipality", "boundary"],
    "partnerships": [
        "name",
        "police_service",
        "neighbourhood_ids",
        "safety_committees",
        "business_improvement_areas",
        "status",
    ],
    "recommendations": ["category", "description", "priority"],
    "audit-requests": ["place", "description", "status"],
    "events": ["partnership_ids", "name", "kind", "special", "starts_at", "officers_attending", "status"],
    "materials": ["slug", "kind", "topic", "source_language", "published_on", "translations"],
    "stakeholders": ["name", "kind", "connected_on", "status"],
}
# And those that null empties.
CLEARABLE = {
    "audits": ["location"],
    "neighbourhoods": ["population"],
    "partnerships": ["formalized_on"],
    "recommendations": ["responsible_party", "expected_on", "status_note"],
    "audit-requests": ["location", "reason"],
    "events": ["ends_at", "neighbourhood_id", "location", "attendance", "description"],
    "stakeholders": ["neighbourhood_id", "notes"],
}


def _api(kind: str, audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient) -> httpx.AsyncClient:
    return events_api if kind in ("events", "materials", "stakeholders") else audits_api


async def test_null_for_a_field_a_record_cannot_be_without_is_a_422_naming_it(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, records: dict[str, str]
) -> None:
    for kind, names in REQUIRED.items():
        api = _api(kind, audits_api, events_api)
        for name in names:
            r = await api.patch(records[kind], json={name: None})
            assert r.status_code == 422, (kind, name, r.text)
            assert fields_of(r) == [f"body.{name}"]
    r = await audits_api.patch(records["audits"], json={"auditors": None, "location": None})
    assert r.status_code == 422
    assert fields_of(r) == ["body.auditors"]
    assert (await audits_api.get(records["audits"])).json()["version"] == 1


async def test_null_still_empties_what_may_be_empty(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, records: dict[str, str]
) -> None:
    for kind, names in CLEARABLE.items():
        api = _api(kind, audits_api, events_api)
        for name in names:
            r = await api.patch(records[kind], json={name: None})
            assert r.status_code == 200, (kind, name, r.text)
            assert r.json()[name] is None


async def test_the_openapi_document_offers_null_only_where_it_empties_a_field(audits_api: httpx.AsyncClient) -> None:
    schemas = (await audits_api.get("/openapi.json")).json()["components"]["schemas"]
    audit = schemas["AuditUpdate"]["properties"]
    assert audit["site_name"]["type"] == "string"
    assert "anyOf" not in audit["site_name"]
    assert {"type": "null"} in audit["location"]["anyOf"]


@pytest.mark.parametrize("service", ["audits", "events"])
@pytest.mark.parametrize(
    ("path", "parameter"), [("/v1/audit-trail", "before_position"), ("/v1/outbox", "after")], ids=["trail", "outbox"]
)
async def test_a_log_position_beyond_bigint_is_a_422_naming_it(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, service: str, path: str, parameter: str
) -> None:
    api = audits_api if service == "audits" else events_api
    for beyond in ("10317884093336169480192", str(2**63)):
        r = await api.get(path, params={parameter: beyond})
        assert r.status_code == 422, r.text
        assert fields_of(r) == [f"query.{parameter}"]
    assert (await api.get(path, params={parameter: "1"})).status_code == 200


async def test_a_dead_letter_id_no_stream_can_hold_is_not_found(metrics_api: httpx.AsyncClient) -> None:
    assert (await metrics_api.get("/v1/bus/dead-letters")).status_code == 200
    for letter in ("99999999999999999999-0", "1-99999999999999999999"):
        r = await metrics_api.post(f"/v1/bus/dead-letters/{letter}/retry")
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == PROBLEM
    r = await metrics_api.get("/v1/bus/dead-letters", params={"cursor": "99999999999999999999-0"})
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["query.cursor"]


def _raw(body: str) -> dict[str, Any]:
    """JSON text as a client may write it (Python's json writes NaN and Infinity; httpx's json= refuses)."""
    return {"content": body.encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_no_coordinates(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, world: dict[str, Any], number: str
) -> None:
    ring = f"[[-83.0, 42.0, {number}], [-82.99, 42.0, 1], [-82.99, 42.01, 1], [-83.0, 42.0, 1]]"
    hood = '{"name": "X", "municipality": "Windsor", "boundary": {"type": "Polygon", "coordinates": [' + ring + "]}}"
    r = await audits_api.post("/v1/neighbourhoods", **_raw(hood))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["body.boundary.Polygon.coordinates.0.0.2"]

    point = f'{{"type": "Point", "coordinates": [-83.0, 42.3, {number}]}}'
    audit = orjson.dumps(factories.audit(world["partnership"]["id"], world["n1"]["id"])).decode()
    r = await audits_api.post("/v1/audits", **_raw(audit[:-1] + f', "location": {point}}}'))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["body.location.coordinates.2"]
    r = await audits_api.patch(f"/v1/audits/{world['audit']['id']}", **_raw(f'{{"location": {point}}}'))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["body.location.coordinates.2"]

    event = orjson.dumps(events_factories.event([world["partnership"]["id"]])).decode()
    r = await events_api.post("/v1/events", **_raw(event[:-1] + f', "location": {point}}}'))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["body.location.coordinates.2"]


async def test_exports_and_ogc_items_read_geometries_stored_with_a_null_elevation(
    audits_api: httpx.AsyncClient, keyless_audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    """Before NaN was refused it was stored as null: such rows must not break a single export."""
    located = factories.audit(world["partnership"]["id"], world["n1"]["id"], site_name="Lane")
    located["location"] = {"type": "Point", "coordinates": [-83.04, 42.305]}
    audit_id = (await audits_api.post("/v1/audits", json=located)).json()["id"]
    request = {"place": "Lane", "description": "Dark", "location": {"type": "Point", "coordinates": [-83.04, 42.305]}}
    request_id = (await audits_api.post("/v1/audit-requests", json=request)).json()["id"]
    async with engine.begin() as conn:
        boundary = dict(world["n1"]["boundary"])
        boundary["coordinates"] = [[[*p, None] for p in ring] for ring in boundary["coordinates"]]
        await conn.execute(
            text("UPDATE audits.neighbourhood SET boundary = CAST(:b AS jsonb) WHERE id = :id"),
            {"b": orjson.dumps(boundary).decode(), "id": uuid.UUID(world["n1"]["id"])},
        )
        bad_point = orjson.dumps({"type": "Point", "coordinates": [-83.04, 42.305, None]}).decode()
        for table, id_ in (("audit", audit_id), ("audit_request", request_id)):
            await conn.execute(
                text(f"UPDATE audits.{table} SET location = CAST(:p AS jsonb) WHERE id = :id"),
                {"p": bad_point, "id": uuid.UUID(id_)},
            )
    for path in (
        "/v1/audits/export.csv",
        "/v1/audits/export.geojson",
        "/v1/recommendations/export.csv",
        "/v1/recommendations/export.geojson",
    ):
        r = await audits_api.get(path)
        assert r.status_code == 200, (path, r.text)
    for collection in ("neighbourhoods", "audits", "recommendations", "audit-requests"):
        r = await keyless_audits_api.get(f"/ogc/collections/{collection}/items")
        assert r.status_code == 200, (collection, r.text)
        for feature in r.json()["features"]:
            assert "null" not in orjson.dumps(feature["geometry"]).decode()
    assert (await keyless_audits_api.get("/ogc/collections")).status_code == 200
    hood_id = world["n1"]["id"]
    for path in (f"/v1/audits/{audit_id}", f"/v1/audit-requests/{request_id}", f"/v1/neighbourhoods/{hood_id}"):
        r = await audits_api.get(path)
        assert r.status_code == 200, (path, r.text)
        place = r.json().get("location") or r.json()["boundary"]
        assert "null" not in orjson.dumps(place).decode(), path  # positions are served as two or three numbers


async def test_json_bodies_are_read_strictly(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    p, n = world["partnership"]["id"], world["n1"]["id"]
    finding = {"principle": "natural_surveillance", "rating": "3"}
    loose = [
        ("findings.0.rating", factories.audit(p, n, findings=[finding])),
        ("findings.0.rating", factories.audit(p, n, findings=[finding | {"rating": 3.0}])),
        ("conducted_on", factories.audit(p, n, conducted_on="2025-04-10T00:00:00")),
        ("conducted_on", factories.audit(p, n, conducted_on=1744243200)),
        ("location.coordinates.0", factories.audit(p, n, location={"type": "Point", "coordinates": ["-83.0", 42.3]})),
    ]
    for field, body in loose:
        r = await audits_api.post("/v1/audits", json=body)
        assert r.status_code == 422, (field, r.text)
        assert fields_of(r) == [f"body.{field}"]
    r = await events_api.post("/v1/events", json=events_factories.event([p], special="yes"))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["body.special"]
    r = await events_api.post("/v1/events", json=events_factories.event([p], officers_attending="4"))
    assert fields_of(r) == ["body.officers_attending"]
    audit = f"/v1/audits/{world['audit']['id']}"
    r = await audits_api.patch(audit, json={"conducted_on": "2025-04-09T00:00:00"})
    assert fields_of(r) == ["body.conducted_on"]
    # What JSON can only write as strings still comes as strings: ids, dates, times, enumerations.
    r = await audits_api.post("/v1/audits", json=factories.audit(p, n, id=str(uuid.uuid4())))
    assert r.status_code == 201, r.text
    r = await audits_api.patch(audit, json={"conducted_on": "2025-04-09", "trigger": "resident_request"})
    assert r.status_code == 200, r.text
    assert (await events_api.post("/v1/events", json=events_factories.event([p]))).status_code == 201
    # Query strings are text: they stay lax.
    listed = await audits_api.get("/v1/audits", params={"limit": "2", "conducted_from": "2025-01-01"})
    assert listed.status_code == 200


async def test_times_and_days_at_the_edge_of_the_calendar_are_a_422_naming_them(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient
) -> None:
    """A time zone offset or a day added to them would carry them past what Python and PostgreSQL hold."""
    cases = [
        (audits_api, "/v1/audit-trail", "since", "9999-12-31T23:59:59-23:59"),
        (audits_api, "/v1/audit-trail", "since", "0001-01-01T00:00:00+23:59"),
        (audits_api, "/v1/audit-requests", "received_from", "9999-12-31T23:59:59-23:59"),
        (audits_api, "/v1/audit-requests", "received_to", "0001-01-01T00:00:00+23:59"),
        (events_api, "/v1/events", "to", "9999-12-31"),
        (events_api, "/v1/events", "from", "0001-01-01"),
    ]
    for api, path, parameter, value in cases:
        r = await api.get(path, params={parameter: value})
        assert r.status_code == 422, (path, parameter, r.text)
        assert fields_of(r) == [f"query.{parameter}"]
    for path, body in (
        ("/v1/keys", {"name": "GIS", "scope": "reader", "expires_at": "0001-01-01T00:00:00+23:59"}),
        ("/v1/audit-requests", {"place": "Alley", "description": "Dark", "received_at": "0001-01-01T00:00:00+23:59"}),
    ):
        r = await audits_api.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert fields_of(r) == [f"body.{next(k for k in body if k.endswith('_at'))}"]


async def test_a_nul_in_a_query_or_path_parameter_is_a_422_naming_it(
    audits_api: httpx.AsyncClient, events_api: httpx.AsyncClient, metrics_api: httpx.AsyncClient
) -> None:
    """PostgreSQL text holds no NUL: a filter with one failed in the database."""
    cases = [
        (events_api, "/v1/distributions", "agency"),
        (metrics_api, "/v1/crime-incidents", "source"),
        (audits_api, "/v1/neighbourhoods", "name"),
        (audits_api, "/v1/audit-trail", "actor"),
    ]
    for api, path, parameter in cases:
        r = await api.get(path, params={parameter: "Windsor\x00Police"})
        assert r.status_code == 422, (path, r.text)
        assert fields_of(r) == [f"query.{parameter}"]
    # The open standards answer in their own formats, never problem+json.
    r = await audits_api.get("/open311/v2/tokens/a%00b.json")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json")
