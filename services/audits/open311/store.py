"""The queries behind Open311 GeoReport v2: recommendations and audit requests as service requests."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.open311.domain.georeport import CLOSED_RECOMMENDATIONS, CLOSED_REQUESTS, RequestQuery
from services.audits.tables import Audit, AuditRequest, Neighbourhood, Recommendation


def _by_status(stmt: Select[Any], column: Any, closed: Collection[str], query: RequestQuery) -> Select[Any]:
    if query.open and not query.closed:
        return stmt.where(column.not_in(closed))
    if query.closed and not query.open:
        return stmt.where(column.in_(closed))
    return stmt


def _in_window(stmt: Select[Any], column: Any, start: datetime | None, end: datetime | None) -> Select[Any]:
    if start:
        stmt = stmt.where(column >= start)
    if end:
        stmt = stmt.where(column <= end)
    return stmt


def _selected(stmt: Select[Any], model: Any, closed: Collection[str], moment: Any, query: RequestQuery) -> Select[Any]:
    """By ids alone when given (they override the rest), else by status and time; newest first."""
    if query.ids is not None:
        stmt = stmt.where(model.id.in_(query.ids))
    else:
        stmt = _in_window(_by_status(stmt, model.status, closed, query), moment, query.start, query.end)
    return stmt.order_by(moment.desc(), model.id.desc()).limit(query.limit)


async def recommendations(
    session: AsyncSession, query: RequestQuery, categories: Collection[str]
) -> list[tuple[Recommendation, Audit]]:
    stmt = (
        select(Recommendation, Audit)
        .join(Audit, Audit.id == Recommendation.audit_id)
        .where(Recommendation.category.in_(categories))
    )
    stmt = _selected(stmt, Recommendation, CLOSED_RECOMMENDATIONS, Recommendation.created_at, query)
    return [(r, a) for r, a in (await session.execute(stmt)).all()]


async def audit_requests(session: AsyncSession, query: RequestQuery) -> list[AuditRequest]:
    stmt = _selected(select(AuditRequest), AuditRequest, CLOSED_REQUESTS, AuditRequest.received_at, query)
    return list((await session.execute(stmt)).scalars().all())


async def neighbourhoods(session: AsyncSession, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Neighbourhood]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(Neighbourhood).where(Neighbourhood.id.in_(wanted)))
    return {n.id: n for n in rows.scalars().all()}
