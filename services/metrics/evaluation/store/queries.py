"""The reads of evaluations, estimators, charts and targeting: window and monthly sums over the incident counts,
the days recommendations were implemented, and points for buffer rings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.store.tables import crime_incident, incident_daily, incident_monthly
from services.metrics.evaluation.domain.evaluation import Counts
from services.metrics.evaluation.domain.windows import Period
from services.metrics.totals.store.tables import subject
from shared.db.engine import once_per_session


def _in_categories(stmt: Select[Any], column: Any, categories: Sequence[str]) -> Select[Any]:
    return stmt.where(column.in_(list(categories))) if categories else stmt


async def implemented_days(session: AsyncSession) -> dict[uuid.UUID, list[date]]:
    """Per neighbourhood, the days recommendations of its audits were implemented (read once per session)."""
    return await once_per_session(session, "implemented_days", lambda: _implemented_days(session))


async def _implemented_days(session: AsyncSession) -> dict[uuid.UUID, list[date]]:
    rec, audit = subject.alias("rec"), subject.alias("audit")
    stmt = select(audit.c.state["neighbourhood_id"].astext, rec.c.state["implemented_on"].astext).where(
        rec.c.kind == "recommendation",
        rec.c.deleted.is_(False),
        rec.c.state["status"].astext == "implemented",
        rec.c.state["implemented_on"].astext.is_not(None),
        audit.c.kind == "audit",
        audit.c.deleted.is_(False),
        audit.c.id == rec.c.parent_id,
    )
    days: dict[uuid.UUID, list[date]] = {}
    for neighbourhood, day in (await session.execute(stmt)).all():
        days.setdefault(uuid.UUID(neighbourhood), []).append(date.fromisoformat(day))
    return days


async def _monthly(
    session: AsyncSession, ids: Sequence[uuid.UUID], span: Period, categories: Sequence[str]
) -> dict[uuid.UUID, dict[date, int]]:
    """Per neighbourhood, its incidents in each calendar month of ``span`` (from the monthly counts)."""
    m = incident_monthly.c
    stmt = (
        select(m.neighbourhood_id, m.month, func.sum(m.incidents))
        .where(m.neighbourhood_id.in_(list(ids)), m.month.between(span.first, span.last))
        .group_by(m.neighbourhood_id, m.month)
    )
    monthly: dict[uuid.UUID, dict[date, int]] = {}
    for neighbourhood, month, incidents in (await session.execute(_in_categories(stmt, m.category, categories))).all():
        monthly.setdefault(neighbourhood, {})[month] = int(incidents)
    return monthly


@dataclass(frozen=True)
class CategoryHistory:
    """Per neighbourhood: its incidents in each window by category, and its monthly series over a span of months."""

    windows: dict[uuid.UUID, dict[str, Counts]]
    monthly: dict[uuid.UUID, dict[date, int]]

    def totals(self) -> dict[uuid.UUID, Counts]:
        """Per neighbourhood, its window sums over every category read."""
        return {
            i: Counts(sum(c.before for c in by.values()), sum(c.after for c in by.values()))
            for i, by in self.windows.items()
        }


async def category_windows_and_months(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    before: Period,
    after: Period,
    months: Period,
    categories: Sequence[str],
) -> CategoryHistory:
    """What an evaluation and its estimators read, in two statements for every neighbourhood at once: window
    sums per category from the daily counts, and monthly sums from the monthly ones."""
    d = incident_daily.c
    window_stmt = (
        select(
            d.neighbourhood_id,
            d.category,
            func.coalesce(func.sum(d.incidents).filter(d.day.between(before.first, before.last)), 0),
            func.coalesce(func.sum(d.incidents).filter(d.day.between(after.first, after.last)), 0),
        )
        .where(d.neighbourhood_id.in_(list(ids)), d.day.between(before.first, after.last))
        .group_by(d.neighbourhood_id, d.category)
    )
    windows: dict[uuid.UUID, dict[str, Counts]] = {}
    for neighbourhood, category, b, a in (
        await session.execute(_in_categories(window_stmt, d.category, categories))
    ).all():
        windows.setdefault(neighbourhood, {})[category] = Counts(int(b), int(a))
    return CategoryHistory(windows, await _monthly(session, ids, months, categories))


async def ring_candidates(
    session: AsyncSession,
    box: tuple[float, float, float, float],
    outside: Sequence[uuid.UUID],
    control: Sequence[uuid.UUID],
    buffer_box: tuple[float, float, float, float],
    before: tuple[datetime, datetime],
    after: tuple[datetime, datetime],
    categories: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points that may lie in a buffer ring: whether each is in the after window and placed in the control.

    The buffer ring is carved out of the control, so control points near the target are candidates,
    but only inside the buffer's own (small) box; the rings leave out the target, and everything else
    is unassigned or placed in one of the ``outside`` neighbourhoods: the index on ``neighbourhood_id``
    finds them without reading the control's incidents. Windows are ``[start, end)`` in UTC."""
    c = crime_incident.c

    def within(bounds: tuple[float, float, float, float]) -> Any:
        west, south, east, north = bounds
        return and_(c.lon.between(west, east), c.lat.between(south, north))

    placed = c.neighbourhood_id.is_(None)
    if outside:
        placed = or_(placed, c.neighbourhood_id.in_(list(outside)))
    in_control = func.coalesce(c.neighbourhood_id.in_(list(control)), false())
    windows = or_(*[and_(c.occurred_at >= start, c.occurred_at < end) for start, end in (before, after)])
    stmt = select(
        func.array_agg(c.lon),
        func.array_agg(c.lat),
        func.array_agg(c.occurred_at >= after[0]),
        func.array_agg(in_control),
    ).where(or_(and_(within(box), placed), and_(within(buffer_box), in_control)), windows)
    row = (await session.execute(_in_categories(stmt, c.category, categories))).one()
    lon, lat, is_after, placed_in_control = (row[i] or [] for i in range(4))
    return (
        np.asarray(lon, dtype=float),
        np.asarray(lat, dtype=float),
        np.asarray(is_after, dtype=bool),
        np.asarray(placed_in_control, dtype=bool),
    )


async def counts_by_neighbourhood(
    session: AsyncSession, periods: Sequence[Period], categories: Sequence[str]
) -> dict[uuid.UUID, list[int]]:
    """Per neighbourhood, its incidents in each of the periods."""
    d = incident_daily.c
    sums = [func.coalesce(func.sum(d.incidents).filter(d.day.between(p.first, p.last)), 0) for p in periods]
    first, last = min(p.first for p in periods), max(p.last for p in periods)
    stmt = select(d.neighbourhood_id, *sums).where(d.day.between(first, last)).group_by(d.neighbourhood_id)
    rows = (await session.execute(_in_categories(stmt, d.category, categories))).all()
    return {row[0]: [int(x) for x in row[1:]] for row in rows}


async def monthly_counts(
    session: AsyncSession, ids: Sequence[uuid.UUID], first: date, last: date, categories: Sequence[str]
) -> dict[date, int]:
    """Incidents of the given neighbourhoods per calendar month (keyed by the month's first day)."""
    d = incident_daily.c
    month = func.date_trunc("month", d.day).cast(incident_daily.c.day.type).label("month")
    stmt = (
        select(month, func.sum(d.incidents))
        .where(d.neighbourhood_id.in_(list(ids)), d.day.between(first, last))
        .group_by(month)
    )
    rows = (await session.execute(_in_categories(stmt, d.category, categories))).all()
    return {row[0]: int(row[1]) for row in rows}
