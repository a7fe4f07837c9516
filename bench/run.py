"""``make bench``: every figure of the platform against a baseline measured in the same run.

Runs on scratch servers (CPTED_BENCH_DATABASE_URL / CPTED_BENCH_REDIS_URL, else
the local servers, else embedded ones) in a database and stream prefix of its
own, prints a table and writes the same numbers to bench/results/latest.json.
Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import Figure
from tests.servers import ScratchServers

RESULTS = Path(__file__).parent / "results"


async def admin_key(engine: object) -> str:
    from shared.auth.keys import Scope, issue_key
    from shared.db.engine import session_factory

    async with session_factory(engine)() as session:  # type: ignore[arg-type]
        issued = await issue_key(session, name="bench", scope=Scope.admin)
        await session.commit()
    return issued.plaintext


async def import_figures_of(rows: int) -> list[Figure]:
    from bench import import_incidents
    from shared.settings import get_settings

    get_settings.cache_clear()
    return import_figures(await import_incidents.main(rows, 60))


def import_figures(result: dict[str, Any]) -> list[Figure]:
    imported, raw = result["import"]["rows_per_s"], result["raw_copy_records"]["rows_per_s"]
    plain = result["latency"]["evaluation"]["p50_ms"]
    ringed = result["latency"]["evaluation_buffer_200m"]["p50_ms"]
    return [
        Figure(f"crime CSV import, {result['rows']:,} rows", imported, "rows/s", raw,
               "raw asyncpg COPY of the same rows", ">= 50%", imported >= 0.5 * raw,
               f"peak RSS {result['import']['peak_rss_mb']} MB"),
        Figure(f"evaluation p50 on {result['rows']:,} incidents", plain, "ms", None, "", "< 100 ms", plain < 100,
               f"with a 200 m buffer ring: p50 {ringed} ms"),
    ]  # fmt: skip


def print_table(figures: list[Figure]) -> None:
    print(f"{'figure':<34}{'value':>14}  {'unit':<10}{'baseline':>14}  {'ratio':>7}  {'target':<12}{'met':<5}")
    for f in figures:
        baseline = f"{f.baseline:,.1f}" if f.baseline is not None else "-"
        ratio = f"{f.ratio:.0%}" if f.ratio is not None else "-"
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        print(f"{f.name:<34}{f.value:>14,.1f}  {f.unit:<10}{baseline:>14}  {ratio:>7}  {f.target:<12}{met:<5}")
        if f.note:
            print(f"{'':<4}{f.note}")


async def measure(scale: float, only: set[str], rate: float) -> list[Figure]:
    from bench import api, bus, latency, replay
    from cpted.platform import migrate
    from shared.bus.client import redis_client
    from shared.db.engine import dispose_engines, get_engine
    from shared.settings import get_settings

    settings = get_settings()
    await migrate(settings.resolved_database_url())
    engine, redis = get_engine(settings), redis_client(settings)
    figures: list[Figure] = []
    try:
        key = await admin_key(engine)
        groups: dict[str, Callable[[], Awaitable[list[Figure]]]] = {
            "bus": lambda: bus.figures(settings, engine, redis, int(50_000 * scale)),
            "api": lambda: api.write_figures(key, ["uvicorn", "granian"]),
            "latency": lambda: latency.steady_figures(key, rate=rate),
            "replay": lambda: replay.replay_figures(settings, engine, key, int(1_000_000 * scale)),
            # Last: it works in a scratch database of its own, named through the environment.
            "import": lambda: import_figures_of(int(1_000_000 * scale)),
        }
        for name, group in groups.items():
            if only and name not in only:
                continue
            try:
                figures += await group()
            except Exception as exc:  # one broken measurement must not hide the others
                figures.append(Figure(f"{name}: FAILED", 0, "", note=f"{type(exc).__name__}: {str(exc)[:200]}"))
    finally:
        await redis.aclose()
        await dispose_engines()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="CPTED platform benchmarks")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload (0.1 for a quick run)")
    parser.add_argument("--only", action="append", default=[], help="bus, api, latency (repeatable)")
    parser.add_argument("--rate", type=float, default=500, help="writes/s of the steady write -> totals run")
    args = parser.parse_args()
    servers = ScratchServers(env_prefix="CPTED_BENCH_", name="cpted_bench")
    servers.start()
    os.environ.update(
        CPTED_DATABASE_URL=servers.database_url,
        CPTED_REDIS_URL=servers.redis_url,
        CPTED_STREAM_PREFIX=servers.stream_prefix,
        CPTED_RATE_LIMIT_PER_SECOND="0",
    )
    try:
        figures = asyncio.run(measure(args.scale, set(args.only), args.rate))
    finally:
        servers.stop()
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    (RESULTS / "latest.json").write_text(
        json.dumps({"machine": machine, "figures": [f.row() for f in figures]}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
