"""The world the crime benchmarks run in: a scratch database, the demo neighbourhoods and audits
(applied through the metrics projector, as the consumer would), and a large synthetic CSV file."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import numpy as np

CATEGORIES = np.array(["break_and_enter", "theft_from_vehicle", "mischief", "assault", "robbery", "drug_offence"])
# Windsor's demo neighbourhoods span about -83.088..-82.93 by 42.255..42.342; a margin lands some points outside.
WEST, EAST, SOUTH, NORTH = -83.095, -82.925, 42.25, 42.345


def admin_url() -> str:
    return os.environ.get("CPTED_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@asynccontextmanager
async def scratch_database(base: str) -> AsyncIterator[str]:
    from cpted.pgtools import with_database
    from cpted.platform import migrate
    from shared.db.engine import dispose_engines, plain_url

    name = f"cpted_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain_url(base))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(base, name)
        await migrate(url)
        yield url
    finally:
        await dispose_engines()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def load_subjects(url: str) -> list[uuid.UUID]:
    """The demo neighbourhoods and audits, each audit with one recommendation implemented 60 days later."""
    from cpted.demo.audits import AUDITS, NEIGHBOURHOODS, _id
    from services.metrics.projection.projector import apply_events
    from shared.contracts.events import audits as ev
    from shared.db.engine import get_engine
    from shared.settings import Settings

    events = []
    for area in NEIGHBOURHOODS:
        nid = _id("neighbourhood", area.name)
        ring = [list(p) for p in (*area.ring, area.ring[0])]
        state = {"id": nid, "name": area.name, "municipality": "Windsor", "population": area.population,
                 "boundary": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
        events.append(ev.NeighbourhoodCreated(source="audits", subject_id=nid, subject_version=1, payload=state))
    audit_ids = []
    for site in AUDITS:
        aid, rid = _id("audit", site.name), _id("recommendation", site.name)
        audit = {"id": aid, "partnership_id": _id("partnership", site.partner), "site_name": site.name,
                 "neighbourhood_id": _id("neighbourhood", site.area), "conducted_on": site.conducted_on,
                 "trigger": "crime_statistics", "status": "completed",
                 "location": {"type": "Point", "coordinates": [site.lon, site.lat]}}  # fmt: skip
        rec = {"id": rid, "audit_id": aid, "category": "lighting", "description": "LED lighting", "priority": "high",
               "status": "implemented", "implemented_on": site.conducted_on + timedelta(days=60)}  # fmt: skip
        events.append(ev.AuditCreated(source="audits", subject_id=aid, subject_version=1, payload=audit))
        events.append(ev.RecommendationCreated(source="audits", subject_id=rid, subject_version=1, payload=rec))
        audit_ids.append(aid)
    settings = Settings(database_url=url)
    async with get_engine(settings).begin() as conn:
        await apply_events(conn, events, zone=settings.local_timezone)
    return audit_ids


def _points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """About 97% in the demo neighbourhoods (drawn by area), the rest anywhere around them."""
    from shapely import contains_xy, union_all
    from shapely.geometry import Polygon

    from cpted.demo.audits import NEIGHBOURHOODS

    city = union_all([Polygon(a.ring) for a in NEIGHBOURHOODS])
    lon, lat = rng.uniform(WEST, EAST, n), rng.uniform(SOUTH, NORTH, n)
    keep = contains_xy(city, lon, lat) | (rng.random(n) < 0.03)
    while not keep.all():
        redo = np.flatnonzero(~keep)
        lon[redo], lat[redo] = rng.uniform(WEST, EAST, len(redo)), rng.uniform(SOUTH, NORTH, len(redo))
        keep[redo] = contains_xy(city, lon[redo], lat[redo]) | (rng.random(len(redo)) < 0.03)
    return np.round(lon, 6), np.round(lat, 6)


def write_csv(path: Path, rows: int, rng: np.random.Generator, first: date, last: date, chunk: int = 100_000) -> None:
    """``rows`` incidents, naive local times (as police exports write them), a few percent outside every area."""
    span = (last - first).days * 86_400
    start = np.datetime64(first.isoformat(), "s")
    with path.open("w") as out:
        out.write("external_id,category,occurred_at,longitude,latitude\n")
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            moments = (start + rng.integers(0, span, n).astype("timedelta64[s]")).astype(str)
            lon, lat = _points(rng, n)
            categories = CATEGORIES[rng.integers(0, len(CATEGORIES), n)]
            out.writelines(
                f"B{offset + i:08d},{c},{m},{x},{y}\n"
                for i, (c, m, x, y) in enumerate(zip(categories, moments, lon.tolist(), lat.tolist(), strict=True))
            )
