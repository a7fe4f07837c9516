"""Keys: unknown, revoked and expired keys are refused; editors only see and change their partnerships."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope, revoke_key
from shared.db.engine import session_factory
from tests import factories
from tests.integration.conftest import client_for, new_key


@pytest.fixture
async def other(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> dict[str, Any]:
    """A second partnership with its own neighbourhood and audit."""
    n = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await audits_api.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
    a = (await audits_api.post("/v1/audits", json=factories.audit(p["id"], n["id"]))).json()
    r = (await audits_api.post(f"/v1/audits/{a['id']}/recommendations", json=factories.recommendation())).json()
    return {"neighbourhood": n, "partnership": p, "audit": a, "recommendation": r}


async def _client(key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    from services.audits.app import create_app

    async for client in client_for(create_app(), key):
        yield client


@pytest.fixture
async def editor(engine: AsyncEngine, world: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    key = await new_key(engine, Scope.editor, [world["partnership"]["id"]])
    async for client in _client(key):
        yield client


async def test_editor_works_on_its_own_partnership(editor: httpx.AsyncClient, world: dict[str, Any]) -> None:
    audit_id = world["audit"]["id"]
    r = await editor.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())
    assert r.status_code == 201
    assert (await editor.patch(f"/v1/audits/{audit_id}", json={"site_name": "Renamed"})).status_code == 200


async def test_editor_cannot_see_or_touch_another_partnership(
    editor: httpx.AsyncClient, world: dict[str, Any], other: dict[str, Any]
) -> None:
    a, rec, p = other["audit"], other["recommendation"], other["partnership"]
    assert (await editor.get(f"/v1/audits/{a['id']}")).status_code == 404
    assert (await editor.get(f"/v1/recommendations/{rec['id']}")).status_code == 404
    assert (await editor.get(f"/v1/partnerships/{p['id']}")).status_code == 404
    assert (await editor.patch(f"/v1/audits/{a['id']}", json={"site_name": "x"})).status_code == 404
    assert (await editor.delete(f"/v1/audits/{a['id']}")).status_code == 404
    r = await editor.post(f"/v1/audits/{a['id']}/recommendations", json=factories.recommendation())
    assert r.status_code == 404
    r = await editor.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": "accepted", "on": "2025-05-01"})
    assert r.status_code == 404
    r = await editor.post("/v1/audits", json=factories.audit(p["id"], other["neighbourhood"]["id"]))
    assert r.status_code == 403
    audits = (await editor.get("/v1/audits")).json()["items"]
    assert {x["partnership_id"] for x in audits} == {world["partnership"]["id"]}
    recs = (await editor.get("/v1/recommendations")).json()["items"]
    assert rec["id"] not in {x["id"] for x in recs}
    partnerships = (await editor.get("/v1/partnerships")).json()["items"]
    assert [x["id"] for x in partnerships] == [world["partnership"]["id"]]


async def test_editor_cannot_create_partnerships_or_neighbourhoods(editor: httpx.AsyncClient) -> None:
    assert (await editor.post("/v1/neighbourhoods", json=factories.neighbourhood())).status_code == 403
    assert (await editor.post("/v1/partnerships", json=factories.partnership([]))).status_code in (403, 422)


async def test_reader_reads_everything_and_writes_nothing(
    engine: AsyncEngine, world: dict[str, Any], other: dict[str, Any]
) -> None:
    key = await new_key(engine, Scope.reader)
    async for reader in _client(key):
        assert (await reader.get(f"/v1/audits/{other['audit']['id']}")).status_code == 200
        r = await reader.patch(f"/v1/audits/{other['audit']['id']}", json={"site_name": "x"})
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "Token cpted_x"])
async def test_missing_or_unknown_keys_are_401(world: dict[str, Any], header: str | None) -> None:
    async for anonymous in _client(None):
        headers = {"Authorization": header} if header else {}
        r = await anonymous.get("/v1/audits", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"


async def test_revoked_and_expired_keys_are_401(engine: AsyncEngine, world: dict[str, Any]) -> None:
    expired = await new_key(engine, Scope.reader, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    async for client in _client(expired):
        assert (await client.get("/v1/audits")).status_code == 401
    key = await new_key(engine, Scope.reader)
    async for client in _client(key):
        assert (await client.get("/v1/audits")).status_code == 200
        from shared.auth.keys import api_key, hash_key

        async with session_factory(engine)() as session:
            from sqlalchemy import select

            key_id = (await session.execute(select(api_key.c.id).where(api_key.c.hash == hash_key(key)))).scalar_one()
            assert await revoke_key(session, key_id)
            await session.commit()
        assert (await client.get("/v1/audits")).status_code == 401


async def test_health_needs_no_key(world: dict[str, Any]) -> None:
    async for anonymous in _client(None):
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/readyz")).json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_a_create_that_reads_its_audit_with_the_key_answers_in_the_usual_order(
    engine: AsyncEngine, world: dict[str, Any]
) -> None:
    """The recommendation's create reads its audit in the key's own statement, and answers as every route does:
    a body refused for any caller (422, ``shared.web.inputs``), then the key (401, also a revoked one), then the
    audit (404), then the key's right to write (403)."""
    audit_id, missing = world["audit"]["id"], "00000000-0000-4000-8000-000000000000"
    good, bad = factories.recommendation(), {**factories.recommendation(), "category": "nope"}
    key = await new_key(engine, Scope.admin)
    async for client in _client(key):
        assert (await client.post(f"/v1/audits/{missing}/recommendations", json=good)).status_code == 404
        assert (await client.post(f"/v1/audits/{missing}/recommendations", json=bad)).status_code == 422
        assert (await client.post("/v1/audits/not-an-id/recommendations", json=good)).status_code == 422
        assert (await client.post(f"/v1/audits/{audit_id}/recommendations", json=good)).status_code == 201
        async with session_factory(engine)() as session:
            from sqlalchemy import select

            from shared.auth.keys import api_key, hash_key

            key_id = (await session.execute(select(api_key.c.id).where(api_key.c.hash == hash_key(key)))).scalar_one()
            assert await revoke_key(session, key_id)
            await session.commit()
        for audit in (audit_id, missing):
            r = await client.post(f"/v1/audits/{audit}/recommendations", json=good)
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == "Bearer"
        assert (await client.post(f"/v1/audits/{audit_id}/recommendations", json=bad)).status_code == 422
    for scope, status in ((Scope.reader, 403), (Scope.feed, 403)):
        async for client in _client(await new_key(engine, scope)):
            assert (await client.post(f"/v1/audits/{audit_id}/recommendations", json=good)).status_code == status
