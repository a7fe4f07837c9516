"""The incidents as the API lists them: filtered, newest first, and counted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.store.tables import crime_incident


async def list_incidents(
    session: AsyncSession, limit: int, after: tuple[datetime, uuid.UUID] | None, filters: IncidentFilters
) -> list[Any]:
    """One page, newest first, keyset on ``(occurred_at, id)``."""
    c = crime_incident.c
    stmt = _filtered(select(crime_incident), filters)
    if after:
        stmt = stmt.where(tuple_(c.occurred_at, c.id) < tuple_(*after))
    stmt = stmt.order_by(c.occurred_at.desc(), c.id.desc()).limit(limit)
    return list((await session.execute(stmt)).all())


async def count_incidents(session: AsyncSession, filters: IncidentFilters) -> int:
    stmt = _filtered(select(func.count()).select_from(crime_incident), filters)
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class IncidentFilters:
    source: str | None = None
    categories: Sequence[str] = ()
    neighbourhood_ids: Sequence[uuid.UUID] = ()
    unassigned: bool | None = None
    occurred: tuple[datetime, datetime] | None = None
    """``[start, end)`` in UTC, from local days."""
    bbox: tuple[float, float, float, float] | None = None


def _filtered(stmt: Select[Any], f: IncidentFilters) -> Select[Any]:
    c = crime_incident.c
    if f.source:
        stmt = stmt.where(c.source == f.source)
    if f.categories:
        stmt = stmt.where(c.category.in_(list(f.categories)))
    if f.neighbourhood_ids:
        stmt = stmt.where(c.neighbourhood_id.in_(list(f.neighbourhood_ids)))
    if f.unassigned is not None:
        stmt = stmt.where(c.neighbourhood_id.is_(None) if f.unassigned else c.neighbourhood_id.is_not(None))
    if f.occurred:
        stmt = stmt.where(c.occurred_at >= f.occurred[0], c.occurred_at < f.occurred[1])
    if f.bbox:
        west, south, east, north = f.bbox
        stmt = stmt.where(c.lon.between(west, east), c.lat.between(south, north))
    return stmt
