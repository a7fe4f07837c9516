"""The real processes over HTTP: totals match the accepted writes exactly, through crashes too."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from redis import Redis

from tests.e2e.processes import Platform
from tests.e2e.scenario import TIMEOUT_S, Ledger, clients, implement, wait_for, write_world

pytestmark = pytest.mark.e2e


async def test_totals_follow_every_accepted_write(platform: Platform) -> None:
    api, metrics = clients(platform)
    async with api, metrics:
        ledger = Ledger()
        world = await write_world(api, ledger, audits=4, recs_per_audit=8)
        for rec_id in list(ledger.recs)[:5]:
            await implement(api, ledger, rec_id)
        doomed = next(iter(ledger.audits))
        assert (await api.delete(f"/v1/audits/{doomed}")).status_code == 204
        del ledger.audits[doomed]
        got = await wait_for(metrics, ledger, world["partnership"]["id"])
        assert got["partnerships"] == 1


async def test_consumer_killed_mid_batch_loses_and_doubles_nothing(platform: Platform) -> None:
    api, metrics = clients(platform)
    redis = Redis.from_url(platform.env["CPTED_REDIS_URL"])
    stream = f"{platform.env['CPTED_STREAM_PREFIX']}:audits"
    platform.procs["consumer-1"].stop()
    async with api, metrics:
        ledger = Ledger()
        world = await write_world(api, ledger, audits=6, recs_per_audit=60)
        for rec_id in list(ledger.recs)[:12]:
            await implement(api, ledger, rec_id)
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
        await wait_for(metrics, ledger, world["partnership"]["id"])
    redis.close()


async def test_rebuild_from_the_event_logs_gives_identical_totals(platform: Platform) -> None:
    api, metrics = clients(platform)
    async with api, metrics:
        ledger = Ledger()
        await write_world(api, ledger, audits=2, recs_per_audit=5)
        await implement(api, ledger, next(iter(ledger.recs)))
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
