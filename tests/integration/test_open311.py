"""Open311 GeoReport v2 on real PostgreSQL: the specification's paths, fields, formats and errors."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests import factories
from tests.integration.conftest import new_key, schema_errors

V2 = "/open311/v2"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def public(keyless_audits_api: httpx.AsyncClient) -> httpx.AsyncClient:
    return keyless_audits_api


@pytest.fixture
async def recs(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """On the world's audit (no location): lighting implemented, landscaping open, surveillance hidden."""
    audit_id = world["audit"]["id"]
    made = {}
    for category in ("lighting", "landscaping", "surveillance"):
        body = factories.recommendation(category=category, expected_on="2025-09-01")
        made[category] = (await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=body)).json()
    url = f"/v1/recommendations/{made['lighting']['id']}/transitions"
    for to, on, note in (("accepted", "2025-05-01", "budget found"), ("in_progress", "2025-06-01", None)):
        await audits_api.post(url, json={"to": to, "on": on, "note": note})
    await audits_api.post(url, json={"to": "implemented", "on": "2025-07-01", "note": "Six LED lights installed"})
    return made


def codes(services: list[dict[str, Any]]) -> set[str]:
    return {s["service_code"] for s in services}


async def test_the_service_list_hides_weakness_categories_from_the_public(
    public: httpx.AsyncClient, audits_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    r = await public.get(f"{V2}/services.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    listed = r.json()
    assert {"lighting", "traffic_calming", "cpted_audit_request"} <= codes(listed)
    assert {"surveillance", "target_hardening"}.isdisjoint(codes(listed))
    audit_request = next(s for s in listed if s["service_code"] == "cpted_audit_request")
    assert audit_request | {"description": "", "keywords": ""} == {
        "service_code": "cpted_audit_request", "service_name": "CPTED audit request", "description": "",
        "metadata": True, "type": "realtime", "keywords": "", "group": "CPTED audits",
    }  # fmt: skip
    reader = {"Authorization": f"Bearer {await new_key(engine, Scope.reader)}"}
    assert {"surveillance", "target_hardening"} <= codes(
        (await public.get(f"{V2}/services.json", headers=reader)).json()
    )


async def test_xml_is_served_too(public: httpx.AsyncClient) -> None:
    r = await public.get(f"{V2}/services.xml")
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(r.content)
    assert root.tag == "services" and {s.findtext("service_code") for s in root.findall("service")} >= {"lighting"}
    bad = await public.get(f"{V2}/services.csv")
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400


async def test_the_audit_request_service_defines_its_attributes(public: httpx.AsyncClient) -> None:
    answer = await public.get(f"{V2}/services/cpted_audit_request.json")
    assert await schema_errors(public, "/open311/v2/services/{service_code}.{fmt}", answer) == []
    definition = answer.json()
    assert definition["service_code"] == "cpted_audit_request"
    concern = next(a for a in definition["attributes"] if a["code"] == "concern")
    assert set(concern) == {
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    }
    assert (
        concern["datatype"] == "singlevaluelist" and {"key": "lighting", "name": "Poor lighting"} in concern["values"]
    )
    assert (await public.get(f"{V2}/services/lighting.json")).json() == {"service_code": "lighting", "attributes": []}
    xml = ElementTree.fromstring((await public.get(f"{V2}/services/cpted_audit_request.xml")).content)
    assert [a.findtext("code") for a in xml.find("attributes")] == ["place", "concern"]  # type: ignore[union-attr]
    for missing in ("surveillance", "potholes"):
        r = await public.get(f"{V2}/services/{missing}.json")
        assert r.status_code == 404 and r.json() == [{"code": 404, "description": f"service_code {missing} not found"}]


async def test_recommendations_are_service_requests(
    public: httpx.AsyncClient, recs: dict[str, dict[str, Any]], world: dict[str, Any]
) -> None:
    listed = (await public.get(f"{V2}/requests.json")).json()
    by_code = {r["service_code"]: r for r in listed}
    assert set(by_code) == {"lighting", "landscaping"}  # surveillance is not public
    done, open_ = by_code["lighting"], by_code["landscaping"]
    assert (done["status"], done["status_notes"]) == ("closed", "Six LED lights installed")
    assert (open_["status"], open_["status_notes"]) == ("open", None)
    assert done["service_request_id"] == recs["lighting"]["id"]
    assert done["agency_responsible"] == "City of Windsor Public Works"
    assert done["expected_datetime"] == "2025-09-01T00:00:00-04:00"
    assert done["requested_datetime"].endswith(("-04:00", "-05:00"))
    ring = world["n1"]["boundary"]["coordinates"][0]  # the audit has no location: the neighbourhood's centroid
    assert (done["long"], done["lat"]) == pytest.approx(((ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2))
    assert done["address"] == f"Alley behind 600 Glengarry Ave, {world['n1']['name']}, Windsor"
    assert {"address_id", "zipcode", "media_url", "service_notice", "updated_datetime"} <= set(done)


async def test_a_site_location_wins_over_the_centroid(
    public: httpx.AsyncClient, audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    p, n = world["partnership"]["id"], world["n1"]["id"]
    located = factories.audit(p, n, location={"type": "Point", "coordinates": [-83.0301, 42.3049]})
    audit = (await audits_api.post("/v1/audits", json=located)).json()
    await audits_api.post(f"/v1/audits/{audit['id']}/recommendations", json=factories.recommendation())
    only = (await public.get(f"{V2}/requests.json")).json()[0]
    assert (only["lat"], only["long"]) == (42.3049, -83.0301)


async def test_filters_narrow_the_list(
    public: httpx.AsyncClient, recs: dict[str, dict[str, Any]], engine: AsyncEngine
) -> None:
    async def ids(headers: dict[str, str] | None = None, **params: str) -> set[str]:
        r = await public.get(f"{V2}/requests.json", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {x["service_request_id"] for x in r.json()}

    rid = {k: v["id"] for k, v in recs.items()}
    assert await ids(status="closed") == {rid["lighting"]}
    assert await ids(status="open,closed") == {rid["lighting"], rid["landscaping"]}
    assert await ids(service_code="landscaping,cpted_audit_request") == {rid["landscaping"]}
    assert await ids(service_request_id=f"{rid['lighting']},{rid['surveillance']},nonsense") == {rid["lighting"]}
    assert await ids(start_date="2000-01-01T00:00:00Z", end_date="2000-03-01T00:00:00Z") == set()
    reader = {"Authorization": f"Bearer {await new_key(engine, Scope.reader)}"}
    assert rid["surveillance"] in await ids(reader)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-01-01"}, "time zone"),
        ({"end_date": "yesterday"}, "w3"),
        ({"status": "pending"}, "status"),
        ({"jurisdiction_id": "toronto.ca"}, "jurisdiction_id toronto.ca not found"),
    ],
)
async def test_bad_queries_get_the_specifications_error_list(
    public: httpx.AsyncClient, admin_key: str, params: dict[str, str], words: str
) -> None:
    r = await public.get(f"{V2}/requests.json", params=params)
    expected = 404 if "jurisdiction_id" in params else 400
    assert r.status_code == expected
    [error] = r.json()
    assert error["code"] == expected and words in error["description"]


async def test_one_request_by_id(public: httpx.AsyncClient, recs: dict[str, dict[str, Any]]) -> None:
    [one] = (await public.get(f"{V2}/requests/{recs['landscaping']['id']}.json")).json()
    assert one["service_code"] == "landscaping"
    xml = ElementTree.fromstring((await public.get(f"{V2}/requests/{recs['landscaping']['id']}.xml")).content)
    assert xml.tag == "service_requests" and xml.find("request/status").text == "open"  # type: ignore[union-attr]
    for hidden in (recs["surveillance"]["id"], "00000000-0000-0000-0000-000000000000", "638344"):
        r = await public.get(f"{V2}/requests/{hidden}.json")
        assert r.status_code == 404 and r.json()[0]["code"] == 404


def a_post(api_key: str | None, **fields: str) -> dict[str, str]:
    form = {
        "service_code": "cpted_audit_request",
        "lat": "42.3049",
        "long": "-83.0301",
        "address_string": "Alley behind 600 Glengarry Ave",
        "description": "The alley is dark and people gather there at night",
        "first_name": "Dana",
        "last_name": "Resident",
        "email": "dana@example.org",
        "phone": "519-555-0101",
        "device_id": "tt222111",
        "attribute[concern]": "lighting",
    }
    if api_key:
        form["api_key"] = api_key
    return form | fields


async def test_a_311_system_asks_for_an_audit(
    public: httpx.AsyncClient, audits_api: httpx.AsyncClient, admin_key: str, engine: AsyncEngine
) -> None:
    r = await public.post(f"{V2}/requests.json", data=a_post(admin_key))
    assert r.status_code == 200, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"} and created["account_id"] is None
    stored = (await audits_api.get(f"/v1/audit-requests/{created['service_request_id']}")).json()
    assert (stored["place"], stored["source"], stored["status"]) == (
        "Alley behind 600 Glengarry Ave",
        "open311",
        "received",
    )
    assert stored["location"] == {"type": "Point", "coordinates": [-83.0301, 42.3049]}
    assert (stored["attributes"], stored["requester_on_file"]) == ({"concern": "lighting"}, True)
    [seen] = (await public.get(f"{V2}/requests/{created['service_request_id']}.json")).json()
    assert (seen["service_code"], seen["status"], seen["address"]) == ("cpted_audit_request", "open", stored["place"])
    for leak in ("Dana", "dana@example.org", "519-555-0101", "tt222111"):
        assert leak not in (await public.get(f"{V2}/requests.json")).text
    async with engine.connect() as conn:
        who = (await conn.execute(text("SELECT name, email, phone FROM audits.audit_request_requester"))).one()
    assert tuple(who) == ("Dana Resident", "dana@example.org", "519-555-0101")


async def test_a_scheduled_audit_request_says_when(
    public: httpx.AsyncClient, audits_api: httpx.AsyncClient, admin_key: str, world: dict[str, Any]
) -> None:
    xml = ElementTree.fromstring((await public.post(f"{V2}/requests.xml", data=a_post(admin_key))).content)
    rid = xml.findtext("request/service_request_id")
    body = {"status": "scheduled", "audit_id": world["audit"]["id"]}
    await audits_api.patch(f"/v1/audit-requests/{rid}", json=body)
    [seen] = (await public.get(f"{V2}/requests/{rid}.json")).json()
    assert (seen["status"], seen["expected_datetime"]) == ("open", "2025-04-10T00:00:00-04:00")
    await audits_api.patch(f"/v1/audit-requests/{rid}", json={"status": "rejected", "reason": "Private property"})
    [closed] = (await public.get(f"{V2}/requests/{rid}.json")).json()
    assert (closed["status"], closed["status_notes"]) == ("closed", "Private property")


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"service_code": ""}, 400, "service_code was not provided"),
        ({"service_code": "potholes"}, 404, "service_code potholes not found"),
        ({"service_code": "lighting"}, 400, "cpted_audit_request"),
        ({"long": ""}, 400, "lat & long both"),
        ({"lat": "91"}, 400, "lat 91"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "location is required"),
        ({"description": ""}, 400, "description"),
        ({"description": "x" * 4001}, 400, "4000"),
        ({"attribute[concern]": "ghosts"}, 400, "attribute[concern] must be one of"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour]"),
        ({"email": "not an email"}, 400, "email"),
        ({"jurisdiction_id": "toronto.ca"}, 404, "jurisdiction_id"),
    ],
)
async def test_bad_posts_get_the_specifications_error_list(
    public: httpx.AsyncClient, admin_key: str, change: dict[str, str], status: int, words: str
) -> None:
    r = await public.post(f"{V2}/requests.json", data=a_post(admin_key, **change))
    assert r.status_code == status, r.text
    [error] = r.json()
    assert error["code"] == status and words in error["description"]


async def test_posting_needs_an_api_key_that_may_write(
    public: httpx.AsyncClient, admin_key: str, engine: AsyncEngine
) -> None:
    missing = await public.post(f"{V2}/requests.json", data=a_post(None))
    assert missing.status_code == 403 and "api_key was not provided" in missing.json()[0]["description"]
    wrong = await public.post(f"{V2}/requests.json", data=a_post("cpted_not-a-key"))
    assert wrong.status_code == 403 and wrong.json()[0]["description"].startswith("Invalid api_key")
    reader = await public.post(f"{V2}/requests.json", data=a_post(await new_key(engine, Scope.reader)))
    assert reader.status_code == 403
    in_query = await public.post(f"{V2}/requests.json", params={"api_key": admin_key}, data=a_post(None))
    assert in_query.status_code == 403  # keys never travel in URLs
    as_json = await public.post(f"{V2}/requests.json", json=a_post(admin_key))
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()[0]["description"]
    xml = ElementTree.fromstring((await public.post(f"{V2}/requests.xml", data=a_post(None))).content)
    assert xml.tag == "errors" and xml.findtext("error/code") == "403"


async def test_tokens_are_never_needed(public: httpx.AsyncClient) -> None:
    r = await public.get(f"{V2}/tokens/12345.json")
    assert r.status_code == 404 and "realtime" in r.json()[0]["description"]


async def test_service_discovery(public: httpx.AsyncClient) -> None:
    answer = await public.get("/open311/discovery.json")
    assert await schema_errors(public, "/open311/discovery.{fmt}", answer) == []
    found = answer.json()
    [endpoint] = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://test/open311/v2" and endpoint["formats"] == ["text/xml", "application/json"]
    xml = ElementTree.fromstring((await public.get("/open311/discovery.xml")).content)
    assert [f.text for f in xml.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
