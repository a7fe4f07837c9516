"""Admin tools: keys managed over the API (shown once, revocable, expiring) and the audit trail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests import factories
from tests.integration.conftest import client_for, new_key


async def _as(key: str) -> Any:
    from services.audits.app import create_app

    return client_for(create_app(), key)


async def test_a_key_is_shown_once_works_and_can_be_revoked(audits_api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    created = await audits_api.post("/v1/keys", json={"name": "GIS team", "scope": "reader"})
    assert created.status_code == 201
    plaintext = created.json()["key"]
    assert plaintext.startswith("cpted_")
    listed = (await audits_api.get("/v1/keys")).json()["items"]
    assert all("key" not in k and "hash" not in k for k in listed)
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT hash FROM auth.api_key WHERE name = 'GIS team'"))).scalar_one()
    assert plaintext not in stored
    async for gis in await _as(plaintext):
        assert (await gis.get("/v1/audits")).status_code == 200
        assert (await audits_api.delete(f"/v1/keys/{created.json()['id']}")).status_code == 204
        assert (await gis.get("/v1/audits")).status_code == 401
    assert (await audits_api.delete(f"/v1/keys/{created.json()['id']}")).status_code == 404


async def test_a_key_past_its_expiry_is_refused(audits_api: httpx.AsyncClient) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=5)  # room for a slow first request on a busy machine
    body = {"name": "temp", "scope": "reader", "expires_at": soon.isoformat()}
    created = (await audits_api.post("/v1/keys", json=body)).json()
    async for temp in await _as(created["key"]):
        assert (await temp.get("/v1/audits")).status_code == 200
        await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
        assert (await temp.get("/v1/audits")).status_code == 401


async def test_only_admins_manage_keys_and_read_the_trail(audits_api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    reader = await new_key(engine, Scope.reader)
    async for client in await _as(reader):
        assert (await client.post("/v1/keys", json={"name": "x", "scope": "admin"})).status_code == 403
        assert (await client.get("/v1/keys")).status_code == 403
        assert (await client.get("/v1/audit-trail")).status_code == 403
    bad = await audits_api.post("/v1/keys", json={"name": "ed", "scope": "editor"})
    assert bad.status_code == 422


async def test_keys_are_never_taken_from_the_url(audits_api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    reader = await new_key(engine, Scope.reader)
    async for anonymous in await _as(None):  # type: ignore[arg-type]
        for name in ("api_key", "access_token"):
            answer = await anonymous.get("/v1/audits", params={name: reader})
            assert answer.status_code == 422  # not a parameter of any route: refused before anything is read
            assert answer.json()["errors"] == [{"field": f"query.{name}", "message": "unknown query parameter"}]


async def test_the_trail_says_who_changed_what_and_through_which_request(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    audit_id = world["audit"]["id"]
    await audits_api.patch(f"/v1/audits/{audit_id}", json={"site_name": "Laneway"}, headers={"X-Request-ID": "req-42"})
    trail = (await audits_api.get("/v1/audit-trail", params={"subject_id": audit_id})).json()["items"]
    latest, created = trail[0], trail[1]
    assert latest["type"] == "audit.updated"
    assert latest["request_id"] == "req-42"
    assert latest["actor"].startswith("key:")
    assert latest["changes"] == {"site_name": [factories.audit("", "")["site_name"], "Laneway"]}
    assert created["type"] == "audit.created"
    assert created["changes"]["site_name"] == [None, factories.audit("", "")["site_name"]]
    page = (await audits_api.get("/v1/audit-trail", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (await audits_api.get("/v1/audit-trail", params={"before_position": page["next_cursor"]})).json()
    assert len(rest["items"]) == 3


async def test_keys_are_listed_in_pages_like_every_other_list(audits_api: httpx.AsyncClient) -> None:
    for name in ("page one", "page two"):
        assert (await audits_api.post("/v1/keys", json={"name": name, "scope": "reader"})).status_code == 201
    first = (await audits_api.get("/v1/keys", params={"limit": 1})).json()
    assert [k["name"] for k in first["items"]] == ["page two"]
    second = (await audits_api.get("/v1/keys", params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert [k["name"] for k in second["items"]] == ["page one"]
    assert (await audits_api.get("/v1/keys", params={"cursor": "nonsense"})).status_code == 422
