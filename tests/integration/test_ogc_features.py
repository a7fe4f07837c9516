"""OGC API - Features - Part 1: Core on real PostgreSQL: resources, media types, paging, bbox, datetime, errors."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests import factories
from tests.integration.conftest import new_key
from tests.integration.test_audit_requests_api import REQUESTER, inside, no_personal_data

GEOJSON = "application/geo+json"


@pytest.fixture
async def gis(keyless_audits_api: httpx.AsyncClient) -> httpx.AsyncClient:
    return keyless_audits_api


@pytest.fixture
async def layers(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> dict[str, Any]:
    """The world's audit (n1, no location, 2025-04-10) and a located one in n2 (2025-06-01), with recommendations;
    audit requests: one located in n2, one placed nowhere."""
    p, n2 = world["partnership"]["id"], world["n2"]
    body = factories.audit(p, n2["id"], conducted_on="2025-06-01", location=inside(n2), site_name="Park path")
    located = (await audits_api.post("/v1/audits", json=body)).json()
    recs = {}
    for audit, category in ((world["audit"], "lighting"), (located, "landscaping"), (located, "surveillance")):
        r = await audits_api.post(
            f"/v1/audits/{audit['id']}/recommendations", json={**factories.recommendation(), "category": category}
        )
        recs[category] = r.json()
    req = {"place": "Alley", "description": "Dark", "requester": REQUESTER}
    placed = (
        await audits_api.post(
            "/v1/audit-requests", json=req | {"location": inside(n2), "received_at": "2026-03-01T12:00:00Z"}
        )
    ).json()
    nowhere = (await audits_api.post("/v1/audit-requests", json=req | {"received_at": "2026-03-05T12:00:00Z"})).json()
    return {"located": located, "recs": recs, "placed": placed, "nowhere": nowhere}


async def test_the_landing_page_links_everything_a_client_needs(gis: httpx.AsyncClient) -> None:
    r = await gis.get("/ogc/")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    links = {x["rel"]: x for x in r.json()["links"]}
    assert set(links) >= {"self", "service-desc", "service-doc", "conformance", "data"}
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["data"]["href"] == "http://test/ogc/collections"
    assert (await gis.get("/ogc")).json() == r.json()
    api = await gis.get(links["service-desc"]["href"])
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert api.json()["openapi"] == "3.0.3" and "/ogc/collections/recommendations/items" in api.json()["paths"]
    assert (await gis.get(links["service-doc"]["href"])).headers["content-type"].startswith("text/html")


async def test_conformance_declares_core_geojson_and_oas30(gis: httpx.AsyncClient) -> None:
    classes = (await gis.get("/ogc/conformance")).json()["conformsTo"]
    assert {c.rsplit("/", 1)[1] for c in classes} == {"core", "geojson", "oas30"}


async def test_collections_describe_their_extent(
    gis: httpx.AsyncClient, layers: dict[str, Any], world: dict[str, Any]
) -> None:
    described = (await gis.get("/ogc/collections")).json()
    by_id = {c["id"]: c for c in described["collections"]}
    assert set(by_id) == {"neighbourhoods", "audits", "recommendations", "audit-requests", "events", "incident-counts"}
    audits = by_id["audits"]
    assert {(x["rel"], x["type"]) for x in audits["links"]} == {("self", "application/json"), ("items", GEOJSON)}
    west, south, east, north = audits["extent"]["spatial"]["bbox"][0]
    # n1's audit has no site: it is placed at n1's centroid, which the test's corner midpoint equals up to rounding
    rounding = 1e-9
    for point in (inside(world["n1"]), inside(world["n2"])):
        lon, lat = point["coordinates"]
        assert west - rounding <= lon <= east + rounding and south - rounding <= lat <= north + rounding
    assert audits["extent"]["temporal"]["interval"] == [["2025-04-10T00:00:00-04:00", "2025-06-01T23:59:59-04:00"]]
    assert (await gis.get("/ogc/collections/audits")).json() == audits
    missing = await gis.get("/ogc/collections/incidents")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


async def test_items_are_geojson_with_counts_and_points(
    gis: httpx.AsyncClient, layers: dict[str, Any], world: dict[str, Any]
) -> None:
    r = await gis.get("/ogc/collections/audits/items")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    page = r.json()
    assert (page["type"], page["numberMatched"], page["numberReturned"]) == ("FeatureCollection", 2, 2)
    by_id = {f["id"]: f for f in page["features"]}
    unlocated, located = by_id[world["audit"]["id"]], by_id[layers["located"]["id"]]
    assert unlocated["geometry"]["coordinates"] == pytest.approx(inside(world["n1"])["coordinates"])
    assert unlocated["properties"]["location_source"] == "neighbourhood_centroid"
    assert (located["geometry"], located["properties"]["location_source"]) == (inside(world["n2"]), "site")
    assert "auditors" not in located["properties"]
    hoods = (await gis.get("/ogc/collections/neighbourhoods/items")).json()["features"]
    assert {f["geometry"]["type"] for f in hoods} == {"Polygon"}


async def test_paging_follows_next_links(gis: httpx.AsyncClient, audits_api: httpx.AsyncClient, admin_key: str) -> None:
    for _ in range(5):
        await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())
    seen, url, pages = [], "/ogc/collections/neighbourhoods/items?limit=2", 0
    while url:
        page = (await gis.get(url)).json()
        assert page["numberMatched"] == 5 and page["numberReturned"] == len(page["features"]) <= 2
        seen += [f["id"] for f in page["features"]]
        url = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
        pages += 1
    assert (len(seen), len(set(seen)), pages) == (5, 5, 3)
    assert (await gis.get("/ogc/collections/neighbourhoods/items", params={"limit": 50000})).json()[
        "numberReturned"
    ] == 5
    bad = await gis.get("/ogc/collections/neighbourhoods/items", params={"limit": 0})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameterValue"


async def test_bbox_selects_by_point_or_centroid_and_keeps_unplaced_features(
    gis: httpx.AsyncClient, layers: dict[str, Any], world: dict[str, Any]
) -> None:
    ring = world["n2"]["boundary"]["coordinates"][0]
    around_n2 = f"{ring[0][0]},{ring[0][1]},{ring[2][0]},{ring[2][1]}"
    audits = (await gis.get("/ogc/collections/audits/items", params={"bbox": around_n2})).json()
    assert [f["id"] for f in audits["features"]] == [layers["located"]["id"]] and audits["numberMatched"] == 1
    ring = world["n1"]["boundary"]["coordinates"][0]
    around_n1 = f"{ring[0][0]},{ring[0][1]},{ring[2][0]},{ring[2][1]}"
    recs = (await gis.get("/ogc/collections/recommendations/items", params={"bbox": around_n1})).json()
    assert [f["properties"]["category"] for f in recs["features"]] == ["lighting"]
    requests = (await gis.get("/ogc/collections/audit-requests/items", params={"bbox": "170,-10,-170,10"})).json()
    assert [f["id"] for f in requests["features"]] == [layers["nowhere"]["id"]]  # no geometry: always matches
    assert requests["features"][0]["geometry"] is None
    hoods = (await gis.get("/ogc/collections/neighbourhoods/items", params={"bbox": around_n1 + ""})).json()
    assert world["n1"]["id"] in {f["id"] for f in hoods["features"]}
    for bad in ("1,2,3", "a,b,c,d", "-83,43,-82,42", "-200,0,0,1"):
        r = await gis.get("/ogc/collections/audits/items", params={"bbox": bad})
        assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue", bad


async def test_datetime_selects_instants_and_intervals(
    gis: httpx.AsyncClient, layers: dict[str, Any], world: dict[str, Any]
) -> None:
    async def ids(collection: str, when: str) -> set[str]:
        r = await gis.get(f"/ogc/collections/{collection}/items", params={"datetime": when})
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]}

    first, second = world["audit"]["id"], layers["located"]["id"]
    assert await ids("audits", "2025-04-10T15:00:00Z") == {first}
    assert await ids("audits", "2025-05-01T00:00:00Z/..") == {second}
    assert await ids("audits", "../2025-05-01T00:00:00Z") == {first}
    assert await ids("audits", "2025-04-01T00:00:00Z/2025-06-30T00:00:00Z") == {first, second}
    assert await ids("audits", "2025-06-01") == {second}
    assert await ids("audit-requests", "2026-03-04T00:00:00Z/") == {layers["nowhere"]["id"]}
    assert len(await ids("neighbourhoods", "1999-01-01T00:00:00Z")) == 2  # no time: always matches
    for bad in ("yesterday", "2025-04-10T15:00:00", "../..", "2025-06-01T00:00:00Z/2025-01-01T00:00:00Z"):
        r = await gis.get("/ogc/collections/audits/items", params={"datetime": bad})
        assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue", bad


async def test_properties_filter_and_unknown_parameters_are_refused(
    gis: httpx.AsyncClient, layers: dict[str, Any]
) -> None:
    page = (await gis.get("/ogc/collections/recommendations/items", params={"category": "landscaping"})).json()
    assert [f["properties"]["category"] for f in page["features"]] == ["landscaping"]
    for params in ({"category": "ghosts"}, {"colour": "red"}, {"f": "html"}):
        r = await gis.get("/ogc/collections/recommendations/items", params=params)
        assert r.status_code == 400 and set(r.json()) == {"code", "description"}
    assert (await gis.get("/ogc/collections", params={"page": "2"})).status_code == 400
    assert (await gis.get("/ogc/collections/audits/items", params={"cursor": "nonsense"})).status_code == 400


async def test_weakness_categories_are_public_only_with_a_reader_key(
    gis: httpx.AsyncClient, layers: dict[str, Any], engine: AsyncEngine
) -> None:
    public = (await gis.get("/ogc/collections/recommendations/items")).json()
    assert {f["properties"]["category"] for f in public["features"]} == {"lighting", "landscaping"}
    assert public["numberMatched"] == 2
    hidden = layers["recs"]["surveillance"]["id"]
    assert (await gis.get(f"/ogc/collections/recommendations/items/{hidden}")).status_code == 404
    reader = {"Authorization": f"Bearer {await new_key(engine, Scope.reader)}"}
    keyed = (await gis.get("/ogc/collections/recommendations/items", headers=reader)).json()
    assert keyed["numberMatched"] == 3
    assert (await gis.get(f"/ogc/collections/recommendations/items/{hidden}", headers=reader)).status_code == 200
    wrong = await gis.get("/ogc/collections/recommendations/items", headers={"Authorization": "Bearer cpted_nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "Unauthorized"


async def test_one_feature_with_its_links(gis: httpx.AsyncClient, layers: dict[str, Any]) -> None:
    rid = layers["recs"]["lighting"]["id"]
    r = await gis.get(f"/ogc/collections/recommendations/items/{rid}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    feature = r.json()
    assert (feature["type"], feature["id"], feature["properties"]["status"]) == ("Feature", rid, "proposed")
    rels = {x["rel"]: x for x in feature["links"]}
    assert rels["collection"]["href"] == "http://test/ogc/collections/recommendations"
    assert rels["self"]["type"] == GEOJSON
    for missing in ("00000000-0000-0000-0000-000000000000", "42"):
        assert (await gis.get(f"/ogc/collections/recommendations/items/{missing}")).status_code == 404


async def test_audit_requests_carry_no_personal_data(gis: httpx.AsyncClient, layers: dict[str, Any]) -> None:
    page = (await gis.get("/ogc/collections/audit-requests/items")).json()
    assert page["numberMatched"] == 2
    no_personal_data(page)
    no_personal_data((await gis.get(f"/ogc/collections/audit-requests/items/{layers['placed']['id']}")).json())


async def test_an_accept_header_the_api_cannot_serve_is_406(gis: httpx.AsyncClient, admin_key: str) -> None:
    r = await gis.get("/ogc/collections", headers={"Accept": "text/html"})
    assert r.status_code == 406 and r.json()["code"] == "NotAcceptable"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert (await gis.get("/ogc/collections", headers={"Accept": browser})).status_code == 200
    assert (
        await gis.get("/ogc/collections/audits/items", headers={"Accept": "application/geo+json"})
    ).status_code == 200


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` becomes "or null"."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


async def test_every_answer_matches_the_ogc_document(gis: httpx.AsyncClient, layers: dict[str, Any]) -> None:
    """What /ogc/api promises (extent, geometries, properties, links) is what each resource answers."""
    document = (await gis.get("/ogc/api")).json()
    components = _json_schema(document["components"])
    here = ("neighbourhoods", "audits", "recommendations", "audit-requests")  # events and counts: other services
    urls = ["/ogc/", "/ogc/conformance", "/ogc/collections"]
    urls += [f"/ogc/collections/{c}" for c in here] + [f"/ogc/collections/{c}/items" for c in here]
    checked = []
    for url in urls:
        path = url if url in document["paths"] else "/ogc/collections/{collectionId}"
        schema = next(iter(document["paths"][path]["get"]["responses"]["200"]["content"].values()))["schema"]
        answer = await gis.get(url)
        assert answer.status_code == 200, (url, answer.text)
        validator = jsonschema.Draft202012Validator({**schema, "components": components})
        assert list(validator.iter_errors(answer.json())) == [], url
        for feature in answer.json().get("features", [])[:3]:
            one = await gis.get(f"{url}/{feature['id']}")
            assert list(validator.evolve(schema=_FEATURE | {"components": components}).iter_errors(one.json())) == []
            checked.append(feature["geometry"]["type"] if feature["geometry"] else None)
    assert {"Point", "Polygon", None} <= set(checked)


_FEATURE = {"$ref": "#/components/schemas/featureGeoJSON"}
