"""Dates and links that must stay consistent between audits, partnerships and recommendations."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories


async def _rec(api: httpx.AsyncClient, audit_id: str, **overrides: Any) -> dict[str, Any]:
    r = await api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_step_cannot_predate_its_audit(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    rec = await _rec(audits_api, world["audit"]["id"])
    r = await audits_api.post(
        f"/v1/recommendations/{rec['id']}/transitions", json={"to": "accepted", "on": "2025-04-09"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.on"


async def test_a_step_cannot_be_in_the_future(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    rec = await _rec(audits_api, world["audit"]["id"])
    r = await audits_api.post(
        f"/v1/recommendations/{rec['id']}/transitions", json={"to": "accepted", "on": "2099-01-01"}
    )
    assert r.status_code == 422


async def test_an_audit_cannot_move_after_its_recommendations_moved(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    audit_id = world["audit"]["id"]
    rec = await _rec(audits_api, audit_id)
    await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": "accepted", "on": "2025-05-01"})
    late = await audits_api.patch(f"/v1/audits/{audit_id}", json={"conducted_on": "2025-06-01"})
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "body.conducted_on"
    early = await audits_api.patch(f"/v1/audits/{audit_id}", json={"conducted_on": "2025-04-01"})
    assert early.status_code == 200


async def test_expected_on_cannot_predate_the_audit(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    r = await audits_api.post(
        f"/v1/audits/{world['audit']['id']}/recommendations", json=factories.recommendation(expected_on="2024-01-01")
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.expected_on"


async def test_a_reused_id_under_another_audit_is_a_conflict(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    p, n2 = world["partnership"], world["n2"]
    other = (await audits_api.post("/v1/audits", json=factories.audit(p["id"], n2["id"]))).json()
    rec = await _rec(audits_api, world["audit"]["id"])
    r = await audits_api.post(f"/v1/audits/{other['id']}/recommendations", json=factories.recommendation(id=rec["id"]))
    assert r.status_code == 409


async def test_a_partnership_keeps_the_neighbourhoods_its_audits_are_in(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    p, n1, n2 = world["partnership"], world["n1"], world["n2"]
    r = await audits_api.patch(f"/v1/partnerships/{p['id']}", json={"neighbourhood_ids": [n2["id"]]})
    assert r.status_code == 409
    ok = await audits_api.patch(f"/v1/partnerships/{p['id']}", json={"neighbourhood_ids": [n1["id"]]})
    assert ok.status_code == 200
    assert ok.json()["neighbourhood_ids"] == [n1["id"]]


async def test_the_status_note_follows_the_latest_step(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    rec = await _rec(audits_api, world["audit"]["id"])
    url = f"/v1/recommendations/{rec['id']}/transitions"
    await audits_api.post(url, json={"to": "deferred", "on": "2025-05-01", "note": "Deferred to next year's budget"})
    reopened = await audits_api.post(url, json={"to": "accepted", "on": "2026-01-10"})
    assert reopened.json()["status"] == "accepted"
    assert reopened.json()["status_note"] is None
