"""Object-level authorization, walked over every route of the three OpenAPI documents.

An editor key of partnership A is pointed at partnership B on every operation
of the audits, events and metrics services:

- a route whose path names a partnership's record, given B's: 403 or 404;
- a create, given the ``id`` of B's record of that kind (a replay of a create
  by its id): 403 or 404;
- a list or aggregate filtered by B's id (``?partnership_id=B``): 403, 404 or
  an empty page, never B's figures;
- every route, lists and aggregates included: nothing of B's (its records'
  ids and texts) beyond what the same request without a key shows the public.

At the end B's records are as they were.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from tests import factories
from tests.e2e.processes import Platform
from tests.integration.events.factories import distribution, event, material, stakeholder, training

pytestmark = pytest.mark.e2e

# Path and query parameters that name a record of one partnership.
SCOPED = ("partnership_id", "audit_id", "recommendation_id", "event_id", "stakeholder_id", "photo_id",
          "audit_request_id")  # fmt: skip


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "gray").save(out, format="PNG")
    return out.getvalue()


PNG = _png()


def _create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _partnership_records(audits: httpx.Client, events: httpx.Client, mark: str) -> dict[str, Any]:
    """A partnership with one record of every kind; every text carries ``mark``."""
    n = _create(audits, "/v1/neighbourhoods", factories.neighbourhood())
    p = _create(audits, "/v1/partnerships", factories.partnership([n["id"]], name=f"{mark} partnership"))
    a = _create(audits, "/v1/audits", factories.audit(p["id"], n["id"], site_name=f"{mark} site"))
    # a category hidden from the public: only keys that see B may read it
    hidden = factories.recommendation(category="surveillance", description=f"{mark} recommendation")
    r = _create(audits, f"/v1/audits/{a['id']}/recommendations", hidden)
    e = _create(events, "/v1/events", event([p["id"]], neighbourhood_id=n["id"], description=f"{mark} event"))
    s = _create(events, "/v1/stakeholders", stakeholder(p["id"], neighbourhood_id=n["id"], name=f"{mark} people"))
    photo = audits.post(f"/v1/audits/{a['id']}/photos", files={"file": ("site.png", PNG, "image/png")})
    assert photo.status_code == 201, photo.text
    request = _create(
        audits, "/v1/audit-requests", {"place": "Alley", "description": f"{mark} request", "neighbourhood_id": n["id"]}
    )
    return {"partnership_id": p["id"], "audit_id": a["id"], "recommendation_id": r["id"], "event_id": e["id"],
            "stakeholder_id": s["id"], "photo_id": photo.json()["id"], "audit_request_id": request["id"],
            "neighbourhood_id": n["id"], "mark": mark}  # fmt: skip


def _replays(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Creates with the id of B's record of the same kind, otherwise valid for A."""
    pa, na = a["partnership_id"], a["neighbourhood_id"]
    return {
        "POST /v1/audits": factories.audit(pa, na) | {"id": b["audit_id"]},
        "POST /v1/audits/{audit_id}/recommendations": factories.recommendation() | {"id": b["recommendation_id"]},
        "POST /v1/events": event([pa], neighbourhood_id=na) | {"id": b["event_id"]},
        "POST /v1/stakeholders": stakeholder(pa, neighbourhood_id=na) | {"id": b["stakeholder_id"]},
        "POST /v1/audit-requests": {"place": "Alley", "description": "dark", "id": b["audit_request_id"]},
        "POST /v1/partnerships": factories.partnership([na]) | {"id": b["partnership_id"]},
    }


BODIES: dict[str, Any] = {
    "POST /v1/audits/{audit_id}/recommendations": factories.recommendation(),
    "POST /v1/recommendations/{recommendation_id}/transitions": {"to": "accepted", "on": "2025-05-01"},
}


class Walk:
    def __init__(self, platform: Platform, key: str, a: dict[str, Any], b: dict[str, Any], others: dict[str, str]):
        self.platform, self.key, self.a, self.b, self.others = platform, key, a, b, others
        self.markers = [str(v) for k, v in b.items() if k in SCOPED or k == "mark"]
        self.walked: list[str] = []

    def leaked(self, text: str, asked: Any = "") -> set[str]:
        """B's ids and texts in an answer, but for those the request itself named (a 404 echoes the id)."""
        return {m for m in self.markers if m in text and m not in str(asked)}

    def request(self, service: str, method: str, url: str, *, key: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.request(method, f"{self.platform.url(service)}{url}", headers=headers, timeout=60, **kw)

    def beyond_public(self, service: str, method: str, url: str, r: httpx.Response, body: Any) -> set[str]:
        """What of B's the editor got that the public does not get from the same GET."""
        found = self.leaked(r.text, (url, body))
        if found and method == "GET":
            found -= self.leaked(self.request(service, method, url, key=None).text)
        return found

    def send(self, service: str, method: str, path: str, url: str, body: Any) -> httpx.Response:
        if method == "POST" and path.endswith("/photos"):  # a real image, so only access can refuse it
            return self.request(service, method, url, key=self.key, files={"file": ("site.png", PNG, "image/png")})
        return self.request(service, method, url, key=self.key, json=body)

    def operation(self, service: str, method: str, path: str, spec: dict[str, Any]) -> None:
        names = re.findall(r"{(\w+)}", path)
        label = f"{service} {method} {path}"
        body = BODIES.get(f"{method} {path}", {} if method in ("POST", "PATCH", "PUT") else None)
        scoped = [n for n in names if n in SCOPED]
        for values in self.path_values(path, names):
            url = path.format(**values)
            r = self.send(service, method, path, url, body)
            if scoped:
                assert r.status_code in (403, 404), f"{label} with B's ids: {r.status_code} {r.text[:300]}"
            leaked = self.beyond_public(service, method, url, r, body)
            assert not leaked, f"{label} shows B's {leaked}: {r.text[:300]}"
        replay = _replays(self.a, self.b).get(f"{method} {path}")
        if replay is not None:
            url = path.format(**{n: self.a[n] for n in names})
            r = self.send(service, method, path, url, replay)
            assert r.status_code in (403, 404), f"{label} replaying B's id: {r.status_code} {r.text[:300]}"
            leaked = self.leaked(r.text, (url, replay))
            assert not leaked, f"{label} replaying B's id shows {leaked}: {r.text[:300]}"
        elif method == "POST" and not names:  # any other create, given the id of one of B's records
            r = self.send(service, method, path, path, {"id": self.b["partnership_id"]})
            assert not self.leaked(r.text, self.b["partnership_id"]), f"{label} given B's id: {r.text[:300]}"
        if method == "GET":
            self.filtered(service, path, names, spec)
        self.walked.append(label)

    def filtered(self, service: str, path: str, names: list[str], spec: dict[str, Any]) -> None:
        """A list or aggregate asked for B's records by a query parameter."""
        query = [p["name"] for p in spec.get("parameters", []) if p["in"] == "query" and p["name"] in SCOPED]
        if not query or any(n in SCOPED for n in names):
            return
        values = next(iter(self.path_values(path, names)))
        url = path.format(**values)
        r = self.request(service, "GET", url, key=self.key, params={q: self.b[q] for q in query})
        label = f"{service} GET {path}?{'&'.join(query)}=B"
        assert r.status_code in (200, 403, 404), f"{label}: {r.status_code} {r.text[:300]}"
        leaked = self.leaked(r.text, [self.b[q] for q in query])
        assert not leaked, f"{label} shows B's {leaked}: {r.text[:300]}"
        if r.status_code == 200 and r.headers["content-type"].startswith("application/json"):
            answer = r.json()
            rows = answer.get("items", answer.get("features")) if isinstance(answer, dict) else answer
            assert rows == [], f"{label} answers B's figures or records: {r.text[:300]}"

    def path_values(self, path: str, names: list[str]) -> list[dict[str, str]]:
        """B's ids for what belongs to a partnership; real values for the rest (one set per OGC collection)."""
        values = {n: self.b[n] for n in names if n in SCOPED or n == "neighbourhood_id"}
        values |= {n: self.others[n] for n in names if n in self.others}
        if "collection_id" not in names:
            return [values]
        collections = self.request("audits", "GET", "/ogc/collections", key=None).json()["collections"]
        return [values | {"collection_id": c["id"]} for c in collections]


def _wait_for_figures(metrics: httpx.Client, partnership_ids: set[str]) -> None:
    """B's figures are in the projections before the aggregates are walked."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = metrics.get("/v1/totals/by-partnership").json()
        if partnership_ids <= {row["id"] for row in rows if row["audits"]}:
            return
        time.sleep(0.2)
    raise AssertionError("the metrics consumer did not apply the partnerships' events")


def test_an_editor_of_a_cannot_reach_b_on_any_route(platform: Platform) -> None:
    admin = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    with (
        httpx.Client(base_url=platform.url("audits"), headers=admin, timeout=30) as audits_admin,
        httpx.Client(base_url=platform.url("events"), headers=admin, timeout=30) as events_admin,
        httpx.Client(base_url=platform.url("metrics"), headers=admin, timeout=30) as metrics_admin,
    ):
        a = _partnership_records(audits_admin, events_admin, f"A{uuid.uuid4().hex[:10]}")
        b = _partnership_records(audits_admin, events_admin, f"B{uuid.uuid4().hex[:10]}")
        m = _create(events_admin, "/v1/materials", material())
        others = {
            "material_id": m["id"],
            "distribution_id": _create(events_admin, "/v1/distributions", distribution(m["id"]))["id"],
            "training_id": _create(events_admin, "/v1/trainings", training(material_ids=[m["id"]]))["id"],
            "lang": "en", "letter_id": "1-1", "key_id": str(uuid.uuid4()), "date": "2025-06-01", "fmt": "json",
            "service_code": "lighting", "service_request_id": b["audit_request_id"], "token": str(uuid.uuid4()),
            "feature_id": b["audit_id"],
        }  # fmt: skip
        key = _create(audits_admin, "/v1/keys", {"name": "editor A", "scope": "editor",
                                                   "partnership_ids": [a["partnership_id"]]})["key"]  # fmt: skip
        _wait_for_figures(metrics_admin, {a["partnership_id"], b["partnership_id"]})
        before = _state_of(audits_admin, events_admin, b)
        walk = Walk(platform, key, a, b, others)
        for service in ("audits", "events", "metrics"):
            spec = httpx.get(f"{platform.url(service)}/openapi.json").json()
            for path, operations in spec["paths"].items():
                for method, operation in operations.items():
                    walk.operation(service, method.upper(), path, operation)
        assert _state_of(audits_admin, events_admin, b) == before
    assert len(walk.walked) >= 100, walk.walked
    print(f"walked all {len(walk.walked)} operations of the three documents with B's ids")


def _state_of(audits: httpx.Client, events: httpx.Client, b: dict[str, Any]) -> list[Any]:
    return [
        audits.get(f"/v1/partnerships/{b['partnership_id']}").json(),
        audits.get(f"/v1/audits/{b['audit_id']}").json(),
        audits.get(f"/v1/recommendations/{b['recommendation_id']}").json(),
        audits.get(f"/v1/audit-requests/{b['audit_request_id']}").json(),
        audits.get(f"/v1/photos/{b['photo_id']}").json(),
        events.get(f"/v1/events/{b['event_id']}").json(),
        events.get(f"/v1/stakeholders/{b['stakeholder_id']}").json(),
    ]
