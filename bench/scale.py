"""The totals' reads at ten times the demo: their latency with 10M applied events against 1k.

The projections of the applied events are written by PostgreSQL itself
(``generate_series``), as the consumer leaves them: a processed id per event,
the latest state of every audit and recommendation (one audit and ten
recommendations, each proposed then accepted, per 21 events), and the
counters those states add up to, computed by the projections' own counting.
"""

from __future__ import annotations

import statistics
import time

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Figure
from bench.servers import serving
from services.metrics.totals.store.counting import counting_from
from services.metrics.totals.store.projections import PROJECTION_TABLES, run_long
from shared.settings import Settings

READS = 300
EVENTS_PER_AUDIT = 21
READS_MEASURED = {
    "/v1/totals": "/v1/totals",
    "/v1/totals/by-partnership": "/v1/totals/by-partnership",
    "/v1/totals/by-neighbourhood": "/v1/totals/by-neighbourhood",
    "a period's /v1/totals": "/v1/totals?from=2024-03-01&to=2024-08-31",
}

_PARTNERSHIP = "md5('p' || (i % 4))::uuid"
_NEIGHBOURHOOD = "md5('n' || (2 * (i % 4) + (i / 4) % 2))::uuid"
GENERATE = (
    """
    INSERT INTO metrics.processed_event (id, type)
    SELECT id, 'recommendation.status_changed'
    FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, :events)) AS g ORDER BY id
    """,
    """
    INSERT INTO metrics.subject (kind, id, version, parent_id, deleted, state)
    SELECT 'partnership', md5('p' || i)::uuid, 1, NULL, false,
           jsonb_build_object('id', md5('p' || i)::uuid, 'name', 'Partnership ' || i, 'police_service', 'Police',
                              'neighbourhood_ids',
                              jsonb_build_array(md5('n' || 2 * i)::uuid, md5('n' || 2 * i + 1)::uuid),
                              'status', 'active')
    FROM generate_series(0, 3) AS i
    """,
    f"""
    INSERT INTO metrics.subject (kind, id, version, parent_id, deleted, state)
    SELECT 'audit', md5('a' || i)::uuid, 1, NULL, false,
           jsonb_build_object('id', md5('a' || i)::uuid, 'partnership_id', {_PARTNERSHIP},
                              'neighbourhood_id', {_NEIGHBOURHOOD}, 'site_name', 'Laneway',
                              'conducted_on', date '2024-01-01' + i % 900, 'auditors', '[]'::jsonb,
                              'trigger', 'crime_statistics', 'findings', '[]'::jsonb, 'status', 'completed')
    FROM generate_series(0, :audits - 1) AS i ORDER BY md5('a' || i)
    """,
    """
    INSERT INTO metrics.subject (kind, id, version, parent_id, deleted, state)
    SELECT 'recommendation', md5('r' || i)::uuid, 2, md5('a' || i / 10)::uuid, false,
           jsonb_build_object('id', md5('r' || i)::uuid, 'audit_id', md5('a' || i / 10)::uuid,
                              'category', CASE WHEN i % 2 = 0 THEN 'lighting' ELSE 'traffic_calming' END,
                              'description', 'LED lighting', 'priority', 'high', 'status', 'accepted',
                              'from', 'proposed', 'to', 'accepted', 'on', date '2024-01-06' + (i / 10) % 900)
    FROM generate_series(0, :audits * 10 - 1) AS i ORDER BY md5('r' || i)
    """,
)


async def write_applied(engine: AsyncEngine, events: int, zone: str) -> float:
    """Projections of ``events`` applied events in place of the current ones; returns the seconds it took."""
    start = time.perf_counter()
    params = {"events": events, "audits": events // EVENTS_PER_AUDIT, "zone": zone}
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(f'metrics.{t}' for t in PROJECTION_TABLES)}"))
        await conn.execute(text("SET LOCAL work_mem = '256MB'"))
        counters = counting_from("metrics.subject", "metrics.counter_daily", "metrics.counter_total")
        for statement in (*(text(sql) for sql in GENERATE), *counters):
            await run_long(conn, statement, params)
        for table in PROJECTION_TABLES:  # as autovacuum would, on a platform that got there over months
            await run_long(conn, text(f"ANALYZE metrics.{table}"), {})
    return time.perf_counter() - start


def read_latency(metrics_url: str, key: str) -> dict[str, float]:
    """Median latency of each read measured, in ms."""
    medians = {}
    with httpx.Client(base_url=metrics_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for name, path in READS_MEASURED.items():
            client.get(path).raise_for_status()
            samples = []
            for _ in range(READS):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - start) * 1000)
            medians[name] = statistics.median(samples)
    return medians


async def figures(settings: Settings, engine: AsyncEngine, key: str, events: int) -> list[Figure]:
    with serving("services.metrics.app:create_app", health="/healthz") as port:
        url = f"http://127.0.0.1:{port}"
        await write_applied(engine, 1_000, settings.local_timezone)
        small = read_latency(url, key)
        seconds = await write_applied(engine, events, settings.local_timezone)
        large = read_latency(url, key)
    await write_applied(engine, 0, settings.local_timezone)
    note = f"{events:,} applied events written in {seconds:.0f} s"
    return [
        Figure(f"{name} p50 at {events / 1e6:g}M vs 1k events", large[name], "ms", small[name],
               "the same at 1k applied events", "within 2x", large[name] <= 2 * small[name],
               note if name == "/v1/totals" else "", samples=READS)
        for name in READS_MEASURED
    ]  # fmt: skip
