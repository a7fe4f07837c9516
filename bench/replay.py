"""Rebuilding the projections from a large event log, and totals latency before and after.

The log is written straight into the audits outbox with COPY (as a year of a
busy programme would leave it); the rebuild then reads it over HTTP from the
running audits service, exactly as ``cpted rebuild-metrics`` does.
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Figure, audit_events
from bench.servers import serving
from services.metrics.projection.commands import rebuild
from shared.db.engine import plain_url
from shared.settings import Settings

CHUNK = 50_000
TOTALS_READS = 300


def totals_latency(metrics_url: str, key: str) -> float:
    """Median latency of GET /v1/totals, in ms."""
    with httpx.Client(base_url=metrics_url, headers={"Authorization": f"Bearer {key}"}) as client:
        client.get("/v1/totals")
        samples = []
        for _ in range(TOTALS_READS):
            start = time.perf_counter()
            client.get("/v1/totals").raise_for_status()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def write_log(settings: Settings, total: int) -> None:
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    try:
        await conn.execute("TRUNCATE audits.outbox RESTART IDENTITY")
        for start in range(0, total, CHUNK):
            events = audit_events(min(CHUNK, total - start), seed=start)
            records = [(e.id, e.type, e.version, e.subject_id, e.to_json().decode()) for e in events]
            await conn.copy_records_to_table(
                "outbox", schema_name="audits", records=records,
                columns=["id", "type", "version", "subject_id", "envelope"],
            )  # fmt: skip
    finally:
        await conn.close()


async def replay_figures(settings: Settings, engine: AsyncEngine, key: str, total: int) -> list[Figure]:
    headers = {"Authorization": f"Bearer {key}"}
    with ExitStack() as stack:
        audits_port = stack.enter_context(serving("services.audits.app:create_app", health="/healthz"))
        metrics_port = stack.enter_context(serving("services.metrics.app:create_app", health="/healthz"))
        metrics_url = f"http://127.0.0.1:{metrics_port}"
        await write_log(settings, 1_000)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{audits_port}", headers=headers, timeout=120) as log:
            await rebuild(engine, {"audits": log}, page_size=5000)
            small = totals_latency(metrics_url, key)
            await write_log(settings, total)
            start = time.perf_counter()
            applied = await rebuild(engine, {"audits": log}, page_size=5000)
            seconds = time.perf_counter() - start
        large = totals_latency(metrics_url, key)
    return [
        Figure(f"rebuild from {total:,} logged events", applied / seconds, "events/s", None, "", "report", None,
               f"{seconds:.1f} s for {applied:,} events", samples=applied),
        Figure("/v1/totals p50 at 1M vs 1k events", large, "ms", small, "the same at 1k applied events",
               "same within noise", large <= small * 1.5 + 1, samples=TOTALS_READS),
    ]  # fmt: skip
