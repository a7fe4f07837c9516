"""The reads a feed is built from: the metrics projections summed over the feed's periods.

One pass over ``counter_daily`` and one over ``incident_daily`` up to the
date, each summed for the three periods at once with ``FILTER``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.store.tables import incident_daily
from services.metrics.cswb.domain.scopes import CounterSums, PeriodSums
from services.metrics.totals.domain.contributions import ALL, NOWHERE
from services.metrics.totals.store import queries
from services.metrics.totals.store.tables import counter_daily


def _period_sums(table: Table, value: ColumnElement[Any], day: date) -> list[Any]:
    jan1 = day.replace(month=1, day=1)
    return [
        func.coalesce(func.sum(value).filter(table.c.day == day), 0),
        func.coalesce(func.sum(value).filter(table.c.day >= jan1), 0),
        func.coalesce(func.sum(value), 0),
    ]


async def counter_sums(session: AsyncSession, day: date) -> CounterSums:
    t = counter_daily
    stmt = (
        select(t.c.partnership_id, t.c.neighbourhood_id, t.c.metric, *_period_sums(t, t.c.value, day))
        .where(t.c.day <= day)
        .group_by(t.c.partnership_id, t.c.neighbourhood_id, t.c.metric)
    )
    sums: CounterSums = defaultdict(lambda: defaultdict(dict))
    for p, n, metric, *values in (await session.execute(stmt)).all():
        sums[p][n][metric] = [int(v) for v in values]
    return sums


async def incident_sums(session: AsyncSession, day: date) -> dict[uuid.UUID, dict[str, PeriodSums]]:
    """Neighbourhood → incident category → sums."""
    t = incident_daily
    stmt = (
        select(t.c.neighbourhood_id, t.c.category, *_period_sums(t, t.c.incidents, day))
        .where(t.c.day <= day)
        .group_by(t.c.neighbourhood_id, t.c.category)
    )
    sums: dict[uuid.UUID, dict[str, PeriodSums]] = defaultdict(dict)
    for n, category, *values in (await session.execute(stmt)).all():
        sums[n][category] = [int(v) for v in values]
    return sums


async def partnership_neighbourhoods(session: AsyncSession) -> dict[uuid.UUID, list[uuid.UUID]]:
    return {pid: [uuid.UUID(n) for n in ns] for pid, ns in await queries.partnerships(session, None, None)}


async def neighbourhood_ids(session: AsyncSession, seen: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Every neighbourhood metrics knows of, and any a counter names; never the 'nowhere' one."""
    known = set(await queries.neighbourhood_ids(session)) | set(seen)
    return sorted(known - {NOWHERE, ALL})
