"""Monthly sums of the daily incident counts, for callers that publish aggregates (the audits service's OGC API).

``incident_daily.day`` is already the local (America/Toronto) day of each
incident, so truncating it to the month gives local months. Rows of the
"nowhere" key (incidents outside every boundary) and rows brought to zero by
re-placement are left out: they are nobody's neighbourhood count.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.store.tables import incident_daily
from services.metrics.totals.domain.contributions import NOWHERE

_d = incident_daily.c
_PLACED = (_d.neighbourhood_id != NOWHERE, _d.incidents > 0)


async def monthly_cells(
    session: AsyncSession, first: date, before: date, neighbourhood_ids: Sequence[uuid.UUID], categories: Sequence[str]
) -> list[Any]:
    """``(neighbourhood_id, month, category, incidents)`` for days ``first`` <= day < ``before``, non-zero only."""
    month = func.date_trunc("month", _d.day).cast(Date).label("month")
    incidents = func.sum(_d.incidents).label("incidents")
    stmt = select(_d.neighbourhood_id, month, _d.category, incidents).where(*_PLACED, _d.day >= first, _d.day < before)
    if neighbourhood_ids:
        stmt = stmt.where(_d.neighbourhood_id.in_(list(neighbourhood_ids)))
    if categories:
        stmt = stmt.where(_d.category.in_(list(categories)))
    stmt = stmt.group_by(_d.neighbourhood_id, month, _d.category).having(incidents > 0)
    return list((await session.execute(stmt.order_by(month, _d.neighbourhood_id, _d.category))).all())


async def coverage(session: AsyncSession) -> tuple[date | None, date | None, list[str]]:
    """The first and last day with a placed incident, and every category placed incidents have."""
    first, last = (await session.execute(select(func.min(_d.day), func.max(_d.day)).where(*_PLACED))).one()
    stmt = select(_d.category).where(*_PLACED).distinct().order_by(_d.category)
    return first, last, list((await session.execute(stmt)).scalars().all())
