"""Ranking neighbourhoods for the next audits: crime per 1,000 residents, its trend, time since an audit.

The trend compares the period with the one of equal length just before it.
Two Poisson counts over equal exposure differ significantly when
``|x1 - x0| / sqrt(x1 + x0)`` exceeds the normal quantile; below that the
trend is called ``stable`` whatever the percentage says, so a jump from 2
to 4 incidents is not sold as +100%.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.metrics.domain import statistics
from services.metrics.domain.windows import Period

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Place:
    id: uuid.UUID
    name: str
    municipality: str
    population: int | None


def rate_per_1000(incidents: int, population: int | None) -> float | None:
    return 1000 * incidents / population if population else None


def trend(now: int, before: int) -> tuple[str, float | None]:
    """``up``, ``down`` or ``stable``, with the z of the difference (None when both are zero)."""
    if now + before == 0:
        return "stable", None
    z = (now - before) / math.sqrt(now + before)
    if abs(z) <= statistics.Z:
        return "stable", z
    return ("up" if z > 0 else "down"), z


def _row(place: Place, counts: Sequence[int], last_audit: date | None, period: Period, today: date) -> dict[str, Any]:
    now, before = counts
    rate = rate_per_1000(now, place.population)
    direction, z = trend(now, before)
    return {
        "neighbourhood_id": place.id,
        "name": place.name,
        "municipality": place.municipality,
        "population": place.population,
        "incidents": now,
        "rate_per_1000": None if rate is None else round(rate, 3),
        "rate_per_1000_per_year": None if rate is None else round(rate * DAYS_PER_YEAR / period.days, 3),
        "previous_incidents": before,
        "previous_rate_per_1000": None if rate is None else round(rate_per_1000(before, place.population) or 0, 3),
        "change_percent": None if before == 0 else round(statistics.percent_change(before, now) or 0, 2),
        "trend": direction,
        "trend_z": None if z is None else round(z, 4),
        "last_audit_on": last_audit,
        "days_since_last_audit": None if last_audit is None else (today - last_audit).days,
    }


def rank(
    places: Sequence[Place],
    counts: Mapping[uuid.UUID, Sequence[int]],
    last_audits: Mapping[uuid.UUID, date],
    period: Period,
    today: date,
) -> list[dict[str, Any]]:
    """Highest rate first; neighbourhoods without a population come last, by count."""
    rows = [_row(p, counts.get(p.id, (0, 0)), last_audits.get(p.id), period, today) for p in places]
    rows.sort(key=lambda r: (r["rate_per_1000"] is None, -(r["rate_per_1000"] or 0), -r["incidents"], r["name"]))
    for number, row in enumerate(rows, start=1):
        row["rank"] = number
    return rows
