"""The audits API on real PostgreSQL: resources, lifecycle, validation, events."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories

PROBLEM = "application/problem+json"


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _outbox_types(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT type FROM audits.outbox ORDER BY position"))
        return list(rows.scalars())


async def test_create_and_read_back_every_resource(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    audit = world["audit"]
    got = await audits_api.get(f"/v1/audits/{audit['id']}")
    assert got.status_code == 200
    assert got.json()["site_name"] == "Alley behind 600 Glengarry Ave"
    assert got.headers["etag"] == '"1"'
    rec = await audits_api.post(f"/v1/audits/{audit['id']}/recommendations", json=factories.recommendation())
    assert rec.status_code == 201
    assert rec.headers["location"] == f"/v1/recommendations/{rec.json()['id']}"
    body = rec.json()
    assert body["status"] == "proposed"
    assert body["partnership_id"] == world["partnership"]["id"]
    assert body["neighbourhood_id"] == world["n1"]["id"]
    assert body["history"] == []


async def test_every_change_goes_through_the_outbox(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    audit_id = world["audit"]["id"]
    rec = (await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())).json()
    await audits_api.patch(f"/v1/recommendations/{rec['id']}", json={"priority": "low"})
    await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": "accepted", "on": "2025-05-01"})
    await audits_api.patch(f"/v1/audits/{audit_id}", json={"site_name": "Alley behind 610 Glengarry"})
    await audits_api.delete(f"/v1/audits/{audit_id}")
    assert await _outbox_types(engine) == [
        "neighbourhood.created",
        "neighbourhood.created",
        "partnership.created",
        "audit.created",
        "recommendation.created",
        "recommendation.updated",
        "recommendation.status_changed",
        "audit.updated",
        "audit.deleted",
    ]


async def test_full_lifecycle_keeps_history(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    rec = (
        await audits_api.post(f"/v1/audits/{world['audit']['id']}/recommendations", json=factories.recommendation())
    ).json()
    steps = [("accepted", "2025-05-01"), ("in_progress", "2025-06-01"), ("implemented", "2025-07-15")]
    for to, on in steps:
        r = await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": to, "on": on, "note": to})
        assert r.status_code == 200, r.text
    final = (await audits_api.get(f"/v1/recommendations/{rec['id']}")).json()
    assert final["status"] == "implemented"
    assert final["implemented_on"] == "2025-07-15"
    assert [(h["from"], h["to"], h["on"]) for h in final["history"]] == [
        ("proposed", "accepted", "2025-05-01"),
        ("accepted", "in_progress", "2025-06-01"),
        ("in_progress", "implemented", "2025-07-15"),
    ]
    assert final["version"] == 4


async def test_illegal_step_is_409_and_changes_nothing(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    rec = (
        await audits_api.post(f"/v1/audits/{world['audit']['id']}/recommendations", json=factories.recommendation())
    ).json()
    before = await _count(engine, "audits.outbox")
    r = await audits_api.post(
        f"/v1/recommendations/{rec['id']}/transitions", json={"to": "implemented", "on": "2025-05-01"}
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "body.to"
    assert (await audits_api.get(f"/v1/recommendations/{rec['id']}")).json()["status"] == "proposed"
    assert await _count(engine, "audits.outbox") == before
    assert await _count(engine, "audits.recommendation_transition") == 0


async def test_bad_input_is_problem_json_naming_the_field(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    p, n1 = world["partnership"], world["n1"]
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/v1/audits", factories.audit(p["id"], n1["id"], colour="red"), 422, "body.colour"),
        ("/v1/audits", factories.audit(p["id"], n1["id"], conducted_on="2025-13-40"), 422, "body.conducted_on"),
        ("/v1/audits", factories.audit(p["id"], n1["id"], conducted_on="1850-01-01"), 422, "body.conducted_on"),
        ("/v1/audits", factories.audit(p["id"], n1["id"], auditors="nobody"), 422, "body.auditors"),
        ("/v1/audits", factories.audit(p["id"], n1["id"], site_name="a\x00b"), 422, "body.site_name"),
        (
            "/v1/audits",
            factories.audit(p["id"], n1["id"], findings=[{"principle": "natural_surveillance", "rating": 9}]),
            422,
            "body.findings.0.rating",
        ),
        ("/v1/audits", factories.audit(p["id"], "00000000-0000-0000-0000-000000000001"), 422, "body.neighbourhood_id"),
        (
            "/v1/neighbourhoods",
            factories.neighbourhood(
                boundary={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
            ),
            422,
            "body.boundary",
        ),
        ("/v1/neighbourhoods", factories.neighbourhood(population=-1), 422, "body.population"),
        ("/v1/partnerships", factories.partnership(["not-a-uuid"]), 422, "body.neighbourhood_ids.0"),
    ]
    before = await _count(engine, "audits.outbox")
    for path, body, status, field in cases:
        r = await audits_api.post(path, json=body)
        assert r.status_code == status, (field, r.text)
        assert r.headers["content-type"] == PROBLEM
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(f.startswith(field) for f in fields), (field, fields)
    assert await _count(engine, "audits.outbox") == before
    assert await _count(engine, "audits.audit") == 1


async def test_recommendation_for_missing_audit_is_404(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    r = await audits_api.post(
        "/v1/audits/00000000-0000-0000-0000-000000000009/recommendations", json=factories.recommendation()
    )
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM


async def test_malformed_json_and_cursor_are_4xx(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    r = await audits_api.post("/v1/audits", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = await audits_api.get("/v1/audits", params={"cursor": "garbage!"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.cursor"
    r = await audits_api.get("/v1/audits", params={"limit": 501})
    assert r.status_code == 422


async def test_stale_if_match_is_412(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    audit_id = world["audit"]["id"]
    first = await audits_api.patch(f"/v1/audits/{audit_id}", json={"site_name": "A"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    assert first.headers["etag"] == '"2"'
    stale = await audits_api.patch(f"/v1/audits/{audit_id}", json={"site_name": "B"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await audits_api.get(f"/v1/audits/{audit_id}")).json()["site_name"] == "A"


async def test_lists_paginate_and_filter(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    p, n1, n2 = world["partnership"], world["n1"], world["n2"]
    for i in range(6):
        n = n2 if i % 2 else n1
        await audits_api.post("/v1/audits", json=factories.audit(p["id"], n["id"], conducted_on=f"2025-0{i + 1}-01"))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await audits_api.get("/v1/audits", params=params)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    in_n2 = (await audits_api.get("/v1/audits", params={"neighbourhood_id": n2["id"]})).json()["items"]
    assert len(in_n2) == 3
    spring = (
        await audits_api.get("/v1/audits", params={"conducted_from": "2025-02-01", "conducted_to": "2025-04-01"})
    ).json()["items"]
    assert sorted(a["conducted_on"] for a in spring) == ["2025-02-01", "2025-03-01", "2025-04-01"]


async def test_client_chosen_id_makes_imports_idempotent(audits_api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    body = factories.neighbourhood(id="5b2f6a4e-0000-4000-8000-000000000001")
    first = await audits_api.post("/v1/neighbourhoods", json=body)
    again = await audits_api.post("/v1/neighbourhoods", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert await _count(engine, "audits.neighbourhood") == 1
    assert await _count(engine, "audits.outbox") == 1


async def test_deleting_an_audit_deletes_its_recommendations(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    audit_id = world["audit"]["id"]
    rec = (await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())).json()
    assert (await audits_api.delete(f"/v1/audits/{audit_id}")).status_code == 204
    assert (await audits_api.get(f"/v1/audits/{audit_id}")).status_code == 404
    assert (await audits_api.get(f"/v1/recommendations/{rec['id']}")).status_code == 404


async def test_event_log_pages_through_every_event_once(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    audit_id = world["audit"]["id"]
    for _ in range(5):
        await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())
    ids: list[str] = []
    after = None
    while True:
        page = (await audits_api.get("/v1/outbox", params={"limit": 3} | ({"after": after} if after else {}))).json()
        ids += [item["event"]["id"] for item in page["items"]]
        after = page["next_after"]
        if not after:
            break
    assert len(ids) == len(set(ids)) == 9
    bad = await audits_api.get("/v1/outbox", params={"after": "x-y"})
    assert bad.status_code == 422


async def test_the_ndjson_form_streams_exactly_the_events_of_the_json_pages(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    audit_id = world["audit"]["id"]
    for _ in range(6):
        await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())
    pages: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = (await audits_api.get("/v1/outbox", params={"limit": 4, "after": after})).json()
        pages += page["items"]
        after = page["next_after"]
    streamed: list[dict[str, Any]] = []
    after, asked = 0, 0
    while after is not None:  # by Accept and by format=ndjson, turn about
        params: dict[str, Any] = {"limit": 3, "after": after} | ({} if asked % 2 else {"format": "ndjson"})
        headers = {"Accept": "application/x-ndjson"} if asked % 2 else {}
        r = await audits_api.get("/v1/outbox", params=params, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson", r.text
        assert r.headers["Log-Waiting"] == "false"
        lines = r.content.splitlines()
        assert r.content.endswith(b"\n") and len(lines) <= 3
        streamed += [orjson.loads(line) for line in lines]
        after = int(r.headers["Log-Next-After"]) if "Log-Next-After" in r.headers else None
        asked += 1
    assert len(pages) == 10 and streamed == pages  # same events, same order, same positions
    assert [item["position"] for item in streamed] == sorted({item["position"] for item in streamed})

    whole = await audits_api.get("/v1/outbox", params={"limit": 100_000}, headers={"Accept": "application/x-ndjson"})
    assert [orjson.loads(line) for line in whole.content.splitlines()] == pages
    assert "Log-Next-After" not in whole.headers
    too_large = await audits_api.get("/v1/outbox", params={"limit": 100_000})  # a JSON page stays at 5,000
    assert too_large.status_code == 422 and too_large.headers["content-type"] == "application/problem+json"
    assert too_large.json()["errors"][0]["field"] == "query.limit"
    json_still = await audits_api.get("/v1/outbox", params={"limit": 2}, headers={"Accept": "text/html"})
    assert json_still.json()["items"] == pages[:2]


async def test_the_csv_form_streams_the_rebuilds_fields_of_the_events_of_the_json_pages(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    audit_id = world["audit"]["id"]
    for _ in range(4):
        await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())
    items: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = (await audits_api.get("/v1/outbox", params={"limit": 100, "after": after})).json()
        items += page["items"]
        after = page["next_after"]
    wanted = [
        [str(i["position"]), e["id"], e["type"], str(e["version"]), e["subject_id"], str(e["subject_version"]),
         e["payload"]]
        for i in items
        for e in [i["event"]]
    ]  # fmt: skip
    rows: list[list[Any]] = []
    after, pages = 0, 0
    while after is not None:
        r = await audits_api.get("/v1/outbox", params={"limit": 3, "after": after, "format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
        assert r.headers["Log-Waiting"] == "false"
        header, *page_rows = csv.reader(io.StringIO(r.text))
        assert header == ["position", "id", "type", "version", "subject_id", "subject_version", "payload"]
        assert len(page_rows) <= 3
        rows += [[*row[:6], orjson.loads(row[6])] for row in page_rows]
        after = int(r.headers["Log-Next-After"]) if "Log-Next-After" in r.headers else None
        pages += 1
    assert len(items) >= 8 and rows == wanted and pages > 1  # the same events, in the same order
    end = await audits_api.get("/v1/outbox", params={"after": items[-1]["position"], "format": "csv"})
    assert end.text.splitlines() == [",".join(header)] and "Log-Next-After" not in end.headers


async def test_server_owned_fields_cannot_be_set(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    audit_id = world["audit"]["id"]
    owned = [
        (f"/v1/audits/{audit_id}/recommendations", factories.recommendation(status="implemented"), "body.status"),
        (
            f"/v1/audits/{audit_id}/recommendations",
            factories.recommendation(implemented_on="2025-01-01"),
            "body.implemented_on",
        ),
        (f"/v1/audits/{audit_id}/recommendations", factories.recommendation(history=[]), "body.history"),
        ("/v1/neighbourhoods", factories.neighbourhood(version=7), "body.version"),
        ("/v1/neighbourhoods", factories.neighbourhood(created_at="2020-01-01T00:00:00Z"), "body.created_at"),
    ]
    for path, body, field in owned:
        r = await audits_api.post(path, json=body)
        assert r.status_code == 422, (field, r.text)
        assert field in [e["field"] for e in r.json()["errors"]]
    r = await audits_api.patch(f"/v1/audits/{audit_id}", json={"partnership_id": world["partnership"]["id"]})
    assert r.status_code == 422
