"""A scenario of writes with an independent ledger of what the totals must be."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx

from shared.db.engine import plain_url
from tests import factories
from tests.e2e.processes import LOGS, Platform

TIMEOUT_S = 30


class Ledger:
    """What the accepted writes say the totals must be, computed independently of the platform."""

    def __init__(self) -> None:
        self.audits: dict[str, dict[str, Any]] = {}
        self.recs: dict[str, dict[str, Any]] = {}

    def expected(self) -> dict[str, Any]:
        live = [r for r in self.recs.values() if r["audit_id"] in self.audits]
        return {
            "audits": len(self.audits),
            "recommendations": len(live),
            "recommendations_implemented": sum(r["status"] == "implemented" for r in live),
            "by_category": Counter(r["category"] for r in live),
        }


async def write_world(api: httpx.AsyncClient, ledger: Ledger, audits: int, recs_per_audit: int) -> dict[str, Any]:
    n1 = (await api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await api.post("/v1/partnerships", json=factories.partnership([n1["id"]]))).json()
    for i in range(audits):
        a = (
            await api.post("/v1/audits", json=factories.audit(p["id"], n1["id"], conducted_on=f"2025-03-{i + 1:02d}"))
        ).json()
        ledger.audits[a["id"]] = a
    categories = ["lighting", "traffic_calming", "landscaping", "signage"]

    async def add(audit_id: str, k: int) -> None:
        body = factories.recommendation(category=categories[k % 4])
        r = await api.post(f"/v1/audits/{audit_id}/recommendations", json=body)
        assert r.status_code == 201, r.text
        ledger.recs[r.json()["id"]] = r.json()

    await asyncio.gather(*(add(a, k) for a in list(ledger.audits) for k in range(recs_per_audit)))
    return {"partnership": p, "neighbourhood": n1}


async def post_until_answered(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], answers: Counter[str]
) -> dict[str, Any]:
    """POST with an Idempotency-Key, repeated until it is accepted, as a careful client does through an
    outage (503 with Retry-After, or a connection refused); ``answers`` counts every answer seen."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + TIMEOUT_S
    r: httpx.Response | None = None
    while True:
        try:
            r = await api.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            answers[type(exc).__name__] += 1
            r = None
        if r is not None:
            answers[str(r.status_code)] += 1
            if r.status_code in (200, 201):
                return dict(r.json())
            if r.status_code == 503:
                assert int(r.headers["retry-after"]) > 0 and r.json()["detail"], r.text
        assert time.monotonic() < deadline, f"Idempotency-Key {key} never got its answer: {r and r.text}"
        await asyncio.sleep(0.2)


async def implement(api: httpx.AsyncClient, ledger: Ledger, rec_id: str) -> None:
    for to, on in (("accepted", "2025-04-01"), ("in_progress", "2025-05-01"), ("implemented", "2025-06-01")):
        r = await api.post(f"/v1/recommendations/{rec_id}/transitions", json={"to": to, "on": on})
        assert r.status_code == 200, r.text
    ledger.recs[rec_id]["status"] = "implemented"


async def wait_for(metrics: httpx.AsyncClient, ledger: Ledger, partnership_id: str | None) -> dict[str, Any]:
    """Poll the totals (of one partnership, or overall) until they equal the ledger's."""
    want = ledger.expected()
    deadline = time.monotonic() + TIMEOUT_S
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        params = {"partnership_id": partnership_id} if partnership_id else {}
        got = (await metrics.get("/v1/totals", params=params)).json()
        seen = {
            "audits": got["audits"],
            "recommendations": got["recommendations"],
            "recommendations_implemented": got["recommendations_implemented"],
            "by_category": Counter({k: v for k, v in got["recommendations_by_category"].items() if v}),
        }
        if seen == want and got["lag_events"] == 0:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"totals never matched: want {want}, got {got}")


def clients(platform: Platform) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    limits = httpx.Limits(max_connections=20)
    return (
        httpx.AsyncClient(base_url=platform.url("audits"), headers=headers, timeout=30, limits=limits),
        httpx.AsyncClient(base_url=platform.url("metrics"), headers=headers, timeout=30),
    )


async def sql_value(platform: Platform, query: str) -> int:
    """One number from the platform's database."""
    conn = await asyncpg.connect(plain_url(platform.database_url))  # type: ignore[attr-defined]
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


def record(fault: str, **figures: float | str) -> None:
    """Print the figures and keep them beside the process logs."""
    line = f"{fault}: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(line)
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "convergence.txt", "a") as out:
        out.write(line + "\n")
