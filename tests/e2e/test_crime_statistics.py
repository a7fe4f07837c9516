"""Crime statistics on the real processes: the demo's evaluations over HTTP, the chart, a streamed CSV upload."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from cpted.demo.audits import AUDITS, _id, load_demo
from cpted.demo.crime import load_crime_demo
from shared.db.engine import async_url
from tests.e2e.processes import Platform

pytestmark = pytest.mark.e2e

CONTRACT_FIELDS = {
    "audit_id", "intervention_date", "window_days", "target", "control", "buffer", "buffer_control",
    "percent_change", "odds_ratio", "odds_ratio_ci95", "relative_effect_percent", "wdq", "wdd", "wdd_z",
    "significant", "before_window", "after_window", "method", "complete",
}  # fmt: skip


def _load_demo(database_url: str) -> None:
    async def load() -> None:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            await load_demo(engine)
            await load_crime_demo(engine)
        finally:
            await engine.dispose()

    asyncio.run(load())


def _wait_for_audits(client: httpx.Client, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        totals = client.get("/v1/totals").json()
        if totals["audits"] >= count and totals["lag_events"] == 0:
            return
        time.sleep(0.2)
    raise TimeoutError("the consumer did not catch up")


def test_demo_evaluations_chart_and_upload_over_http(platform: Platform) -> None:
    _load_demo(platform.env["CPTED_DATABASE_URL"])
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    with httpx.Client(base_url=platform.url("metrics"), headers=headers, timeout=30) as metrics:
        _wait_for_audits(metrics, len(AUDITS))
        audit = _id("audit", AUDITS[4].name)
        r = metrics.get(f"/v1/evaluations/audits/{audit}", params={"buffer_m": 250})
        assert r.status_code == 200, r.text
        body = r.json()
        assert CONTRACT_FIELDS <= set(body) and body["target"]["before"] > 0 and body["buffer"] is not None
        chart = metrics.get(f"/v1/evaluations/audits/{audit}/chart.png")
        assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
        assert metrics.get("/v1/evaluations/summary").json()["pooled"]["audits"] > 0
        assert len(metrics.get("/v1/targeting").json()["items"]) == 8

        def body_in_pieces():  # type: ignore[no-untyped-def]
            yield b"Incident Number,Offence,Occurred,X,Y\n"
            for n in range(30_000):  # about 1.4 MB: past the default body limit of 1 MiB
                yield f"UP{n},Mischief,2025-0{n % 9 + 1}-15 12:00,-83.03,42.31\n".encode()

        upload = metrics.post(
            "/v1/crime-incidents/import", params={"source": "e2e"}, content=body_in_pieces(),
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        assert upload.status_code == 201, upload.text
        assert (upload.json()["stored"], upload.json()["unassigned"]) == (30_000, 0)
