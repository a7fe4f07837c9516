"""The events service on real PostgreSQL: events, editor scoping, bad input leaving nothing behind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.integration.events.factories import event

PROBLEM = "application/problem+json"


async def _rows(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        counts = {}
        for table in ("event", "material", "distribution", "training", "stakeholder", "outbox"):
            counts[table] = int((await conn.execute(text(f"SELECT count(*) FROM events.{table}"))).scalar_one())
        return counts


async def _outbox_types(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT type FROM events.outbox ORDER BY position"))).scalars())


async def test_an_event_is_stored_in_utc_and_read_back(events_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    p, n1 = world["partnership"], world["n1"]
    body = event([p["id"]], neighbourhood_id=n1["id"], location={"type": "Point", "coordinates": [-83.03, 42.31]})
    r = await events_api.post("/v1/events", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["starts_at"] == "2025-07-12T15:00:00Z"
    assert r.headers["location"] == f"/v1/events/{created['id']}"
    got = await events_api.get(f"/v1/events/{created['id']}")
    assert got.headers["etag"] == '"1"'
    assert got.json() | {} == created


async def test_cancel_update_and_delete_emit_their_events(
    events_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    p = world["partnership"]
    e = (await events_api.post("/v1/events", json=event([p["id"]], status="scheduled"))).json()
    r = await events_api.patch(f"/v1/events/{e['id']}", json={"special": False}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    stale = await events_api.patch(f"/v1/events/{e['id']}", json={"name": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await events_api.patch(f"/v1/events/{e['id']}", json={"status": "cancelled"})).status_code == 200
    held = await events_api.patch(f"/v1/events/{e['id']}", json={"status": "held"})
    assert held.status_code == 409 and held.json()["errors"][0]["field"] == "body.status"
    assert (await events_api.delete(f"/v1/events/{e['id']}")).status_code == 204
    assert (await events_api.get(f"/v1/events/{e['id']}")).status_code == 404
    assert await _outbox_types(engine) == ["event.created", "event.updated", "event.cancelled", "event.deleted"]


async def test_a_client_id_makes_creation_idempotent(events_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    body = event([world["partnership"]["id"]], id="8a3c9a55-3b8e-4d55-9c1f-0d4b2f1e7a10")
    assert (await events_api.post("/v1/events", json=body)).status_code == 201
    again = await events_api.post("/v1/events", json=body)
    assert again.status_code == 200
    assert len((await events_api.get("/v1/events")).json()["items"]) == 1


BAD_EVENTS = [
    ({"ends_at": "2025-07-12T10:00:00-04:00"}, "body.ends_at"),
    ({"starts_at": "2025-07-12T11:00:00"}, "body.starts_at"),
    ({"officers_attending": -1}, "body.officers_attending"),
    ({"attendance": -5}, "body.attendance"),
    ({"kind": "rave"}, "body.kind"),
    ({"partnership_ids": ["6c1f0d4b-2f1e-4a10-8a3c-9a553b8e4d55"]}, "body.partnership_ids"),
    ({"partnership_ids": []}, "body.partnership_ids"),
    ({"neighbourhood_id": "6c1f0d4b-2f1e-4a10-8a3c-9a553b8e4d55"}, "body.neighbourhood_id"),
    ({"status": "held", "starts_at": "2099-01-01T10:00:00Z", "ends_at": None}, "body.status"),
    ({"location": {"type": "Point", "coordinates": [-200, 42]}}, "body.location.coordinates"),
    ({"surprise": True}, "body.surprise"),
]


@pytest.mark.parametrize(("change", "field"), BAD_EVENTS)
async def test_bad_event_input_is_a_problem_naming_the_field_and_stores_nothing(
    events_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine, change: dict[str, Any], field: str
) -> None:
    before = await _rows(engine)
    r = await events_api.post("/v1/events", json=event([world["partnership"]["id"]]) | change)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await _rows(engine) == before


async def test_an_oversized_body_is_refused_before_parsing(
    events_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    before = await _rows(engine)
    body = event([world["partnership"]["id"]], description="x" * 2_000_000)
    r = await events_api.post("/v1/events", json=body)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    assert await _rows(engine) == before


async def test_a_bad_patch_changes_nothing(
    events_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    e = (await events_api.post("/v1/events", json=event([world["partnership"]["id"]]))).json()
    for change in ({"ends_at": "2025-07-11T10:00:00Z"}, {"name": None}, {"officers_attending": -2}):
        r = await events_api.patch(f"/v1/events/{e['id']}", json=change)
        assert r.status_code == 422, r.text
    assert (await events_api.get(f"/v1/events/{e['id']}")).json() == e
    assert await _outbox_types(engine) == ["event.created"]


async def test_filters_and_cursor_pagination(events_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    p, n1 = world["partnership"]["id"], world["n1"]["id"]
    for day in range(1, 6):
        body = event([p], starts_at=f"2025-03-0{day}T23:30:00-05:00", ends_at=None, special=day % 2 == 0)
        await events_api.post("/v1/events", json=body | ({"neighbourhood_id": n1} if day == 5 else {}))
    await events_api.post("/v1/events", json=event([p], kind="bia_meeting", special=False))
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await events_api.get("/v1/events", params=params)).json()
        seen += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert len({e["id"] for e in seen}) == 6

    async def count(**params: Any) -> int:
        return len((await events_api.get("/v1/events", params=params)).json()["items"])

    assert await count(special="true") == 2
    assert await count(kind="bia_meeting") == 1
    assert await count(neighbourhood_id=n1) == 1
    # 23:30 in Toronto on March 2nd is March 3rd in UTC: the local day decides.
    assert await count(**{"from": "2025-03-02", "to": "2025-03-03"}) == 2
    bad = await events_api.get("/v1/events", params={"from": "2025-03-05", "to": "2025-03-01"})
    assert bad.status_code == 422


@pytest.fixture
async def other(audits_api: httpx.AsyncClient) -> dict[str, Any]:
    n = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    return (await audits_api.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()


async def test_an_editor_sees_and_changes_events_of_any_of_its_partnerships_only(
    events_api: httpx.AsyncClient, editor: httpx.AsyncClient, world: dict[str, Any], other: dict[str, Any]
) -> None:
    mine, theirs = world["partnership"]["id"], other["id"]
    shared = (await events_api.post("/v1/events", json=event([theirs, mine]))).json()
    foreign = (await events_api.post("/v1/events", json=event([theirs]))).json()
    assert (await editor.get(f"/v1/events/{shared['id']}")).status_code == 200
    assert (await editor.patch(f"/v1/events/{shared['id']}", json={"attendance": 400})).status_code == 200
    assert (await editor.get(f"/v1/events/{foreign['id']}")).status_code == 404
    assert (await editor.patch(f"/v1/events/{foreign['id']}", json={"attendance": 1})).status_code == 404
    assert (await editor.delete(f"/v1/events/{foreign['id']}")).status_code == 404
    assert (await editor.post("/v1/events", json=event([theirs]))).status_code == 403
    listed = {e["id"] for e in (await editor.get("/v1/events")).json()["items"]}
    assert listed == {shared["id"]}
    handed_away = await editor.patch(f"/v1/events/{shared['id']}", json={"partnership_ids": [theirs]})
    assert handed_away.status_code == 403
