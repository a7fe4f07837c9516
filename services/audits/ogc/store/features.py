"""The queries behind OGC API - Features: filtered, counted and paged in SQL over the service's own tables.

Points are read from the GeoJSON ``location`` column; a record without one is
placed at its neighbourhood's centroid, so the spatial filter also takes the
neighbourhoods whose centroid (or, for the neighbourhoods collection, whose
boundary) meets the box, worked out in memory from the few boundaries.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.ogc.domain.standard import BBox, Interval
from services.audits.tables import Audit, AuditRequest, Neighbourhood, Recommendation
from shared.web.pagination import PageParams, paginate


@dataclass(frozen=True)
class ItemFilter:
    box: BBox | None = None
    near: frozenset[uuid.UUID] = frozenset()  # neighbourhoods whose centroid (or boundary) meets the box
    days: tuple[date | None, date | None] | None = None
    interval: Interval | None = None
    properties: dict[str, str] = field(default_factory=dict)
    categories: Collection[str] = ()


def _in_box(location: Any, neighbourhood_id: Any, f: ItemFilter) -> Any:
    """Located in the box, or unlocated in a neighbourhood whose centroid is, or placed nowhere (no geometry)."""
    assert f.box is not None
    lon, lat = location[("coordinates", 0)].as_float(), location[("coordinates", 1)].as_float()
    box = f.box
    east_west = or_(lon >= box.west, lon <= box.east) if box.crosses_antimeridian else lon.between(box.west, box.east)
    located = and_(lon.is_not(None), east_west, lat.between(box.south, box.north))
    by_centroid = and_(lon.is_(None), neighbourhood_id.in_(f.near)) if f.near else false()
    nowhere = and_(lon.is_(None), neighbourhood_id.is_(None))
    return or_(located, by_centroid, nowhere)


def _on_days(stmt: Select[Any], column: Any, days: tuple[date | None, date | None] | None) -> Select[Any]:
    if days and days[0]:
        stmt = stmt.where(column >= days[0])
    if days and days[1]:
        stmt = stmt.where(column <= days[1])
    return stmt


def _where(stmt: Select[Any], model: Any, properties: dict[str, str]) -> Select[Any]:
    for name, value in properties.items():
        stmt = stmt.where(getattr(model, name) == value)
    return stmt


def _neighbourhoods(f: ItemFilter) -> Select[Any]:
    stmt = _where(select(Neighbourhood), Neighbourhood, f.properties)
    return stmt.where(Neighbourhood.id.in_(f.near)) if f.box else stmt


def _audits(f: ItemFilter) -> Select[Any]:
    stmt = _on_days(_where(select(Audit), Audit, f.properties), Audit.conducted_on, f.days)
    return stmt.where(_in_box(Audit.location, Audit.neighbourhood_id, f)) if f.box else stmt


def _recommendations(f: ItemFilter) -> Select[Any]:
    stmt = select(Recommendation).join(Audit, Audit.id == Recommendation.audit_id)
    stmt = _where(stmt, Recommendation, f.properties).where(Recommendation.category.in_(f.categories))
    stmt = _on_days(stmt, Audit.conducted_on, f.days)
    return stmt.where(_in_box(Audit.location, Audit.neighbourhood_id, f)) if f.box else stmt


def _audit_requests(f: ItemFilter) -> Select[Any]:
    stmt = _where(select(AuditRequest), AuditRequest, f.properties)
    if f.interval and f.interval.start:
        stmt = stmt.where(AuditRequest.received_at >= f.interval.start)
    if f.interval and f.interval.end:
        stmt = stmt.where(AuditRequest.received_at <= f.interval.end)
    return stmt.where(_in_box(AuditRequest.location, AuditRequest.neighbourhood_id, f)) if f.box else stmt


QUERIES = {
    "neighbourhoods": (Neighbourhood, _neighbourhoods),
    "audits": (Audit, _audits),
    "recommendations": (Recommendation, _recommendations),
    "audit-requests": (AuditRequest, _audit_requests),
}


async def items(
    session: AsyncSession, collection_id: str, f: ItemFilter, page: PageParams
) -> tuple[Sequence[Any], str | None, int]:
    """One page, newest first, the cursor of the next, and how many match in all."""
    model, build = QUERIES[collection_id]
    stmt = build(f)
    matched = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows, cursor = await paginate(session, stmt, model, page)
    return rows, cursor, matched


async def item(session: AsyncSession, collection_id: str, id_: uuid.UUID, f: ItemFilter) -> Any:
    model, build = QUERIES[collection_id]
    return (await session.execute(build(f).where(model.id == id_))).scalars().first()


async def point_extent(
    session: AsyncSession, model: Any
) -> tuple[tuple[float, float, float, float] | None, set[uuid.UUID]]:
    """The box of the located records, and the neighbourhoods of the unlocated ones."""
    lon, lat = model.location[("coordinates", 0)].as_float(), model.location[("coordinates", 1)].as_float()
    box = (await session.execute(select(func.min(lon), func.min(lat), func.max(lon), func.max(lat)))).one()
    stmt = select(model.neighbourhood_id).where(lon.is_(None), model.neighbourhood_id.is_not(None)).distinct()
    unlocated = set((await session.execute(stmt)).scalars().all())
    return (tuple(box) if box[0] is not None else None), unlocated  # type: ignore[return-value]


async def time_extent(session: AsyncSession, column: Any) -> tuple[Any, Any]:
    first, last = (await session.execute(select(func.min(column), func.max(column)))).one()
    return first, last


async def received_extent(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    return await time_extent(session, AuditRequest.received_at)


async def conducted_extent(session: AsyncSession) -> tuple[date | None, date | None]:
    return await time_extent(session, Audit.conducted_on)
