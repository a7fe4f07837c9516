"""Rebuilding the projections from a large event log.

The log is written straight into the audits outbox with COPY (as a year of a
busy programme would leave it); the rebuild then reads it over HTTP from the
running audits service, exactly as ``cpted rebuild-metrics`` does.
"""

from __future__ import annotations

import time

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Figure, audit_events
from bench.servers import serving
from services.metrics.projection.commands import rebuild
from shared.db.engine import plain_url
from shared.settings import Settings

CHUNK = 50_000


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
        # As autovacuum would have left a log written over months (this machine's server runs without it), and
        # with the bulk write's dirty pages on disk: the rebuild's time is not the write's.
        await conn.execute("VACUUM ANALYZE audits.outbox")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


REBUILD_TARGET = 50_000
"""Events per second: a city with 100M logged events rebuilds in under an hour."""


async def replay_figures(settings: Settings, engine: AsyncEngine, key: str, total: int) -> list[Figure]:
    headers = {"Authorization": f"Bearer {key}"}
    with serving("services.audits.app:create_app", health="/healthz") as audits_port:
        await write_log(settings, total)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{audits_port}", headers=headers, timeout=120) as log:
            start = time.perf_counter()
            applied = await rebuild(engine, {"audits": log})
            seconds = time.perf_counter() - start
    rate = applied / seconds
    return [
        Figure(f"rebuild from {total:,} logged events", rate, "events/s", None, "", f">= {REBUILD_TARGET:,}/s",
               rate >= REBUILD_TARGET, f"{seconds:.1f} s for {applied:,} events", samples=applied),
    ]  # fmt: skip
