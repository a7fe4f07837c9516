"""``/v1/audit-requests`` on real PostgreSQL: placing, triage, personal data kept out of every answer."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests.integration.conftest import new_key

REQUESTER = {"name": "Dana Resident", "email": "dana@example.org", "phone": "519-555-0101"}


def inside(neighbourhood: dict[str, Any]) -> dict[str, Any]:
    ring = neighbourhood["boundary"]["coordinates"][0]
    return {"type": "Point", "coordinates": [(ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2]}


def a_request(world: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "place": "Alley behind 600 Glengarry Ave",
        "description": "The alley is dark at night and people gather there",
        "location": inside(world["n2"]),
        "requester": REQUESTER,
    }
    return body | overrides


def no_personal_data(answer: Any) -> None:
    raw = orjson.dumps(answer).decode()
    for value in REQUESTER.values():
        assert value not in raw


async def test_a_request_is_placed_in_its_neighbourhood_and_hides_its_requester(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    r = await audits_api.post("/v1/audit-requests", json=a_request(world))
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["neighbourhood_id"], created["status"], created["source"]) == (world["n2"]["id"], "received", "api")
    assert created["requester_on_file"] is True and r.headers["location"] == f"/v1/audit-requests/{created['id']}"
    one = await audits_api.get(f"/v1/audit-requests/{created['id']}")
    listed = await audits_api.get("/v1/audit-requests")
    log = await audits_api.get("/v1/outbox")
    for answer in (created, one.json(), listed.json(), log.json()):
        no_personal_data(answer)
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT name, email, phone FROM audits.audit_request_requester"))).all()
    assert [tuple(row) for row in stored] == [tuple(REQUESTER.values())]


async def test_without_contact_details_nothing_personal_is_stored(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    body = a_request(world)
    del body["requester"]
    r = await audits_api.post("/v1/audit-requests", json=body)
    assert r.json()["requester_on_file"] is False
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audits.audit_request_requester"))).scalar_one() == 0


async def test_the_requester_can_be_erased(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    created = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    r = await audits_api.delete(f"/v1/audit-requests/{created['id']}/requester")
    assert r.status_code == 204
    after = (await audits_api.get(f"/v1/audit-requests/{created['id']}")).json()
    assert (after["requester_on_file"], after["version"]) == (False, created["version"] + 1)
    again = await audits_api.delete(f"/v1/audit-requests/{created['id']}/requester")
    assert again.status_code == 204
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audits.audit_request_requester"))).scalar_one() == 0


async def test_triage_goes_received_scheduled_done(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    created = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    url = f"/v1/audit-requests/{created['id']}"
    early = await audits_api.patch(url, json={"status": "done"})
    assert early.status_code == 409 and early.json()["type"].endswith("illegal-transition")
    missing = await audits_api.patch(url, json={"status": "scheduled"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.audit_id"
    scheduled = await audits_api.patch(url, json={"status": "scheduled", "audit_id": world["audit"]["id"]})
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["partnership_id"] == world["partnership"]["id"]
    stale = await audits_api.patch(url, json={"status": "done"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    done = await audits_api.patch(url, json={"status": "done"}, headers={"If-Match": scheduled.headers["etag"]})
    assert done.json()["status"] == "done"
    assert (await audits_api.patch(url, json={"status": "rejected", "reason": "late"})).status_code == 409


async def test_a_rejection_needs_a_reason(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    created = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    url = f"/v1/audit-requests/{created['id']}"
    assert (await audits_api.patch(url, json={"status": "rejected"})).status_code == 422
    r = await audits_api.patch(url, json={"status": "rejected", "reason": "private property"})
    assert (r.json()["status"], r.json()["reason"]) == ("rejected", "private property")


async def test_moving_the_point_moves_the_neighbourhood(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    created = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    url = f"/v1/audit-requests/{created['id']}"
    moved = await audits_api.patch(url, json={"location": inside(world["n1"])})
    assert moved.json()["neighbourhood_id"] == world["n1"]["id"]
    wrong = await audits_api.patch(url, json={"neighbourhood_id": world["n2"]["id"]})
    assert wrong.status_code == 422
    outside = await audits_api.post(
        "/v1/audit-requests", json=a_request(world, location={"type": "Point", "coordinates": [10, 10]})
    )
    assert outside.json()["neighbourhood_id"] is None


async def test_without_a_point_a_known_neighbourhood_may_be_named(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    body = a_request(world, location=None, neighbourhood_id=world["n1"]["id"])
    assert (await audits_api.post("/v1/audit-requests", json=body)).json()["neighbourhood_id"] == world["n1"]["id"]
    unknown = a_request(world, location=None, neighbourhood_id="00000000-0000-0000-0000-000000000001")
    assert (await audits_api.post("/v1/audit-requests", json=unknown)).status_code == 422


async def test_lists_filter_and_page(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    for n in ("n1", "n2", "n2"):
        await audits_api.post("/v1/audit-requests", json=a_request(world, location=inside(world[n])))
    in_n2 = (await audits_api.get("/v1/audit-requests", params={"neighbourhood_id": world["n2"]["id"]})).json()
    assert len(in_n2["items"]) == 2
    first = (await audits_api.get("/v1/audit-requests", params={"limit": 2})).json()
    rest = (await audits_api.get("/v1/audit-requests", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    received = (await audits_api.get("/v1/audit-requests", params={"status": "received"})).json()["items"]
    assert len(received) == 3
    assert (await audits_api.get("/v1/audit-requests", params={"status": "open"})).status_code == 422


async def test_a_client_id_makes_a_repeat_harmless(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    body = a_request(world, id="4f4b7f7e-1c36-4c8e-9a51-0a1f9b0e7c11")
    assert (await audits_api.post("/v1/audit-requests", json=body)).status_code == 201
    assert (await audits_api.post("/v1/audit-requests", json=body)).status_code == 200


async def test_readers_read_and_editors_see_their_area(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    created = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    reader = {"Authorization": f"Bearer {await new_key(engine, Scope.reader)}"}
    assert (await audits_api.get(f"/v1/audit-requests/{created['id']}", headers=reader)).status_code == 200
    assert (await audits_api.post("/v1/audit-requests", json=a_request(world), headers=reader)).status_code == 403
    other = await audits_api.post(
        "/v1/partnerships",
        json={"name": "Elsewhere", "police_service": "WPS", "neighbourhood_ids": [world["n1"]["id"]]},
    )
    outsider = {"Authorization": f"Bearer {await new_key(engine, Scope.editor, [other.json()['id']])}"}
    assert (await audits_api.get(f"/v1/audit-requests/{created['id']}", headers=outsider)).status_code == 404
    owner = {"Authorization": f"Bearer {await new_key(engine, Scope.editor, [world['partnership']['id']])}"}
    assert (await audits_api.get(f"/v1/audit-requests/{created['id']}", headers=owner)).status_code == 200
