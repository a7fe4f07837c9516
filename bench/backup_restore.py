"""How long do ``cpted backup`` and ``cpted restore`` take, on the demo data set and on N crime incidents?

In a scratch database (on CPTED_DATABASE_URL's server, else 127.0.0.1:5432 as postgres): loads the demo
data set (``--demo``) or the eight demo neighbourhoods, 20 audits and N synthetic incidents imported as
``cpted import-incidents`` does (``--rows``, default 1,000,000), then times a backup and a restore into an
empty database on the same server, and checks the restored database holds as many incidents, events
applied and outbox rows. Prints the figures and writes bench/results/backup_restore-<what>-pg<major>.json.
Bounded: scratch databases dropped at the end, a stream prefix of its own, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.crime_world import admin_url, load_subjects, write_csv

RESULTS = Path(__file__).parent / "results"
COUNTS = {
    "incidents": "SELECT count(*) FROM metrics.crime_incident",
    "events applied": "SELECT count(*) FROM metrics.processed_event",
    "audits outbox": "SELECT count(*) FROM audits.outbox",
    "events outbox": "SELECT count(*) FROM events.outbox",
}


async def counts(url: str) -> dict[str, int]:
    from shared.db.engine import plain_url

    conn = await asyncpg.connect(plain_url(url))
    try:
        return {name: int(await conn.fetchval(sql)) for name, sql in COUNTS.items()}
    finally:
        await conn.close()


async def load(url: str, demo: bool, rows: int, tmp: Path) -> None:
    from cpted.backup import catch_up_projections
    from cpted.demo import load_demo_data
    from services.metrics.crime import importer
    from services.metrics.crime.handlers.imports import CsvOptions
    from shared.db.engine import dispose_engines, get_engine
    from shared.settings import Settings

    engine = get_engine(Settings(database_url=url))
    if demo:
        await load_demo_data(engine)
    else:
        await load_subjects(url)
        path = tmp / "incidents.csv"
        write_csv(path, rows, np.random.default_rng(20261125), date(2020, 1, 1), date(2026, 11, 20))
        quiet = Console(stderr=True, quiet=True)
        await importer.run(engine, path, CsvOptions("America/Toronto", default_source="bench"), quiet)
    await dispose_engines()
    await catch_up_projections(url, "America/Toronto")  # what the running consumer would have applied


async def main(demo: bool, rows: int) -> dict[str, object]:
    from cpted import pgtools
    from cpted.backup import backup, restore
    from cpted.platform import migrate
    from services.audits.photos.settings import PhotoSettings
    from shared.db.engine import dispose_engines
    from shared.settings import Settings

    url = pgtools.with_database(admin_url(), f"cpted_bench_{uuid.uuid4().hex[:8]}")
    await pgtools.recreate(url)  # a database of the run's own, on a TCP or a socket URL alike
    try:
        await migrate(url)
        with tempfile.TemporaryDirectory(prefix="cpted-bench-backup-") as name:
            tmp = Path(name)
            started = time.perf_counter()
            await load(url, demo, rows, tmp)
            load_s = time.perf_counter() - started
            before = await counts(url)
            settings = Settings(
                database_url=url,
                redis_url=os.environ.get("CPTED_REDIS_URL", "redis://127.0.0.1:6379/0"),
                stream_prefix=f"bench-backup-{uuid.uuid4().hex[:8]}",
                var_dir=tmp,
            )
            photos = PhotoSettings(dir=tmp / "photos")
            started = time.perf_counter()
            folder = await backup(settings, photos, tmp / "backups")
            backup_s = time.perf_counter() - started
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            target = pgtools.with_database(url, f"{pgtools.database_name(url)}_restored")
            try:
                started = time.perf_counter()
                done = await restore(folder, settings.model_copy(update={"database_url": target}), photos)
                restore_s = time.perf_counter() - started
                after = await counts(target)
            finally:
                await pgtools.drop(target)
        major = await pgtools.server_major(url)
    finally:
        await dispose_engines()
        await pgtools.drop(url)
    assert after == before, (before, after)
    return {
        "data": "demo" if demo else f"{rows} incidents",
        "load_s": round(load_s, 1),
        "backup_s": round(backup_s, 2),
        "backup_bytes": size,
        "restore_s": round(restore_s, 2),
        "caught_up_events": done.caught_up,
        "counts": before,
        "postgres_major": major,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="the demo data set instead of N incidents")
    parser.add_argument("--rows", type=int, default=1_000_000)
    options = parser.parse_args()
    result = asyncio.run(main(options.demo, options.rows))
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    tag = "demo" if options.demo else f"{options.rows}"
    (RESULTS / f"backup_restore-{tag}-pg{result['postgres_major']}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
