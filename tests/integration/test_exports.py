"""Lifecycle exports on real PostgreSQL: CSV columns and quoting, the lists' filters, GeoJSON for a GIS."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from services.audits.core.domain.exports import AUDIT_COLUMNS, RECOMMENDATION_COLUMNS
from tests import factories, images
from tests.integration.conftest import schema_errors

TRICKY = 'Relamp "Rue Ouellette", north side;\nthen trim the hedges, café côté'


async def _step(api: httpx.AsyncClient, rec_id: str, *steps: tuple[str, str]) -> None:
    for to, on in steps:
        r = await api.post(f"/v1/recommendations/{rec_id}/transitions", json={"to": to, "on": on})
        assert r.status_code == 200, r.text


@pytest.fixture
async def lifecycle(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> Any:
    """Four recommendations of the world's audit (2025-04-10), at four points of their lives."""
    audit_id = world["audit"]["id"]

    async def add(**body: Any) -> str:
        r = await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation(**body))
        return str(r.json()["id"])

    done = await add(description=TRICKY, expected_on="2025-08-01")
    await _step(
        audits_api, done, ("accepted", "2025-05-01"), ("in_progress", "2025-06-01"), ("implemented", "2025-07-01")
    )
    reopened = await add(category="traffic_calming", responsible_party='=HYPERLINK("http://x")')
    await _step(audits_api, reopened, ("deferred", "2025-05-02"), ("accepted", "2025-09-01"))
    declined = await add(category="landscaping")
    await _step(audits_api, declined, ("declined", "2025-05-03"))
    proposed = await add(category="signage", priority="low")
    await audits_api.post(
        f"/v1/recommendations/{done}/photos", files={"file": ("done.jpg", images.jpeg((64, 64)), "image/jpeg")}
    )
    return {"done": done, "reopened": reopened, "declined": declined, "proposed": proposed, "audit": audit_id}


def _rows(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    return list(reader.fieldnames or []), list(reader)


async def test_every_step_of_every_recommendation_has_its_own_column(
    audits_api: httpx.AsyncClient, world: dict[str, Any], lifecycle: dict[str, str]
) -> None:
    r = await audits_api.get("/v1/recommendations/export.csv")
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="recommendations-')
    assert b"\r\n" in r.content and not r.content.startswith(b"\xef\xbb\xbf")
    header, rows = _rows(r)
    assert header == RECOMMENDATION_COLUMNS
    by_id = {row["id"]: row for row in rows}
    done = by_id[lifecycle["done"]]
    assert done["description"] == TRICKY  # quotes, separators and a line break survive
    assert (done["proposed_on"], done["accepted_on"], done["in_progress_on"], done["implemented_on"]) == (
        "2025-04-10", "2025-05-01", "2025-06-01", "2025-07-01",
    )  # fmt: skip
    assert done["declined_on"] == done["deferred_on"] == "" and done["expected_on"] == "2025-08-01"
    assert done["photos"] == "1" and done["partnership"] == world["partnership"]["name"]
    assert done["neighbourhood"] == world["n1"]["name"] and done["site_name"] == world["audit"]["site_name"]
    reopened = by_id[lifecycle["reopened"]]
    assert (reopened["status"], reopened["deferred_on"], reopened["accepted_on"]) == (
        "accepted", "2025-05-02", "2025-09-01",
    )  # fmt: skip
    assert reopened["history"] == "deferred 2025-05-02; accepted 2025-09-01"
    assert reopened["responsible_party"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert by_id[lifecycle["declined"]]["declined_on"] == "2025-05-03"
    assert by_id[lifecycle["proposed"]]["accepted_on"] == ""


async def test_the_export_takes_the_lists_filters(
    audits_api: httpx.AsyncClient, lifecycle: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.audits.core.handlers import exports

    monkeypatch.setattr(exports, "PAGE", 2)  # several pages, streamed one after the other
    everything = _rows(await audits_api.get("/v1/recommendations/export.csv"))[1]
    listed = (await audits_api.get("/v1/recommendations", params={"limit": 500})).json()["items"]
    assert [row["id"] for row in everything] == [item["id"] for item in listed]
    for params in ({"status": "accepted"}, {"category": "landscaping"}, {"priority": "low"}):
        exported = _rows(await audits_api.get("/v1/recommendations/export.csv", params=params))[1]
        expected = (await audits_api.get("/v1/recommendations", params=params)).json()["items"]
        assert [row["id"] for row in exported] == [item["id"] for item in expected] and exported


async def test_a_filter_matching_nothing_gives_the_header_alone(
    audits_api: httpx.AsyncClient, lifecycle: dict[str, str]
) -> None:
    r = await audits_api.get("/v1/recommendations/export.csv", params={"status": "declined", "category": "signage"})
    assert r.status_code == 200 and r.text == ",".join(RECOMMENDATION_COLUMNS) + "\r\n"
    r = await audits_api.get("/v1/audits/export.csv", params={"conducted_from": "2031-01-01", "bom": "true"})
    assert r.status_code == 200 and r.content == b"\xef\xbb\xbf" + (",".join(AUDIT_COLUMNS) + "\r\n").encode()
    bad = await audits_api.get("/v1/recommendations/export.csv", params={"status": "finished"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.status"


async def test_the_audit_export_sums_up_its_recommendations(
    audits_api: httpx.AsyncClient, world: dict[str, Any], lifecycle: dict[str, str]
) -> None:
    r = await audits_api.get("/v1/audits/export.csv", params={"bom": "true"})
    assert r.content.startswith(b"\xef\xbb\xbf")
    header, [row] = _rows(r)
    assert header == AUDIT_COLUMNS
    assert row["recommendations"] == "4" and row["recommendations_accepted"] == "1"
    assert (row["recommendations_implemented"], row["recommendations_declined"]) == ("1", "1")
    assert (row["first_accepted_on"], row["first_deferred_on"], row["last_implemented_on"]) == (
        "2025-05-01", "2025-05-02", "2025-07-01",
    )  # fmt: skip
    assert row["auditors"] == "Const. A. Moreau; J. Singh" and row["findings"] == "natural_surveillance:2"
    assert row["photos"] == "1" and row["longitude"] == ""


async def test_an_editor_exports_only_its_partnerships(
    other_editor: httpx.AsyncClient, lifecycle: dict[str, str]
) -> None:
    assert _rows(await other_editor.get("/v1/recommendations/export.csv"))[1] == []
    assert (await other_editor.get("/v1/audits/export.geojson")).json()["features"] == []


async def test_geojson_exports_for_the_citys_gis(
    audits_api: httpx.AsyncClient, world: dict[str, Any], lifecycle: dict[str, str]
) -> None:
    p, n2 = world["partnership"], world["n2"]
    located = factories.audit(p["id"], n2["id"], location={"type": "Point", "coordinates": [-83.02, 42.305]})
    await audits_api.post("/v1/audits", json=located)
    r = await audits_api.get("/v1/audits/export.geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert await schema_errors(audits_api, "/v1/audits/export.geojson", r) == []
    collection = r.json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 2
    by_source = {f["properties"]["location_source"]: f for f in collection["features"]}
    assert by_source["site"]["geometry"] == {"type": "Point", "coordinates": [-83.02, 42.305]}
    centroid = by_source["neighbourhood_centroid"]
    assert centroid["id"] == lifecycle["audit"] and centroid["properties"]["recommendations_implemented"] == 1
    answer = await audits_api.get("/v1/recommendations/export.geojson", params={"status": "implemented"})
    assert await schema_errors(audits_api, "/v1/recommendations/export.geojson", answer) == []
    recs = answer.json()
    [feature] = recs["features"]
    assert feature["id"] == lifecycle["done"] and feature["geometry"]["type"] == "Point"
    props = feature["properties"]
    assert props["implemented_on"] == "2025-07-01" and props["accepted_on"] == "2025-05-01"
    assert props["description"] == TRICKY and props["photos"] == 1
