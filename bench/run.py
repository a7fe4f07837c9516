"""``make bench``: every figure of the platform against a baseline measured in the same run.

Runs on scratch servers (CPTED_BENCH_DATABASE_URL / CPTED_BENCH_REDIS_URL, else
the local servers, else embedded ones) in a database and stream prefix of its
own, prints a table with the change of each figure against the previous
committed results file, and writes the numbers, with the machine, to
bench/results/<date>-<short commit>.json (commit it to keep the run).
Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Figure
from tests.servers import ScratchServers

GROUPS = ("bus", "api", "platform", "replay", "scale", "import")
"""The parts of a run, in the order they run."""
ROOT = Path(__file__).parent.parent
RESULTS = ROOT / "bench" / "results"


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
               f"peak RSS {result['import']['peak_rss_mb']} MB", samples=result["rows"]),
        Figure(f"evaluation p50 on {result['rows']:,} incidents", plain, "ms", None, "", "< 100 ms", plain < 100,
               f"with a 200 m buffer ring: p50 {ringed} ms", samples=result["latency"]["evaluation"]["n"]),
    ]  # fmt: skip


def print_table(figures: list[Figure], previous: dict[str, tuple[float | None, str]]) -> None:
    """The figures, with what is wrong with each measurement and the change against the previous committed run."""
    against = sorted({previous[f.name][1] for f in figures if f.name in previous})
    print(f"change against {', '.join(against) or 'nothing (no committed run of these figures)'}")
    print(f"{'figure':<58}{'value':>10}  {'unit':<9}{'baseline':>11}  {'ratio':>6}  {'target':<13}{'met':<5}"
          f"{'failed':>7}{'change':>8}")  # fmt: skip
    for f in figures:
        baseline = f"{f.baseline:,.1f}" if f.baseline is not None else "-"
        ratio = f"{f.ratio:.0%}" if f.ratio is not None else "-"
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        before = previous.get(f.name, (None, ""))[0]
        change = f"{f.value / before - 1:+.0%}" if before and math.isfinite(f.value) else "-"
        print(f"{f.name:<58}{f.value:>10,.1f}  {f.unit:<9}{baseline:>11}  {ratio:>6}  {f.target:<13}{met:<5}"
              f"{f.failed:>7}{change:>8}")  # fmt: skip
        said = [f.note] if f.note else []
        if f.offered:
            said.append(f"{f.achieved or 0:,.1f} of {f.offered:,.1f}/s achieved")
        if f.failures:
            said.append("failed: " + ", ".join(f"{n} {why}" for why, n in sorted(f.failures.items())))
        if f.flaws():
            said.append("not met: " + ", ".join(f.flaws()))
        for line in said:
            print(f"{'':<4}{line}")


async def measure(factor: float, only: set[str]) -> list[Figure]:
    from bench import api, bus, replay, scale, whole_platform
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
            "bus": lambda: bus.figures(settings, engine, redis, int(50_000 * factor)),
            "api": lambda: api.write_figures(key, ["uvicorn", "granian"], settings.resolved_database_url()),
            # Before the replay, whose large log the platform's relay would otherwise publish.
            "platform": lambda: whole_platform.figures(settings, engine, key, seconds=max(2.0, 10 * factor)),
            "replay": lambda: replay.replay_figures(settings, engine, key, int(1_000_000 * factor)),
            "scale": lambda: scale.figures(settings, engine, key, int(10_000_000 * factor)),
            # Last: it works in a scratch database of its own, named through the environment.
            "import": lambda: import_figures_of(int(1_000_000 * factor)),
        }
        for name in GROUPS:
            if only and name not in only:
                continue
            try:
                figures += await groups[name]()
            except Exception as exc:  # one broken measurement must not hide the others
                figures.append(Figure(f"{name}: FAILED", 0, "", note=f"{type(exc).__name__}: {str(exc)[:200]}"))
    finally:
        await redis.aclose()
        await dispose_engines()
    return figures


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    memory = Path("/proc/meminfo").read_text().split()[1] if Path("/proc/meminfo").exists() else "0"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_gb": round(int(memory) / 2**20, 1),
        "python": platform.python_version(),
        "load_average_start": os.getloadavg(),
    }


def previous_results(current: Path) -> dict[str, tuple[float | None, str]]:
    """Each figure's value in the newest committed results file (by its commit's date) that holds it, other than
    ``current``, with that file: a run of some parts compares each with its last committed run."""
    files = [f for f in git("ls-files", "bench/results/20*.json").split() if ROOT / f != current]
    files.sort(key=lambda f: (int(git("log", "-1", "--format=%ct", "--", f) or 0), f), reverse=True)
    previous: dict[str, tuple[float | None, str]] = {}
    for f in files:
        for figure in json.loads(git("show", f"HEAD:{f}")).get("figures", []):  # a part's own file has none
            previous.setdefault(figure["name"], (figure["value"], f))
    return previous


def main() -> None:
    parser = argparse.ArgumentParser(description="CPTED platform benchmarks")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload (0.1 for a quick run)")
    parser.add_argument("--only", action="append", default=[], choices=GROUPS, help="run only this part (repeatable)")
    args = parser.parse_args()
    started, commit = machine(), git("rev-parse", "--short", "HEAD")
    servers = ScratchServers(env_prefix="CPTED_BENCH_", name="cpted_bench")
    servers.start()
    os.environ.update(
        CPTED_DATABASE_URL=servers.database_url,
        CPTED_REDIS_URL=servers.redis_url,
        CPTED_STREAM_PREFIX=servers.stream_prefix,
        # On, as in production, at a limit the bench's one key stays under: each request pays what the limiter costs.
        CPTED_RATE_LIMIT_PER_SECOND="100000",
    )
    try:
        figures = asyncio.run(measure(args.scale, set(args.only)))
    finally:
        servers.stop()
    today = datetime.now(UTC).date().isoformat()
    path = RESULTS / f"{today}-{commit}.json"
    print_table(figures, previous_results(path))
    record = {
        "date": today,
        "commit": commit,
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "scale": args.scale,
        "only": args.only,
        "machine": started | {"load_average_end": os.getloadavg()},
        "figures": [f.row() for f in figures],
    }
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
