"""Synthetic crime incidents for the demo neighbourhoods, so evaluations and targeting show real numbers.

Deterministic (fixed seed): the same incidents on every machine. From 2022
to the report's last week, each neighbourhood has a background rate in
proportion to its population, with a summer peak; each audit site is a hot
spot, and where the audit's recommendations were implemented, its hot spot
cools by more than half from the first implementation on. So audited areas
show plausible drops against the rest of Windsor, and audits with nothing
implemented show none. A few incidents fall outside every neighbourhood
(the riverfront), as real data does, and are reported as unassigned.

Placement does not wait for the metrics consumer: metrics learns boundaries
from the bus, which at demo-load time has not run yet, so the incidents are
placed with the very polygons ``cpted.demo.audits`` creates the neighbourhoods with
(same ids). When the consumer later applies those neighbourhoods, the
re-placement finds nothing to move.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point, Polygon
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.demo.audits import LAST_STEP, NEIGHBOURHOODS, _id
from services.metrics.crime.domain.incidents import Row
from services.metrics.crime.domain.placement import Locator
from services.metrics.crime.handlers.imports import import_rows
from services.metrics.crime.store.tables import crime_incident

SEED = 2026_5
SOURCE = "windsor-police-demo"
FIRST_DAY, LAST_DAY = date(2022, 1, 1), LAST_STEP
ZONE = ZoneInfo("America/Toronto")
RATE_PER_1000_PER_YEAR = 12.0
HOT_SPOT_SHARE = 0.5
"""Of a neighbourhood with audits, the share of its incidents at the audit sites (split among them)."""
COOLING = 0.35
"""A hot spot keeps 35% of its incidents once the audit's work is implemented."""
DIFFUSION = 0.88
"""The rest of the neighbourhood keeps 88% per audit implemented there (diffusion of benefits)."""
HOT_SPOT_DEGREES = 0.0012
RIVERFRONT = Polygon([(-83.07, 42.32), (-82.99, 42.338), (-82.99, 42.345), (-83.07, 42.328)])
RIVERFRONT_PER_DAY = 0.05
CATEGORIES = {
    "break_and_enter": 25, "theft_from_vehicle": 25, "mischief": 20, "assault": 10, "robbery": 5, "drug_offence": 15,
}  # fmt: skip
HOURS = [1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 6, 6, 6, 5, 4, 2]


@dataclass(frozen=True)
class Site:
    neighbourhood_id: uuid.UUID
    lon: float
    lat: float
    implemented_on: date | None


async def _sites(engine: AsyncEngine) -> list[Site]:
    """The demo audits and their first implementation: the data set ``cpted.demo.audits`` just loaded."""
    query = text(
        "SELECT a.neighbourhood_id, a.location, min(r.implemented_on) FILTER (WHERE r.status = 'implemented') "
        "FROM audits.audit a LEFT JOIN audits.recommendation r ON r.audit_id = a.id "
        "GROUP BY a.id ORDER BY a.conducted_on, a.id"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [Site(r[0], *r[1]["coordinates"], r[2]) for r in rows if r[1]]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _season(day: date) -> float:
    return 1 + 0.25 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 110) / 365.25)


def _inside(rng: random.Random, area: Polygon, centre: tuple[float, float] | None) -> tuple[float, float]:
    west, south, east, north = area.bounds
    for _ in range(50):
        if centre:
            lon, lat = rng.gauss(centre[0], HOT_SPOT_DEGREES * 1.35), rng.gauss(centre[1], HOT_SPOT_DEGREES)
        else:
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if area.contains(Point(lon, lat)):
            return round(lon, 6), round(lat, 6)
    return area.representative_point().x, area.representative_point().y


def _moment(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(range(24), HOURS)[0]
    local = datetime.combine(day, time(hour, rng.randrange(60)), tzinfo=ZONE)
    return local.astimezone(UTC)


@dataclass(frozen=True)
class Source:
    """A place incidents come from: a neighbourhood's background, an audit site's hot spot, the riverfront."""

    area: Polygon
    daily_mean: float
    hot_spot: Site | None = None
    sites: tuple[Site, ...] = ()

    def factor(self, day: date) -> float:
        """A hot spot cools once its audit's work is done; the rest of the neighbourhood a little per audit."""
        if self.hot_spot is not None:
            done = self.hot_spot.implemented_on
            return COOLING if done is not None and day > done else 1.0
        return DIFFUSION ** sum(1 for s in self.sites if s.implemented_on is not None and day > s.implemented_on)


def _sources(sites: list[Site]) -> list[Source]:
    sources = []
    for area in NEIGHBOURHOODS:
        nid, polygon = _id("neighbourhood", area.name), Polygon(area.ring)
        mean = area.population * RATE_PER_1000_PER_YEAR / 1000 / 365.25
        own = tuple(s for s in sites if s.neighbourhood_id == nid)
        sources.append(Source(polygon, mean * (1 - HOT_SPOT_SHARE) if own else mean, None, own))
        sources += [Source(polygon, mean * HOT_SPOT_SHARE / len(own), s) for s in own]
    sources.append(Source(RIVERFRONT, RIVERFRONT_PER_DAY))
    return sources


def generate(sites: list[Site]) -> list[Row]:
    """Day by day, a Poisson number of incidents from every source, each at a random point and hour."""
    rng = random.Random(SEED)
    categories, weights = list(CATEGORIES), list(CATEGORIES.values())
    sources, rows = _sources(sites), []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for source in sources:
            centre = (source.hot_spot.lon, source.hot_spot.lat) if source.hot_spot else None
            for _ in range(_poisson(rng, source.daily_mean * _season(day) * source.factor(day))):
                lon, lat = _inside(rng, source.area, centre)
                number = len(rows) + 1
                category = rng.choices(categories, weights)[0]
                rows.append((number, SOURCE, f"DEMO-{number:06d}", category, _moment(rng, day), lon, lat, None))
        day += timedelta(days=1)
    return rows


def demo_locator() -> Locator:
    return Locator((_id("neighbourhood", area.name), Polygon(area.ring)) for area in NEIGHBOURHOODS)


async def load_crime_demo(engine: AsyncEngine) -> bool:
    """Load the demo incidents once; returns False when they are there already."""
    async with engine.connect() as conn:
        stmt: Any = select(func.count()).select_from(crime_incident).where(crime_incident.c.source == SOURCE)
        if (await conn.execute(stmt)).scalar_one():
            return False
    rows = generate(await _sites(engine))
    await import_rows(engine, rows, "America/Toronto", demo_locator())
    return True
