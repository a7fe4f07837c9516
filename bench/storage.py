"""Bytes on disk per crime incident and per logged event, for the capacity plan (docs/scaling.md).

In a scratch database: crime incidents imported from a synthetic CSV as ``cpted import-incidents`` does; audits,
recommendations and status changes written through the audits API (in process), which logs one outbox event
per write; the metrics consumer's record of each applied event (``metrics.processed_event``) written for every
logged event, as the consumer does. Each table's size is ``pg_total_relation_size`` (heap, indexes and TOAST)
after ``VACUUM ANALYZE``, divided by its rows.

    python -m bench.storage [--incidents 200000] [--audits 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import numpy as np

from bench.crime_world import admin_url, load_subjects, scratch_database, write_csv
from bench.import_incidents import run_import
from shared.db.engine import plain_url
from tests import factories

TABLES = {
    "metrics.crime_incident": "crime incident",
    "metrics.incident_daily": "daily incident count (per area, day, category)",
    "audits.outbox": "logged event (the producer's outbox: event log and audit trail)",
    "metrics.processed_event": "applied event (the consumer's record)",
    "audits.recommendation": "recommendation record",
    "audits.audit": "audit record",
}


async def write_through_the_api(url: str, audits: int) -> int:
    """Audits with ten recommendations each, half of them taken through three status changes."""
    from services.audits.app import create_app
    from shared.auth.keys import Scope, issue_key
    from shared.db.engine import get_engine, session_factory
    from shared.settings import Settings

    async with session_factory(get_engine(Settings(database_url=url)))() as session:
        key = (await issue_key(session, name="storage bench", scope=Scope.admin)).plaintext
        await session.commit()
    app = create_app()
    writes = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as api:

            async def post(path: str, body: dict[str, object]) -> dict[str, object]:
                nonlocal writes
                answer = await api.post(path, json=body)
                answer.raise_for_status()
                writes += 1
                return dict(answer.json())

            n = await post("/v1/neighbourhoods", factories.neighbourhood())
            p = await post("/v1/partnerships", factories.partnership([n["id"]]))
            for i in range(audits):
                a = await post("/v1/audits", factories.audit(p["id"], n["id"], conducted_on=f"2025-0{1 + i % 9}-10"))
                for k in range(10):
                    r = await post(f"/v1/audits/{a['id']}/recommendations", factories.recommendation())
                    if k % 2 == 0:
                        for to, on in (("accepted", "2025-10-01"), ("in_progress", "2025-11-01"),
                                       ("implemented", "2025-12-01")):  # fmt: skip
                            await post(f"/v1/recommendations/{r['id']}/transitions", {"to": to, "on": on})
    return writes


async def measure(incidents: int, audits: int) -> dict[str, tuple[int, int]]:
    async with scratch_database(admin_url()) as url:
        os.environ["CPTED_DATABASE_URL"] = url
        os.environ.setdefault("CPTED_REDIS_URL", "redis://127.0.0.1:6379/0")
        os.environ.setdefault("CPTED_STREAM_PREFIX", f"bench-storage-{os.getpid()}")
        os.environ["CPTED_RATE_LIMIT_PER_SECOND"] = "0"
        await load_subjects(url)
        with tempfile.TemporaryDirectory(prefix="cpted-storage-") as tmp:
            path = Path(tmp) / "incidents.csv"
            write_csv(path, incidents, np.random.default_rng(20261130), date(2020, 1, 1), date(2026, 11, 20))
            await run_import(url, path)
        writes = await write_through_the_api(url, audits)
        conn = await asyncpg.connect(plain_url(url))
        try:
            await conn.execute(
                "INSERT INTO metrics.processed_event (id, type) SELECT id, type FROM audits.outbox"
                " ON CONFLICT DO NOTHING"
            )
            await conn.execute("VACUUM ANALYZE")
            sizes = {}
            for table in TABLES:
                rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
                sizes[table] = (int(await conn.fetchval("SELECT pg_total_relation_size($1)", table)), int(rows))
        finally:
            await conn.close()
    print(f"{writes} writes through the API")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--audits", type=int, default=60)
    args = parser.parse_args()
    sizes = asyncio.run(measure(args.incidents, args.audits))
    for table, (size, rows) in sizes.items():
        per_row = size / rows if rows else 0
        print(f"{table:28} {rows:>9,} rows {size / 1e6:8.2f} MB {per_row:8.0f} B/row  {TABLES[table]}")


if __name__ == "__main__":
    main()
