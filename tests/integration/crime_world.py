"""A small, exactly known world for the crime statistics tests.

Three square neighbourhoods (Windsor: target and control side by side with
a 0.002 degree gap, about 164 m; one in Tecumseh), an audit of the target on
2025-01-15 whose first recommendation was implemented on 2025-03-01, and
incidents whose every count is written down here.
"""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.integration.test_bus import _consume_all, _consumer, _relay_all

TARGET_AT, CONTROL_AT = (-83.045, 42.305), (-83.033, 42.305)
GAP_AT = (-83.039, 42.305)  # about 82 m east of the target, 82 m west of the control
EAST_OF_CONTROL_AT = (-83.0275, 42.305)  # about 41 m east of the control, far from the target
NOWHERE_AT = (-83.10, 42.20)
INTERVENTION = "2025-03-01"

# (where, local dates) with window_days=30: before 2025-01-30..2025-02-28, after 2025-03-02..2025-03-31.
PLAN = {
    "target": (TARGET_AT, ["2025-02-01", "2025-02-10", "2025-02-20", "2025-02-27", "2025-03-05", "2025-03-20"]),
    "control": (CONTROL_AT, [f"2025-02-{d:02d}" for d in range(1, 11)] + [f"2025-03-{d:02d}" for d in range(11, 21)]),
    "buffer": (GAP_AT, ["2025-02-02", "2025-02-03", "2025-02-04", "2025-03-10"]),
    "buffer_control": (EAST_OF_CONTROL_AT, ["2025-02-05", "2025-02-06", "2025-03-06", "2025-03-07"]),
    # Outside both windows or on the intervention day: counted nowhere.
    "target_ignored": (TARGET_AT, ["2025-01-29", "2025-03-01", "2025-04-01"]),
    "unassigned": (NOWHERE_AT, ["2025-02-15"]),
}
EXPECTED = {
    "target": {"before": 4, "after": 2},
    "control": {"before": 10, "after": 10},
    "buffer": {"before": 3, "after": 1},
    "buffer_control": {"before": 2, "after": 2},
}


async def sync_metrics(engine: AsyncEngine, redis: Redis) -> None:
    """Relay the audits outbox and let a consumer apply it, as the running platform does."""
    await _relay_all(redis)
    await _consume_all(_consumer(engine, redis))


def incident(external_id: str, at: tuple[float, float] | None, local_noon: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "source": "wps",
        "category": "Break and Enter",
        "occurred_at": f"{local_noon}T12:00:00-05:00",
    }
    if at:
        body["location"] = {"type": "Point", "coordinates": list(at)}
    return body | extra


def planned_incidents() -> list[dict[str, Any]]:
    return [
        incident(f"{area}-{n}", at, day) for area, (at, days) in PLAN.items() for n, day in enumerate(days, start=1)
    ]


async def build(audits_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis) -> dict[str, Any]:
    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await audits_api.post(path, json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    target = await post(
        "/v1/neighbourhoods", factories.neighbourhood(boundary=factories.square(-83.05, 42.30), population=4000)
    )
    control = await post("/v1/neighbourhoods", factories.neighbourhood(boundary=factories.square(-83.038, 42.30)))
    elsewhere = await post(
        "/v1/neighbourhoods", factories.neighbourhood(municipality="Tecumseh", boundary=factories.square(-83.05, 42.32))
    )
    partnership = await post("/v1/partnerships", factories.partnership([target["id"], control["id"]]))
    audit = await post("/v1/audits", factories.audit(partnership["id"], target["id"], conducted_on="2025-01-15"))
    rec = await post(f"/v1/audits/{audit['id']}/recommendations", factories.recommendation())
    for to, day in (("accepted", "2025-01-20"), ("in_progress", "2025-02-01"), ("implemented", INTERVENTION)):
        r = await audits_api.post(f"/v1/recommendations/{rec['id']}/transitions", json={"to": to, "on": day})
        assert r.status_code == 200, r.text
    await sync_metrics(engine, redis)
    return {"target": target, "control": control, "elsewhere": elsewhere, "audit": audit, "recommendation": rec}
