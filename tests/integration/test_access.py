"""Who may reach what: creates with a chosen id, the service feeds, a partnership's figures, revocation.

An editor of partnership A faces partnership B's records through every door a
client can open: a create that names B's id, the producers' event logs, the
totals, and a key that was revoked a moment ago in another process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope, api_key, hash_key
from shared.db.engine import session_factory
from tests import factories
from tests.integration.conftest import client_for, new_key
from tests.integration.crime_world import sync_metrics
from tests.integration.events.conftest import events_client
from tests.integration.events.factories import distribution, event, material, stakeholder, training


def _audits() -> FastAPI:
    from services.audits.app import create_app

    return create_app()


def _metrics() -> FastAPI:
    from services.metrics.app import create_app

    return create_app()


async def _open(app: FastAPI, key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(app, key):
        yield client


async def _open_events(key: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in events_client(key):
        yield client


async def _partnership(audits: httpx.AsyncClient, events: httpx.AsyncClient) -> dict[str, Any]:
    n = (await audits.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await audits.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
    a = (await audits.post("/v1/audits", json=factories.audit(p["id"], n["id"]))).json()
    r = (await audits.post(f"/v1/audits/{a['id']}/recommendations", json=factories.recommendation())).json()
    e = (await events.post("/v1/events", json=event([p["id"]], neighbourhood_id=n["id"]))).json()
    s = (await events.post("/v1/stakeholders", json=stakeholder(p["id"], neighbourhood_id=n["id"]))).json()
    req = {"place": "Laneway", "description": "no light at night", "neighbourhood_id": n["id"]}
    q = (await audits.post("/v1/audit-requests", json=req)).json()
    return {"neighbourhood": n, "partnership": p, "audit": a, "recommendation": r, "event": e, "stakeholder": s,
            "audit_request": q}  # fmt: skip


@pytest.fixture
async def two(engine: AsyncEngine, admin_key: str) -> AsyncIterator[dict[str, Any]]:
    """Partnerships A and B with a record of every kind each, and clients with an editor key of A."""
    async for audits in _open(_audits(), admin_key):
        async for events in _open_events(admin_key):
            a = await _partnership(audits, events)
            b = await _partnership(audits, events)
            key = await new_key(engine, Scope.editor, [a["partnership"]["id"]])
            async for editor_audits in _open(_audits(), key):
                async for editor_events in _open_events(key):
                    yield {"a": a, "b": b, "audits": editor_audits, "events": editor_events, "admin_audits": audits,
                           "admin_events": events}  # fmt: skip


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return dict(r.json())


# --- creates with a client-chosen id -----------------------------------------------------------------


async def test_a_create_naming_a_foreign_id_does_not_hand_over_the_record(two: dict[str, Any]) -> None:
    a, b, audits, events = two["a"], two["b"], two["audits"], two["events"]
    pa, na = a["partnership"]["id"], a["neighbourhood"]["id"]
    foreign = b["audit"]
    r = await audits.post("/v1/audits", json=factories.audit(pa, na) | {"id": foreign["id"]})
    _problem(r, 404)
    assert foreign["site_name"] not in r.text
    r = await audits.post(
        f"/v1/audits/{a['audit']['id']}/recommendations",
        json=factories.recommendation() | {"id": b["recommendation"]["id"]},
    )
    _problem(r, 404)
    assert b["recommendation"]["description"] not in r.text
    r = await events.post(
        "/v1/stakeholders", json=stakeholder(pa, neighbourhood_id=na) | {"id": b["stakeholder"]["id"]}
    )
    _problem(r, 404)
    r = await events.post("/v1/events", json=event([pa], neighbourhood_id=na) | {"id": b["event"]["id"]})
    _problem(r, 404)
    request = {"place": "Laneway", "description": "no light at night", "id": b["audit_request"]["id"]}
    _problem(await audits.post("/v1/audit-requests", json=request), 404)
    # B's records are as they were
    admin = two["admin_audits"]
    assert (await admin.get(f"/v1/audits/{foreign['id']}")).json()["partnership_id"] == b["partnership"]["id"]


async def test_a_repeated_create_answers_the_stored_record_and_a_different_body_is_a_conflict(
    two: dict[str, Any],
) -> None:
    a, audits, events = two["a"], two["audits"], two["events"]
    pa, na = a["partnership"]["id"], a["neighbourhood"]["id"]
    body = factories.audit(pa, na) | {"id": "2f6c3f0e-7d55-4a8e-9d43-5b0c1a2e7f10"}
    first = await audits.post("/v1/audits", json=body)
    assert first.status_code == 201, first.text
    again = await audits.post("/v1/audits", json=body)
    assert again.status_code == 200
    assert again.json() == first.json()
    other = _problem(await audits.post("/v1/audits", json=body | {"site_name": "Another site"}), 409)
    assert other["errors"][0]["field"] == "body.site_name"
    assert (await audits.get(f"/v1/audits/{body['id']}")).json()["site_name"] == body["site_name"]
    # the same rule in the events service
    sbody = stakeholder(pa, neighbourhood_id=na) | {"id": "9b1f0c55-3c1e-4f7a-8e0a-2d4b6c8e0f12"}
    assert (await events.post("/v1/stakeholders", json=sbody)).status_code == 201
    assert (await events.post("/v1/stakeholders", json=sbody)).status_code == 200
    conflict = _problem(await events.post("/v1/stakeholders", json=sbody | {"name": "Someone else"}), 409)
    assert conflict["errors"][0]["field"] == "body.name"


async def test_a_recommendation_id_of_another_audit_is_a_conflict(two: dict[str, Any]) -> None:
    audits, a = two["audits"], two["a"]
    second = await audits.post("/v1/audits", json=factories.audit(a["partnership"]["id"], a["neighbourhood"]["id"]))
    body = factories.recommendation() | {"id": a["recommendation"]["id"]}
    r = await audits.post(f"/v1/audits/{second.json()['id']}/recommendations", json=body)
    assert _problem(r, 409)["errors"][0]["field"] == "body.audit_id"


# --- the service feeds ---------------------------------------------------------------------------------


async def test_the_event_logs_and_dead_letters_need_a_service_or_admin_key(
    engine: AsyncEngine, two: dict[str, Any]
) -> None:
    editor = await new_key(engine, Scope.editor, [two["a"]["partnership"]["id"]])
    reader = await new_key(engine, Scope.reader)
    service = await new_key(engine, Scope.service)
    feeds = [(_audits, "/v1/outbox"), (None, "/v1/outbox"), (_metrics, "/v1/bus/dead-letters")]
    for make, path in feeds:
        for key, status in ((editor, 403), (reader, 403), (service, 200)):
            async for client in _open(make(), key) if make else _open_events(key):
                r = await client.get(path)
                assert r.status_code == status, f"{path} {status}: {r.text[:200]}"
                if status == 403:
                    assert two["b"]["audit"]["site_name"] not in r.text
                if path == "/v1/outbox":  # the NDJSON form, by either way of asking for it, by the same rule
                    for ask in ({"params": {"format": "ndjson"}}, {"headers": {"Accept": "application/x-ndjson"}}):
                        r = await client.get(path, **ask)  # type: ignore[arg-type]
                        assert r.status_code == status, f"{path} {ask} {status}: {r.text[:200]}"
                        if status == 403:
                            assert r.headers["content-type"] == "application/problem+json"
                            assert two["b"]["audit"]["site_name"] not in r.text
                        else:
                            assert r.headers["content-type"] == "application/x-ndjson"
                            assert make is None or two["b"]["audit"]["site_name"] in r.text
    async for client in _open(_audits(), service):
        log = (await client.get("/v1/outbox")).json()["items"]
        assert two["b"]["audit"]["id"] in {item["event"]["subject_id"] for item in log}
        # a service key reads, and writes nothing
        r = await client.post("/v1/neighbourhoods", json=factories.neighbourhood())
        _problem(r, 403)


async def test_an_admin_mints_a_service_key(audits_api: httpx.AsyncClient) -> None:
    issued = await audits_api.post("/v1/keys", json={"name": "metrics reconcile", "scope": "service"})
    assert issued.status_code == 201, issued.text
    async for client in _open(_audits(), issued.json()["key"]):
        assert (await client.get("/v1/outbox")).status_code == 200


# --- figures --------------------------------------------------------------------------------------------


async def test_a_partnerships_figures_follow_its_records(
    engine: AsyncEngine, redis: Redis, two: dict[str, Any]
) -> None:
    await sync_metrics(engine, redis)
    pa, pb = two["a"]["partnership"]["id"], two["b"]["partnership"]["id"]
    editor = await new_key(engine, Scope.editor, [pa])
    reader = await new_key(engine, Scope.reader)
    async for metrics in _open(_metrics(), editor):
        assert (await metrics.get("/v1/totals", params={"partnership_id": pa})).json()["audits"] == 1
        _problem(await metrics.get("/v1/totals", params={"partnership_id": pb}), 404)
        rows = (await metrics.get("/v1/totals/by-partnership")).json()
        assert [row["id"] for row in rows] == [pa]
        _problem(await metrics.get(f"/v1/reports/partnerships/{pb}"), 404)
        _problem(await metrics.get(f"/v1/evaluations/audits/{two['b']['audit']['id']}"), 404)
        # programme-wide figures name no partnership: every reading key sees them
        assert (await metrics.get("/v1/totals")).json()["audits"] == 2
        assert len((await metrics.get("/v1/totals/by-neighbourhood")).json()) == 2
        assert (await metrics.get("/v1/cswb/feeds")).status_code == 403
    async for metrics in _open(_metrics(), reader):
        assert (await metrics.get("/v1/totals", params={"partnership_id": pb})).json()["audits"] == 1
        assert {row["id"] for row in (await metrics.get("/v1/totals/by-partnership")).json()} == {pa, pb}


# --- revocation and expiry ------------------------------------------------------------------------------


async def _key_id(engine: AsyncEngine, plaintext: str) -> Any:
    async with session_factory(engine)() as session:
        return (await session.execute(select(api_key.c.id).where(api_key.c.hash == hash_key(plaintext)))).scalar_one()


async def test_a_key_revoked_through_one_instance_is_refused_by_the_other_at_once(
    engine: AsyncEngine, admin_key: str, world: dict[str, Any]
) -> None:
    key = await new_key(engine, Scope.reader)
    key_id = await _key_id(engine, key)
    async for first in _open(_audits(), key):
        async for second in _open_events(key):
            assert (await first.get("/v1/audits")).status_code == 200
            assert (await second.get("/v1/events")).status_code == 200
            async for admin in _open(_audits(), admin_key):
                assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 204
            _problem(await second.get("/v1/events"), 401)
            _problem(await first.get("/v1/audits"), 401)


async def test_an_expired_key_is_refused_on_the_next_request(engine: AsyncEngine, world: dict[str, Any]) -> None:
    key = await new_key(engine, Scope.reader, expires_at=datetime.now(UTC) + timedelta(days=1))
    async for client in _open(_audits(), key):
        assert (await client.get("/v1/audits")).status_code == 200
        async with engine.begin() as conn:  # its expiry comes, as the clock would bring it
            past = datetime.now(UTC) - timedelta(seconds=1)
            await conn.execute(update(api_key).where(api_key.c.hash == hash_key(key)).values(expires_at=past))
        _problem(await client.get("/v1/audits"), 401)


async def _cpted(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cpted", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_an_admin_key_revoked_from_the_command_line_mints_no_key(
    engine: AsyncEngine, world: dict[str, Any]
) -> None:
    admin = await new_key(engine, Scope.admin)
    async for client in _open(_audits(), admin):
        assert (await client.get("/v1/keys")).status_code == 200
        code, out = await _cpted("keys", "revoke", str(await _key_id(engine, admin)))
        assert code == 0, out
        _problem(await client.post("/v1/keys", json={"name": "after revoke", "scope": "admin"}), 401)
    async with session_factory(engine)() as session:
        minted = (await session.execute(select(api_key.c.id).where(api_key.c.name == "after revoke"))).all()
    assert minted == []


def _creates(a: dict[str, Any], material_id: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(service, path, body, a change) for every create that takes a client's id; bodies as clients write them."""
    pa, na, audit = a["partnership"]["id"], a["neighbourhood"]["id"], a["audit"]["id"]
    point = {"type": "Point", "coordinates": [-83.0, 42.3]}
    return [
        ("audits", "/v1/neighbourhoods", factories.neighbourhood(), {"population": 1}),
        ("audits", "/v1/partnerships", factories.partnership([na, na]), {"police_service": "Other"}),
        ("audits", "/v1/audits", factories.audit(pa, na, location=point), {"conducted_on": "2025-04-11"}),
        ("audits", f"/v1/audits/{audit}/recommendations", factories.recommendation(), {"priority": "low"}),
        (
            "audits",
            "/v1/audit-requests",
            {
                "place": "Laneway",
                "description": "dark",
                "neighbourhood_id": na,
                "received_at": "2025-03-01T09:00:00-05:00",
            },
            {"place": "Park"},
        ),
        ("events", "/v1/events", event([pa, pa], neighbourhood_id=na), {"attendance": 1}),
        ("events", "/v1/stakeholders", stakeholder(pa), {"kind": "bia"}),
        ("events", "/v1/materials", material(source_language="EN", published_on=None), {"topic": "diversion"}),
        (
            "events",
            "/v1/distributions",
            distribution(material_id, agency="Windsor  Police", language="EN"),
            {"copies": 1},
        ),
        ("events", "/v1/trainings", training(material_ids=[material_id, material_id]), {"attendees": 1}),
    ]


async def test_every_create_by_id_answers_a_repeat_with_the_stored_record(two: dict[str, Any]) -> None:
    clients = {"audits": two["admin_audits"], "events": two["admin_events"]}
    material_id = (await clients["events"].post("/v1/materials", json=material())).json()["id"]
    for service, path, body, change in _creates(two["a"], material_id):
        body = body | {"id": str(uuid.uuid4())}
        first = await clients[service].post(path, json=body)
        assert first.status_code == 201, f"{path}: {first.text}"
        again = await clients[service].post(path, json=body)
        assert again.status_code == 200, f"{path}: {again.text}"
        assert again.json() == (await clients[service].get(first.headers["location"])).json(), path
        other = _problem(await clients[service].post(path, json=body | change), 409)
        assert other["errors"][0]["field"] == f"body.{next(iter(change))}", path
