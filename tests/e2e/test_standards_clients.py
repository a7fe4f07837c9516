"""What a city's own tools do, against the real audits process: Open311 and OGC API - Features clients.

Clients: ``georeport`` (a GeoReport v2 client; it has no POST, so the POST is
the specification's own form request), OWSLib's ``ogcapi.features.Features``,
and GDAL's OAPIF driver (the one QGIS-style desktop GIS builds on) through pyogrio.
The collections ``events`` and ``incident-counts`` come from the events and
metrics processes, read by the audits process with the service key.
"""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pyogrio
import pytest
import requests
import schemathesis
from georeport import GeoReport
from hypothesis import HealthCheck, given, settings
from owslib.ogcapi.features import Features
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories
from tests.e2e.processes import Platform
from tests.integration.events.factories import event

pytestmark = pytest.mark.e2e
ALL_COLLECTIONS = {"neighbourhoods", "audits", "recommendations", "audit-requests", "events", "incident-counts"}


def _centre(neighbourhood: dict[str, Any]) -> list[float]:
    ring = neighbourhood["boundary"]["coordinates"][0]
    return [(ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2]


@pytest.fixture(scope="module")
def city(platform: Platform) -> dict[str, Any]:
    """Two neighbourhoods, an audit in each (one with a site point), recommendations, one implemented."""
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    with httpx.Client(base_url=platform.url("audits"), headers=headers, timeout=30) as api:
        n1 = api.post("/v1/neighbourhoods", json=factories.neighbourhood()).json()
        n2 = api.post("/v1/neighbourhoods", json=factories.neighbourhood()).json()
        p = api.post("/v1/partnerships", json=factories.partnership([n1["id"], n2["id"]])).json()
        a1 = api.post("/v1/audits", json=factories.audit(p["id"], n1["id"])).json()
        site = {"type": "Point", "coordinates": _centre(n2)}
        a2 = api.post(
            "/v1/audits", json=factories.audit(p["id"], n2["id"], location=site, site_name="Park path")
        ).json()
        recs = {}
        for audit, category in ((a1, "lighting"), (a1, "landscaping"), (a2, "traffic_calming"), (a2, "surveillance")):
            body = factories.recommendation(category=category)
            recs[category] = api.post(f"/v1/audits/{audit['id']}/recommendations", json=body).json()
        url = f"/v1/recommendations/{recs['lighting']['id']}/transitions"
        for to, on in (("accepted", "2025-05-01"), ("in_progress", "2025-06-01"), ("implemented", "2025-07-01")):
            api.post(url, json={"to": to, "on": on, "note": "LED lights installed" if to == "implemented" else None})
    return {"n1": n1, "n2": n2, "a1": a1, "a2": a2, "recs": recs, "p": p}


@pytest.fixture(scope="module")
def happenings(platform: Platform, city: dict[str, Any]) -> dict[str, Any]:
    """A festival in n2 and a cancelled outreach evening at n1's centroid; crime incidents of n1 in January 2025
    (6 thefts, 2 assaults) and of n2 in February (5 thefts)."""
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    with httpx.Client(base_url=platform.url("events"), headers=headers, timeout=30) as api:
        site = {"type": "Point", "coordinates": _centre(city["n2"])}
        festival = api.post("/v1/events", json=event([city["p"]["id"]], location=site)).json()
        body = event([city["p"]["id"]], neighbourhood_id=city["n1"]["id"], kind="outreach", status="cancelled")
        cancelled = api.post("/v1/events", json=body | {"starts_at": "2025-03-04T18:00:00-05:00", "ends_at": None})
    plan = [("n1", "Theft", "2025-01-1", 6), ("n1", "Assault", "2025-01-2", 2), ("n2", "Theft", "2025-02-1", 5)]
    incidents = [
        {"external_id": f"{hood}-{category}-{day}{n}", "source": "wps", "category": category,
         "occurred_at": f"{day}{n}T12:00:00-05:00", "neighbourhood_id": city[hood]["id"]}
        for hood, category, day, count in plan for n in range(count)
    ]  # fmt: skip
    posted = httpx.post(f"{platform.url('metrics')}/v1/crime-incidents", json=incidents, headers=headers, timeout=30)
    assert posted.status_code == 201, posted.text
    return {"festival": festival, "cancelled": cancelled.json()}


def test_a_georeport_client_lists_and_reads_recommendations(platform: Platform, city: dict[str, Any]) -> None:
    client = GeoReport(f"{platform.url('audits')}/open311/v2", jurisdiction="cpted.example.org")
    codes = {s["service_code"] for s in client.get_service_list()}
    assert {"lighting", "cpted_audit_request"} <= codes and "surveillance" not in codes
    definition = client.get_service_definition("cpted_audit_request")
    assert [a["code"] for a in definition["attributes"]] == ["place", "concern"]
    closed = client.get_service_requests(service_code="lighting", status="closed")
    assert [(r["service_request_id"], r["status_notes"]) for r in closed] == [
        (city["recs"]["lighting"]["id"], "LED lights installed")
    ]
    one = client.get_service_request(city["recs"]["traffic_calming"]["id"])
    assert (one["lat"], one["long"]) == pytest.approx(tuple(reversed(_centre(city["n2"]))))


def test_the_same_client_reads_the_xml_format(platform: Platform, city: dict[str, Any]) -> None:
    client = GeoReport(f"{platform.url('audits')}/open311/v2", output_format="xml")
    assert "cpted_audit_request" in {s["service_code"] for s in client.get_service_list()}
    one = client.get_service_request(city["recs"]["landscaping"]["id"])
    assert (one["service_code"], one["status"]) == ("landscaping", "open")


def test_a_311_system_posts_an_audit_request_that_reaches_the_totals(platform: Platform, city: dict[str, Any]) -> None:
    base = f"{platform.url('audits')}/open311/v2"
    form = {
        "api_key": platform.api_key,  # type: ignore[attr-defined]
        "jurisdiction_id": "cpted.example.org",
        "service_code": "cpted_audit_request",
        "lat": str(_centre(city["n1"])[1]),
        "long": str(_centre(city["n1"])[0]),
        "address_string": "Alley behind 600 Glengarry Ave",
        "description": "The alley is dark at night",
        "email": "dana@example.org",
        "attribute[concern]": "lighting",
    }
    posted = requests.post(f"{base}/requests.json", data=form, timeout=30)
    assert posted.status_code == 200, posted.text
    request_id = posted.json()[0]["service_request_id"]
    seen = GeoReport(base).get_service_request(request_id)
    assert (seen["service_code"], seen["status"]) == ("cpted_audit_request", "open")
    assert "dana@example.org" not in requests.get(f"{base}/requests.json", timeout=30).text
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    deadline, totals = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        totals = httpx.get(f"{platform.url('metrics')}/v1/totals", headers=headers).json()
        if totals["audit_requests"] == 1:
            break
        time.sleep(0.2)
    assert (totals["audit_requests"], totals["audit_requests_open"]) == (1, 1)


def test_owslib_reads_the_collections_and_features(platform: Platform, city: dict[str, Any]) -> None:
    api = Features(f"{platform.url('audits')}/ogc/")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in api.conformance()["conformsTo"]
    assert set(api.feature_collections()) == ALL_COLLECTIONS
    assert api.api()["openapi"].startswith("3.0")
    page = api.collection_items("recommendations", limit=2)
    assert (page["numberMatched"], page["numberReturned"]) == (3, 2)  # surveillance is not public
    ring = city["n2"]["boundary"]["coordinates"][0]
    in_n2 = api.collection_items("audits", bbox=[ring[0][0], ring[0][1], ring[2][0], ring[2][1]])
    assert [f["id"] for f in in_n2["features"]] == [city["a2"]["id"]]
    dated = api.collection_items("audits", datetime_="2025-04-10T12:00:00Z")
    assert dated["numberMatched"] == 2
    one = api.collection_item("recommendations", city["recs"]["lighting"]["id"])
    assert one["properties"]["status"] == "implemented"


def test_gdal_adds_the_collections_as_layers(platform: Platform, city: dict[str, Any]) -> None:
    source = f"OAPIF:{platform.url('audits')}/ogc"
    layers = {name: kind for name, kind in pyogrio.list_layers(source)}
    assert set(layers) == ALL_COLLECTIONS
    info = pyogrio.read_info(source, layer="recommendations")
    assert {"category", "status"} <= set(info["fields"]) and "4326" in (info["crs"] or "")
    meta, _, geometry, values = pyogrio.raw.read(source, layer="recommendations", PAGE_SIZE=1)
    categories = sorted(values[list(meta["fields"]).index("category")])
    assert categories == ["landscaping", "lighting", "traffic_calming"] and all(g is not None for g in geometry)
    ring = city["n2"]["boundary"]["coordinates"][0]
    box = (ring[0][0], ring[0][1], ring[2][0], ring[2][1])
    meta, _, _, values = pyogrio.raw.read(source, layer="audits", bbox=box)
    assert list(values[list(meta["fields"]).index("site_name")]) == ["Park path"]
    meta, _, geometry, _ = pyogrio.raw.read(source, layer="neighbourhoods")
    assert len(geometry) == 2 and meta["geometry_type"] in ("Polygon", "Unknown")


def test_owslib_reads_events_and_incident_counts(
    platform: Platform, city: dict[str, Any], happenings: dict[str, Any]
) -> None:
    api = Features(f"{platform.url('audits')}/ogc/")
    assert "suppressed" in api.collection("incident-counts")["description"]
    cancelled = api.collection_items("events", status="cancelled")
    [feature] = cancelled["features"]
    assert (feature["id"], feature["properties"]["location_source"]) == (
        happenings["cancelled"]["id"],
        "neighbourhood_centroid",
    )
    assert feature["geometry"]["coordinates"] == pytest.approx(_centre(city["n1"]))
    in_march = api.collection_items("events", datetime_="2025-03-01T00:00:00Z/2025-03-31T00:00:00Z")
    assert [f["id"] for f in in_march["features"]] == [happenings["cancelled"]["id"]]
    counts = api.collection_items("incident-counts", limit=10)
    assert (counts["numberMatched"], counts["numberReturned"]) == (4, 4)  # two neighbourhoods, two months
    one = api.collection_item("incident-counts", f"{city['n1']['id']}_2025-01")
    # 2 assaults are suppressed, and with them the 6 thefts (8 - 6 would give them back); the total stays.
    assert {k: one["properties"][k] for k in ("incidents", "incidents_assault", "incidents_theft")} == {
        "incidents": 8,
        "incidents_assault": None,
        "incidents_theft": None,
    }
    february = api.collection_items("incident-counts", datetime_="2025-02-10T12:00:00Z", bbox=_box(city["n2"]))
    assert [f["properties"]["incidents_theft"] for f in february["features"]] == [5]


def _box(hood: dict[str, Any]) -> list[float]:
    ring = hood["boundary"]["coordinates"][0]
    return [ring[0][0], ring[0][1], ring[2][0], ring[2][1]]


def test_gdal_reads_events_and_incident_counts_as_layers(
    platform: Platform, city: dict[str, Any], happenings: dict[str, Any]
) -> None:
    source = f"OAPIF:{platform.url('audits')}/ogc"
    meta, _, geometry, values = pyogrio.raw.read(source, layer="events", PAGE_SIZE=1)
    fields = list(meta["fields"])
    assert sorted(values[fields.index("status")]) == ["cancelled", "held"] and all(g is not None for g in geometry)
    meta, _, geometry, values = pyogrio.raw.read(source, layer="incident-counts")
    fields = list(meta["fields"])
    assert {"neighbourhood", "month", "incidents", "incidents_theft", "incidents_assault"} <= set(fields)
    months = sorted(str(m)[:7] for m in values[fields.index("month")])
    assert months == ["2025-01", "2025-01", "2025-02", "2025-02"] and len(geometry) == 4
    names, thefts = values[fields.index("neighbourhood")], values[fields.index("incidents_theft")]
    n1_thefts = [float(t) for t, n in zip(thefts, names, strict=True) if n == city["n1"]["name"]]
    # n1: January's 6 thefts suppressed (null, read as NaN), none in February.
    assert sorted(map(math.isnan, n1_thefts)) == [False, True] and 0 in n1_thefts
    meta, _, _, values = pyogrio.raw.read(source, layer="incident-counts", bbox=tuple(_box(city["n2"])))
    assert len(values[0]) == 2


def test_the_ogc_api_keeps_the_promises_of_its_own_openapi_30_definition(
    platform: Platform, city: dict[str, Any], happenings: dict[str, Any]
) -> None:
    """oas30: the server implements what ``/ogc/api`` says, status codes, media types and bodies included."""
    schema = schemathesis.openapi.from_url(f"{platform.url('audits')}/ogc/api")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures = []
    for operation in [result.ok() for result in schema.get_all_operations()]:

        @settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=platform.url("audits"), checks=checks, timeout=30)

        try:
            exercise()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
