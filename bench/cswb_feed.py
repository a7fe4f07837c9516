"""How long does the nightly CSWB feed of one date take to build, on the demo data and on a large data set?

In scratch databases (CPTED_BENCH_DATABASE_URL / CPTED_BENCH_REDIS_URL, else
the local servers, else embedded ones), dropped at the end:

1. demo: the demo data set loaded through the real handlers, relayed and
   applied by the consumer, as `make run` has it;
2. synthetic: a large projection written with COPY (bench/cswb_synthetic.py;
   ``--scale`` multiplies neighbourhoods, partnerships and audits).

For each: the first build of a date (stored), rebuilds (same bytes: nothing
stored), and where the time goes (reading the projections, the pooled
evaluation, assembling with suppression, schema validation, encoding).
Prints a table; writes bench/results/cswb_feed.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from shared.settings import Settings

RESULTS = Path(__file__).parent / "results"
DAY = date(2026, 11, 20)
ZONE = "America/Toronto"


async def _phases(engine: Any, day: date) -> dict[str, float]:
    """The build's steps, timed one by one in one snapshot."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.metrics.cswb.domain.document import assemble, encode
    from services.metrics.cswb.domain.schema import validate
    from services.metrics.cswb.handlers.feeds import gather
    from services.metrics.cswb.store import queries

    times: dict[str, float] = {}
    async with engine.connect() as conn, AsyncSession(bind=conn) as session:
        start = time.perf_counter()
        await queries.counter_sums(session, day)
        await queries.incident_sums(session, day)
        times["read projections"] = time.perf_counter() - start
        start = time.perf_counter()
        inputs = await gather(session, day, ZONE, 365)
        times["read + pooled evaluation"] = time.perf_counter() - start
    start = time.perf_counter()
    document = assemble(inputs)
    times["assemble + suppress"] = time.perf_counter() - start
    start = time.perf_counter()
    validate(document)
    times["validate (jsonschema)"] = time.perf_counter() - start
    start = time.perf_counter()
    body = encode(document)
    times["encode"] = time.perf_counter() - start
    times["document bytes"] = len(body)
    return times


async def _measure(database_url: str, label: str, repeats: int) -> dict[str, Any]:
    from services.metrics.cswb.handlers.feeds import build_feed
    from services.metrics.cswb.settings import CswbSettings
    from shared.db.engine import dispose_engines, get_engine

    engine = get_engine(Settings(database_url=database_url))
    cswb = CswbSettings()
    try:
        start = time.perf_counter()
        first = await build_feed(engine, DAY, cswb, ZONE)
        created_s = time.perf_counter() - start
        again = []
        for _ in range(repeats):
            start = time.perf_counter()
            built = await build_feed(engine, DAY, cswb, ZONE)
            again.append(time.perf_counter() - start)
            assert built.outcome == "unchanged" and built.digest == first.digest
        phases = await _phases(engine, DAY)
    finally:
        await dispose_engines()
    return {
        "data": label,
        "first_build_s": round(created_s, 3),
        "rebuild_median_s": round(statistics.median(again), 3),
        "rebuilds": repeats,
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
    }


async def _demo(settings: Settings, scale: float) -> None:
    import asyncpg

    from cpted.demo.audits import load_demo
    from cpted.demo.crime import load_crime_demo
    from cpted.demo.engagement import load_engagement_demo
    from services.metrics.projection.consumer import build_consumer
    from shared.bus.client import redis_client
    from shared.bus.relay import Relay
    from shared.db.engine import dispose_engines, get_engine, plain_url

    database_url = settings.resolved_database_url()
    engine, redis = get_engine(settings), redis_client(settings)
    try:
        await load_demo(engine)
        await load_crime_demo(engine)
        await load_engagement_demo(engine)
        conn = await asyncpg.connect(plain_url(database_url))
        for source in ("audits", "events"):
            await Relay(database_url, redis, source, settings.stream(source)).drain(conn)
        await conn.close()
        consumer = build_consumer(settings, engine, redis)
        await consumer.ensure_groups()
        while await consumer.poll_once():
            pass
    finally:
        await redis.aclose()
        await dispose_engines()


async def _synthetic(settings: Settings, scale: float) -> None:
    import asyncpg

    from bench.cswb_synthetic import Size, load
    from shared.db.engine import plain_url

    base = Size()
    size = replace(
        base,
        neighbourhoods=int(base.neighbourhoods * scale),
        partnerships=max(1, int(base.partnerships * scale)),
        audits=int(base.audits * scale),
    )
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    try:
        await load(conn, size)
    finally:
        await conn.close()


async def _sizes(database_url: str) -> dict[str, int]:
    import asyncpg

    from shared.db.engine import plain_url

    conn = await asyncpg.connect(plain_url(database_url))
    try:
        kinds = await conn.fetch("SELECT kind, count(*) FROM metrics.subject GROUP BY kind ORDER BY kind")
        sizes = {f"{r[0]}s": int(r[1]) for r in kinds}
        for table in ("counter_daily", "incident_daily"):
            sizes[table] = int(await conn.fetchval(f"SELECT count(*) FROM metrics.{table}"))
        return sizes
    finally:
        await conn.close()


def _print(results: list[dict[str, Any]]) -> None:
    for r in results:
        print(f"\n{r['data']}: {r['rows']}")
        rebuild = f"rebuild (median of {r['rebuilds']}) {r['rebuild_median_s']:.3f} s"
        print(f"  first build {r['first_build_s']:.3f} s, {rebuild}")
        for phase, value in r["phases_s"].items():
            print(f"    {phase:<28}{value:>12,.3f}")


def main() -> None:
    from tests.servers import ScratchServers, fresh_database

    parser = argparse.ArgumentParser(description="CSWB feed build time")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the synthetic data set")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    servers = ScratchServers(env_prefix="CPTED_BENCH_", name="cpted_bench")
    servers.start()
    results = []
    try:
        for label, fill in (("demo", _demo), ("synthetic", _synthetic)):
            url = fresh_database(servers, label)
            settings = Settings(database_url=url, redis_url=servers.redis_url, stream_prefix=servers.stream_prefix)
            started = time.perf_counter()
            asyncio.run(fill(settings, args.scale))
            print(f"{label}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
            results.append(asyncio.run(_measure(url, label, args.repeats)) | {"rows": asyncio.run(_sizes(url))})
    finally:
        servers.stop()
    _print(results)
    RESULTS.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "scale": args.scale, "feed_date": str(DAY)}
    (RESULTS / "cswb_feed.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
