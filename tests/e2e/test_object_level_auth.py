"""Object-level authorization, walked over every route of every OpenAPI document.

An editor key of partnership A, pointed at partnership B's records on any
route, gets 403 or 404 and changes nothing; B's records never appear in A's lists.
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from tests import factories
from tests.e2e.processes import Platform
from tests.integration.events.factories import event, stakeholder

pytestmark = pytest.mark.e2e

# Records that belong to no partnership (shared reference data) are readable by every key.
NOT_PARTNERSHIP_SCOPED = {"neighbourhood_id", "material_id", "distribution_id", "training_id", "lang", "letter_id"}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "gray").save(out, format="PNG")
    return out.getvalue()


PNG = _png()
BODIES: dict[str, Any] = {
    "POST /v1/audits/{audit_id}/recommendations": factories.recommendation(),
    "POST /v1/recommendations/{recommendation_id}/transitions": {"to": "accepted", "on": "2025-05-01"},
}


def _create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _partnership_records(audits: httpx.Client, events: httpx.Client) -> dict[str, str]:
    n = _create(audits, "/v1/neighbourhoods", factories.neighbourhood())
    p = _create(audits, "/v1/partnerships", factories.partnership([n["id"]]))
    a = _create(audits, "/v1/audits", factories.audit(p["id"], n["id"]))
    r = _create(audits, f"/v1/audits/{a['id']}/recommendations", factories.recommendation())
    e = _create(events, "/v1/events", event([p["id"]], neighbourhood_id=n["id"]))
    s = _create(events, "/v1/stakeholders", stakeholder(p["id"], neighbourhood_id=n["id"]))
    photo = audits.post(f"/v1/audits/{a['id']}/photos", files={"file": ("site.png", PNG, "image/png")})
    assert photo.status_code == 201, photo.text
    request = _create(
        audits, "/v1/audit-requests", {"place": "Alley", "description": "dark", "neighbourhood_id": n["id"]}
    )
    return {"partnership_id": p["id"], "audit_id": a["id"], "recommendation_id": r["id"], "event_id": e["id"],
            "stakeholder_id": s["id"], "photo_id": photo.json()["id"], "audit_request_id": request["id"]}  # fmt: skip


def _operations(client: httpx.Client) -> list[tuple[str, str, list[str]]]:
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path, re.findall(r"{(\w+)}", path))
        for path, ops in spec["paths"].items()
        for method in ops
        if path.startswith("/v1/")
    ]


def test_an_editor_of_a_cannot_reach_b_on_any_route(platform: Platform) -> None:
    admin = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    with (
        httpx.Client(base_url=platform.url("audits"), headers=admin, timeout=30) as audits_admin,
        httpx.Client(base_url=platform.url("events"), headers=admin, timeout=30) as events_admin,
    ):
        a = _partnership_records(audits_admin, events_admin)
        b = _partnership_records(audits_admin, events_admin)
        key = _create(audits_admin, "/v1/keys", {"name": "editor A", "scope": "editor",
                                                   "partnership_ids": [a["partnership_id"]]})["key"]  # fmt: skip
    editor = {"Authorization": f"Bearer {key}"}
    walked, skipped = 0, []
    for service in ("audits", "events", "metrics"):
        with httpx.Client(base_url=platform.url(service), headers=editor, timeout=30) as client:
            for method, path, params in _operations(client):
                if not params:
                    continue
                if any(p in NOT_PARTNERSHIP_SCOPED or p not in b for p in params):
                    skipped.append(f"{method} {path}")
                    continue
                url = path.format(**{p: b[p] for p in params})
                if method == "POST" and path.endswith("/photos"):  # a real image, so only access can refuse it
                    r = client.post(url, files={"file": ("site.png", PNG, "image/png")})
                else:
                    body = BODIES.get(f"{method} {path}", {} if method in ("POST", "PATCH", "PUT") else None)
                    r = client.request(method, url, json=body)
                assert r.status_code in (403, 404), f"{method} {path}: {r.status_code} {r.text[:300]}"
                walked += 1
        _lists_hide_b(platform, editor, b)
    assert walked >= 10, f"only {walked} routes walked; skipped {skipped}"
    print(f"walked {walked} routes with B's ids; skipped (not partnership-scoped): {skipped}")


def _lists_hide_b(platform: Platform, editor: dict[str, str], b: dict[str, str]) -> None:
    lists = {("audits", "/v1/audits"): "audit_id", ("audits", "/v1/recommendations"): "recommendation_id",
             ("audits", "/v1/partnerships"): "partnership_id", ("events", "/v1/events"): "event_id",
             ("events", "/v1/stakeholders"): "stakeholder_id"}  # fmt: skip
    for (service, path), param in lists.items():
        r = httpx.get(f"{platform.url(service)}{path}", headers=editor, params={"limit": 500})
        assert r.status_code == 200, r.text
        assert b[param] not in {item["id"] for item in r.json()["items"]}, f"{path} shows B's record"
