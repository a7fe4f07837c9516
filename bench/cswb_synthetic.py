"""A large synthetic metrics projection for the CSWB feed benchmark, written with COPY.

Neighbourhoods in municipalities (squares on a grid, so that evaluations have
boundaries), partnerships over a few neighbourhoods each, audits with
recommendations (a share implemented, for the pooled evaluation), daily
counters for every indicator family and daily crime counts by category.
Deterministic for a seed. Nothing here goes through the bus: the point is
the size of what a feed reads, not how it got there.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import orjson

from services.metrics.totals.domain import contributions as c
from shared.contracts.vocabulary import RecommendationCategory, RecommendationStatus

CATEGORIES = ["assault", "break_and_enter", "theft_from_vehicle", "mischief", "robbery", "drugs", "fraud", "arson"]
NEIGHBOURHOOD_METRICS = [c.EVENTS, c.SPECIAL_EVENTS, c.OFFICERS_ATTENDING, c.STAKEHOLDERS, c.AUDIT_REQUESTS]
PROGRAMME_METRICS = [c.MATERIALS, c.TRANSLATIONS, c.COPIES_DISTRIBUTED, c.TRAININGS, c.TRAINEES]
OPEN_OR_CLOSED = [s for s in RecommendationStatus if s is not RecommendationStatus.implemented]


@dataclass(frozen=True)
class Size:
    neighbourhoods: int = 200
    per_municipality: int = 20
    partnerships: int = 40
    audits: int = 1000
    years: int = 5
    last_day: date = date(2026, 11, 20)

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=365 * self.years)


def _square(i: int) -> dict[str, Any]:
    lon, lat = -83.2 + (i % 20) * 0.01, 42.2 + (i // 20) * 0.01
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _subject(kind: str, id_: uuid.UUID, state: dict[str, Any], parent: uuid.UUID | None = None) -> tuple[Any, ...]:
    return (kind, id_, 1, parent, False, orjson.dumps(state, default=str).decode())


def subjects(size: Size, rng: random.Random) -> tuple[list[tuple[Any, ...]], dict[uuid.UUID, uuid.UUID]]:
    """Subject rows, and each neighbourhood's partnership."""
    ns = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(size.neighbourhoods)]
    rows = [
        _subject(
            "neighbourhood",
            n,
            {
                "id": n,
                "name": f"N{i}",
                "municipality": f"M{i // size.per_municipality}",
                "population": rng.randint(2000, 20000),
                "boundary": _square(i),
            },
        )
        for i, n in enumerate(ns)
    ]
    partner_of: dict[uuid.UUID, uuid.UUID] = {}
    ps = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(size.partnerships)]
    for i, p in enumerate(ps):
        mine = ns[i :: size.partnerships]
        partner_of |= dict.fromkeys(mine, p)
        rows.append(
            _subject(
                "partnership",
                p,
                {"id": p, "name": f"P{i}", "police_service": "S", "status": "active", "neighbourhood_ids": mine},
            )
        )
    rows += _audits(size, rng, ns, partner_of)
    return rows, partner_of


def _recommendation(rng: random.Random, audit: uuid.UUID, conducted: date) -> tuple[Any, ...]:
    r = uuid.UUID(int=rng.getrandbits(128))
    done = rng.random() < 0.2
    state = {
        "id": r,
        "audit_id": audit,
        "description": "d",
        "priority": "medium",
        "category": rng.choice(list(RecommendationCategory)),
        "status": RecommendationStatus.implemented if done else rng.choice(OPEN_OR_CLOSED),
        "implemented_on": conducted + timedelta(days=rng.randint(20, 200)) if done else None,
    }
    return _subject("recommendation", r, state, parent=audit)


def _audits(size: Size, rng: random.Random, ns: list[uuid.UUID], partner_of: dict[uuid.UUID, uuid.UUID]) -> list[Any]:
    rows = []
    for _ in range(size.audits):
        a, n = uuid.UUID(int=rng.getrandbits(128)), rng.choice(ns)
        conducted = size.first_day + timedelta(days=rng.randrange(365 * size.years - 400))
        state = {"id": a, "partnership_id": partner_of[n], "neighbourhood_id": n, "site_name": "site",
                 "conducted_on": conducted, "trigger": "crime_statistics", "status": "completed"}  # fmt: skip
        rows.append(_subject("audit", a, state))
        rows += [_recommendation(rng, a, conducted) for _ in range(rng.randint(5, 15))]
    return rows


def counters(size: Size, rng: random.Random, partner_of: dict[uuid.UUID, uuid.UUID]) -> list[tuple[Any, ...]]:
    """Daily counters: each neighbourhood active on about one day in four, once overall and once per partnership."""
    rows = []
    days = (size.last_day - size.first_day).days + 1
    for n, p in partner_of.items():
        for k in range(days):
            if rng.random() > 0.25:
                continue
            day = size.first_day + timedelta(days=k)
            metrics = [*rng.sample(NEIGHBOURHOOD_METRICS, 2), c.BY_CATEGORY + rng.choice(list(RecommendationCategory))]
            metrics += [c.AUDITS, c.RECOMMENDATIONS, c.BY_STATUS + rng.choice(list(RecommendationStatus))]
            for metric in metrics:
                value = rng.randint(1, 6)
                rows += [(c.ALL, n, metric, day, value), (p, n, metric, day, value)]
    for k in range(0, days, 7):
        for metric in PROGRAMME_METRICS:
            rows.append((c.ALL, c.NOWHERE, metric, size.first_day + timedelta(days=k), rng.randint(1, 40)))
    return rows


def incidents(size: Size, rng: random.Random, neighbourhoods: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    days = (size.last_day - size.first_day).days + 1
    return [
        (n, size.first_day + timedelta(days=k), category, rng.randint(1, 4))
        for n in neighbourhoods
        for k in range(days)
        for category in rng.sample(CATEGORIES, 3)
        if rng.random() < 0.6
    ]


async def load(conn: asyncpg.Connection, size: Size, seed: int = 2026) -> dict[str, int]:
    rng = random.Random(seed)
    subject_rows, partner_of = subjects(size, rng)
    counter_rows, incident_rows = counters(size, rng, partner_of), incidents(size, rng, list(partner_of))
    await conn.copy_records_to_table(
        "subject",
        schema_name="metrics",
        records=subject_rows,
        columns=["kind", "id", "version", "parent_id", "deleted", "state"],
    )
    await conn.copy_records_to_table(
        "counter_daily",
        schema_name="metrics",
        records=counter_rows,
        columns=["partnership_id", "neighbourhood_id", "metric", "day", "value"],
    )
    await conn.copy_records_to_table(
        "incident_daily",
        schema_name="metrics",
        records=incident_rows,
        columns=["neighbourhood_id", "day", "category", "incidents"],
    )
    await conn.execute("ANALYZE metrics.subject; ANALYZE metrics.counter_daily; ANALYZE metrics.incident_daily")
    return {"subjects": len(subject_rows), "counter_daily": len(counter_rows), "incident_daily": len(incident_rows)}
