"""Ranking neighbourhoods for the next audits: crime per 1,000 residents, its trend, time since an audit.

The trend compares the period with the one of equal length just before it.
Given their sum, two Poisson counts over equal exposure split as a
Binomial(x1 + x0, 1/2) when nothing changed: the exact two-sided binomial
test (scipy) decides, so small counts are not oversold (4 -> 0 has p = 0.125,
where the normal approximation says 0.046). Below 5% significance the trend
is ``stable`` whatever the percentage says. ``trend_z``, the normal
approximation ``(x1 - x0) / sqrt(x1 + x0)``, is still reported.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.metrics.evaluation.domain import statistics
from services.metrics.evaluation.domain.windows import Period

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Place:
    id: uuid.UUID
    name: str
    municipality: str
    population: int | None


def rate_per_1000(incidents: int, population: int | None) -> float | None:
    return 1000 * incidents / population if population else None


def trend(now: int, before: int) -> tuple[str, float | None, float | None]:
    """``up``, ``down`` or ``stable``, with the z of the difference and the exact p (None when both are zero)."""
    p = statistics.binomial_trend_p(now, before)
    if p is None:
        return "stable", None, None
    z = (now - before) / math.sqrt(now + before)
    if p >= 1 - statistics.CONFIDENCE:
        return "stable", z, p
    return ("up" if z > 0 else "down"), z, p


def _row(place: Place, counts: Sequence[int], last_audit: date | None, period: Period, today: date) -> dict[str, Any]:
    now, before = counts
    rate = rate_per_1000(now, place.population)
    direction, z, p = trend(now, before)
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
        "trend_p": None if p is None else round(p, 4),
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
