"""The real processes over HTTP: totals match the accepted writes exactly, through crashes too."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from redis import Redis

from tests import factories
from tests.e2e.processes import Platform

pytestmark = pytest.mark.e2e

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


async def _write_world(api: httpx.AsyncClient, ledger: Ledger, audits: int, recs_per_audit: int) -> dict[str, Any]:
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


async def _implement(api: httpx.AsyncClient, ledger: Ledger, rec_id: str) -> None:
    for to, on in (("accepted", "2025-04-01"), ("in_progress", "2025-05-01"), ("implemented", "2025-06-01")):
        r = await api.post(f"/v1/recommendations/{rec_id}/transitions", json={"to": to, "on": on})
        assert r.status_code == 200, r.text
    ledger.recs[rec_id]["status"] = "implemented"


async def _wait_for(metrics: httpx.AsyncClient, ledger: Ledger, partnership_id: str) -> dict[str, Any]:
    want = ledger.expected()
    deadline = time.monotonic() + TIMEOUT_S
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = (await metrics.get("/v1/totals", params={"partnership_id": partnership_id})).json()
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


def _clients(platform: Platform) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    limits = httpx.Limits(max_connections=20)
    return (
        httpx.AsyncClient(base_url=platform.url("audits"), headers=headers, timeout=30, limits=limits),
        httpx.AsyncClient(base_url=platform.url("metrics"), headers=headers, timeout=30),
    )


async def test_totals_follow_every_accepted_write(platform: Platform) -> None:
    api, metrics = _clients(platform)
    async with api, metrics:
        ledger = Ledger()
        world = await _write_world(api, ledger, audits=4, recs_per_audit=8)
        for rec_id in list(ledger.recs)[:5]:
            await _implement(api, ledger, rec_id)
        doomed = next(iter(ledger.audits))
        assert (await api.delete(f"/v1/audits/{doomed}")).status_code == 204
        del ledger.audits[doomed]
        got = await _wait_for(metrics, ledger, world["partnership"]["id"])
        assert got["partnerships"] == 1


async def test_consumer_killed_mid_batch_loses_and_doubles_nothing(platform: Platform) -> None:
    api, metrics = _clients(platform)
    redis = Redis.from_url(platform.env["CPTED_REDIS_URL"])
    stream = f"{platform.env['CPTED_STREAM_PREFIX']}:audits"
    platform.procs["consumer-1"].stop()
    async with api, metrics:
        ledger = Ledger()
        world = await _write_world(api, ledger, audits=6, recs_per_audit=60)
        for rec_id in list(ledger.recs)[:12]:
            await _implement(api, ledger, rec_id)
        victim = platform.start_cli(
            "consumer-2", "consume", CPTED_CONSUMER_NAME="consumer-2", CPTED_CONSUMER_BATCH="50"
        )
        deadline = time.monotonic() + TIMEOUT_S
        pending = 0
        while time.monotonic() < deadline:
            summary = redis.xpending(stream, "metrics")
            pending = next((int(c["pending"]) for c in summary["consumers"] if c["name"] == b"consumer-2"), 0)
            if pending:
                break
        victim.signal(signal.SIGKILL)
        assert pending > 0, "the consumer was not killed while holding a batch"
        platform.start_cli("consumer-3", "consume", CPTED_CONSUMER_NAME="consumer-3")
        await _wait_for(metrics, ledger, world["partnership"]["id"])
    redis.close()


async def test_rebuild_from_the_event_logs_gives_identical_totals(platform: Platform) -> None:
    api, metrics = _clients(platform)
    async with api, metrics:
        ledger = Ledger()
        await _write_world(api, ledger, audits=2, recs_per_audit=5)
        await _implement(api, ledger, next(iter(ledger.recs)))
        before = await _settled_totals(metrics)
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cpted", "rebuild-metrics", "--api-key", platform.api_key],  # type: ignore[attr-defined]
            env=platform.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        after = (await metrics.get("/v1/totals")).json()
        assert _without_clock(after) == _without_clock(before)
        by_partnership = (await metrics.get("/v1/totals/by-partnership")).json()
        assert sum(row["recommendations"] for row in by_partnership) == before["recommendations"]


async def _settled_totals(metrics: httpx.AsyncClient) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        got = (await metrics.get("/v1/totals")).json()
        if got["lag_events"] == 0:
            await asyncio.sleep(0.5)
            again = (await metrics.get("/v1/totals")).json()
            if _without_clock(again) == _without_clock(got):
                return got
        await asyncio.sleep(0.1)
    raise AssertionError("the consumer never caught up")


def _without_clock(totals: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in totals.items() if k != "as_of"}
