"""Where to audit next: every neighbourhood ranked by incidents per 1,000 residents over a period."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.evaluation.domain import targeting
from services.metrics.evaluation.domain.windows import Period, previous
from services.metrics.evaluation.handlers.evaluations import neighbourhoods
from services.metrics.evaluation.store import queries
from services.metrics.totals.domain.contributions import NOWHERE
from services.metrics.totals.store import queries as states
from shared.contracts.events.audits import AuditState


async def _last_audits(session: AsyncSession, today: date) -> dict[uuid.UUID, date]:
    """The day of the latest audit conducted by today, per neighbourhood (planned future ones do not count)."""
    last: dict[uuid.UUID, date] = {}
    for state in await states.live_states(session, "audit"):
        audit = AuditState.model_validate(state)
        if audit.conducted_on <= today and audit.conducted_on > last.get(audit.neighbourhood_id, date.min):
            last[audit.neighbourhood_id] = audit.conducted_on
    return last


async def rank(
    session: AsyncSession,
    period: Period,
    *,
    categories: Sequence[str],
    municipality: str | None,
    today: date,
    offset: int,
    limit: int,
) -> dict[str, Any]:
    """Every neighbourhood ranked; the answer holds ``limit`` of them from ``offset`` on."""
    before = previous(period)
    counts = await queries.counts_by_neighbourhood(session, [period, before], categories)
    places = [
        targeting.Place(n.id, n.name, n.municipality, n.population)
        for n in (await neighbourhoods(session)).values()
        if municipality is None or n.municipality == municipality
    ]
    rows = targeting.rank(places, counts, await _last_audits(session, today), period, today)
    unassigned = counts.get(NOWHERE, [0, 0])
    return {
        "period": period.as_list(),
        "previous_period": before.as_list(),
        "categories": list(categories),
        "municipality": municipality,
        "items": rows[offset : offset + limit],
        "unassigned_incidents": unassigned[0],
        "method": (
            "rate_per_1000 = 1000 * incidents / population over the period; rate_per_1000_per_year scales it "
            "to 365.25 days. trend compares with the previous period of equal length: up or down when the exact "
            "conditional binomial test (x1 given x1 + x0 is Binomial(x1 + x0, 1/2) under no change; two-sided, "
            "scipy binomtest) gives trend_p < 0.05, else stable; exact at every count, so small counts are not "
            "oversold. trend_z is the normal approximation (x1 - x0) / sqrt(x1 + x0), for reference."
        ),
        "next_cursor": str(offset + limit) if offset + limit < len(rows) else None,
    }
