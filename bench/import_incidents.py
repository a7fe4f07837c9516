"""How close does a CSV import of crime incidents come to PostgreSQL's own bulk-load rate?

In a scratch database (on CPTED_DATABASE_URL's server, else 127.0.0.1:5432
as postgres), with the eight demo neighbourhoods known to metrics:

1. writes N synthetic incidents (default 1,000,000) to a CSV file;
2. imports it the way ``cpted import-incidents`` does (streamed, parsed,
   validated, placed, staged with COPY, moved with one INSERT ... SELECT per
   flush, daily counts kept) and records the peak memory of the process;
3. COPYs the same rows, already parsed in memory, with asyncpg's
   ``copy_records_to_table`` into a table with the same columns and indexes
   (and, for reference, the CSV file itself with server-side ``COPY FROM``);
4. times evaluations of 20 audits on the N incidents (p50/p90), with and
   without a buffer ring.

Prints rows/s of each and the ratio; writes bench/results/import_incidents.json.
Bounded: one scratch database, dropped at the end; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile
from bench.crime_world import admin_url, load_subjects, scratch_database, write_csv

RESULTS = Path(__file__).parent / "results"


async def run_import(url: str, path: Path) -> tuple[float, dict[str, int], int]:
    from services.metrics.crime import importer
    from services.metrics.crime.handlers.imports import CsvOptions
    from shared.db.engine import get_engine
    from shared.settings import Settings

    engine = get_engine(Settings(database_url=url))
    started = time.perf_counter()
    report = await importer.run(engine, path, CsvOptions("America/Toronto", default_source="bench"), _quiet())
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    counts = {
        "rows": report.rows,
        "stored": report.stored,
        "rejected": report.rejected,
        "unassigned": report.unassigned,
    }
    return elapsed, counts, peak_mb


def _quiet():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True, quiet=True)


def parsed_records(path: Path) -> list[tuple]:  # type: ignore[type-arg]
    """The very records the import stores (parsed, placed, with their ids and local days), built outside
    the timing: what a raw COPY of the same rows starts from."""
    from cpted.demo.crime import demo_locator
    from services.metrics.crime.domain.csv_reader import CsvReader
    from services.metrics.crime.handlers.ingest import ImportReport, Ingest, OnError

    reader = CsvReader("America/Toronto", default_source="bench")
    rows = reader.feed(path.read_bytes()) + reader.finish()
    ingest = Ingest(None, demo_locator(), ImportReport(OnError.reject), "America/Toronto")  # type: ignore[arg-type]
    return ingest.prepare(rows).records


async def _clone(conn: asyncpg.Connection, table: str) -> None:
    """Same columns, defaults, constraints and indexes as the real table; ids time-ordered like the import's."""
    from services.metrics.crime.store.incidents import id_base

    await conn.execute(f"CREATE TABLE {table} (LIKE metrics.crime_incident INCLUDING ALL)")
    await conn.execute(f"CREATE SEQUENCE {table}_seq")
    ordered = f"CAST('{id_base() >> 48:020x}' || lpad(to_hex(nextval('{table}_seq')), 12, '0') AS uuid)"
    await conn.execute(f"ALTER TABLE {table} ALTER id SET DEFAULT {ordered}, ALTER source SET DEFAULT 'bench', "
                       "ALTER occurred_on SET DEFAULT current_date")  # fmt: skip


async def raw_copy_records(url: str, records: list[tuple]) -> float:  # type: ignore[type-arg]
    conn = await asyncpg.connect(url)
    try:
        await _clone(conn, "bench_records")
        await conn.execute("CHECKPOINT")
        from services.metrics.crime.store.incidents import COLUMNS

        started = time.perf_counter()
        await conn.copy_records_to_table("bench_records", records=records, columns=COLUMNS)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def raw_copy_csv(url: str, path: Path) -> float:
    conn = await asyncpg.connect(url)
    try:
        await _clone(conn, "bench_csv")
        await conn.execute("CHECKPOINT")
        started = time.perf_counter()
        await conn.copy_to_table(
            "bench_csv", source=str(path), columns=["external_id", "category", "occurred_at", "lon", "lat"],
            format="csv", header=True,
        )  # fmt: skip
        return time.perf_counter() - started
    finally:
        await conn.close()


async def checkpoint(url: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute("CHECKPOINT")
    await conn.close()


ESTIMATORS = {
    "empirical_bayes": ("empirical_bayes", "empirical_bayes"),
    "seasonal_glm": ("seasonal_glm", "seasonal_glm"),
    "synthetic_control": ("synthetic_control", "synthetic_control"),
    "harm_wdd": ("harm", "harm_wdd"),
    "power": ("power", "power"),
}


def time_each_estimator() -> tuple[dict[str, list[float]], dict[str, int]]:
    """Wrap each estimator the estimators endpoint calls so that its own compute time is recorded (ms) when it
    answered with figures; a refusal (too few months, donors outside the hull...) costs nothing and is counted
    apart, never mixed into the timing."""
    from services.metrics.evaluation.domain import estimators

    spent: dict[str, list[float]] = {name: [] for name in ESTIMATORS}
    refused: dict[str, int] = dict.fromkeys(ESTIMATORS, 0)
    for name, (module_name, function) in ESTIMATORS.items():
        module = getattr(estimators, module_name)
        original = getattr(module, function)

        def timed(*args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            answer = _original(*args, **kwargs)
            elapsed = (time.perf_counter() - started) * 1000
            if getattr(answer, "reason", None) is None:
                spent[_name].append(elapsed)
            else:
                refused[_name] += 1
            return answer

        setattr(module, function, timed)
    return spent, refused


def _summarised(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p90_ms": round(percentile(samples, 90), 2)}  # fmt: skip


async def evaluation_latency(url: str, audit_ids: list[uuid.UUID], rounds: int) -> dict[str, dict[str, float]]:
    import httpx

    from services.metrics.app import create_app
    from shared.auth.keys import Scope, issue_key
    from shared.db.engine import get_engine, session_factory
    from shared.settings import Settings

    async with session_factory(get_engine(Settings(database_url=url)))() as session:
        key = (await issue_key(session, name="bench", scope=Scope.reader)).plaintext
        await session.commit()
    app = create_app()
    spent, refused = time_each_estimator()
    results: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for name, suffix, params, n in (
                ("evaluation", "", {}, rounds),
                ("evaluation_buffer_200m", "", {"buffer_m": "200"}, rounds),
                ("estimators_endpoint", "/estimators", {}, len(audit_ids)),
            ):
                samples = []
                for i in range(n):
                    started = time.perf_counter()
                    path = f"/v1/evaluations/audits/{audit_ids[i % len(audit_ids)]}{suffix}"
                    r = await client.get(path, params=params)
                    samples.append((time.perf_counter() - started) * 1000)
                    r.raise_for_status()
                results[name] = _summarised(samples)
            for name, path in (("summary", "/v1/evaluations/summary"),
                               ("summary_families", "/v1/evaluations/summary/families")):  # fmt: skip
                samples = []
                for _ in range(3):
                    started = time.perf_counter()
                    (await client.get(path)).raise_for_status()
                    samples.append((time.perf_counter() - started) * 1000)
                results[name] = _summarised(samples)
    for name, samples in spent.items():
        timing = _summarised(samples) if samples else {"n": 0.0}
        results[f"estimator_{name}"] = timing | {"refused": float(refused[name])}
    return results


async def main(rows: int, rounds: int) -> dict[str, object]:
    base = admin_url()
    async with scratch_database(base) as url:
        os.environ["CPTED_DATABASE_URL"] = url
        # The service app opens a Redis client at start-up; evaluations never use it.
        os.environ.setdefault("CPTED_REDIS_URL", "redis://127.0.0.1:6379/0")
        audit_ids = await load_subjects(url)
        with tempfile.TemporaryDirectory(prefix="cpted-bench-") as tmp:
            path = Path(tmp) / "incidents.csv"
            started = time.perf_counter()
            # From 2020: every audit (2023-2026) has the 36 months of history the monthly models use.
            write_csv(path, rows, np.random.default_rng(20261125), date(2020, 1, 1), date(2026, 11, 20))
            print(f"wrote {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
            # Each load starts after a checkpoint, so none pays for another's dirty pages.
            await checkpoint(url)
            import_s, counts, peak_mb = await run_import(url, path)
            csv_s = await raw_copy_csv(url, path)
            records_s = await raw_copy_records(url, parsed_records(path))
        latency = await evaluation_latency(url, audit_ids, rounds)
    return {
        "rows": rows,
        "import": {
            "seconds": round(import_s, 2),
            "rows_per_s": round(rows / import_s),
            "peak_rss_mb": peak_mb,
            **counts,
        },
        "raw_copy_records": {"seconds": round(records_s, 2), "rows_per_s": round(rows / records_s)},
        "raw_copy_csv_file": {"seconds": round(csv_s, 2), "rows_per_s": round(rows / csv_s)},
        "ratio_import_to_copy_records": round(records_s / import_s, 3),
        "ratio_import_to_copy_csv": round(csv_s / import_s, 3),
        "latency": latency,
    }


def show(result: dict) -> None:  # type: ignore[type-arg]
    imp, rec, csv = result["import"], result["raw_copy_records"], result["raw_copy_csv_file"]
    print(f"{'load':<38}{'seconds':>9}{'rows/s':>12}")
    print(f"{'import (parse, place, stage, insert)':<38}{imp['seconds']:>9}{imp['rows_per_s']:>12,}")
    print(f"{'raw asyncpg COPY of parsed records':<38}{rec['seconds']:>9}{rec['rows_per_s']:>12,}")
    print(f"{'raw COPY FROM of the CSV file':<38}{csv['seconds']:>9}{csv['rows_per_s']:>12,}")
    ratios = f"import / raw asyncpg COPY: {result['ratio_import_to_copy_records']}"
    ratios += f"   import / COPY FROM csv: {result['ratio_import_to_copy_csv']}   peak RSS {imp['peak_rss_mb']} MB"
    print(ratios)
    print(f"stored {imp['stored']:,}, unassigned {imp['unassigned']:,}, rejected {imp['rejected']:,}")
    for name, row in result["latency"].items():
        refused = f"  ({row['refused']} refused, not timed)" if row.get("refused") else ""
        timing = f"p50 {row['p50_ms']} ms  p90 {row['p90_ms']} ms" if row["n"] else "no answer with figures"
        print(f"{name:<28} n={row['n']}  {timing}{refused}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    result = asyncio.run(main(args.rows, args.rounds))
    show(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_incidents.json").write_text(json.dumps(result, indent=2) + "\n")
