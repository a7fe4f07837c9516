"""The queries of community events and community connections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.events.conditions import equal, within
from services.events.tables import CommunityEvent, Stakeholder
from shared.web.pagination import PageParams, paginate


async def stakeholder_named(
    session: AsyncSession, partnership_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> bool:
    stmt = select(func.count()).where(
        Stakeholder.partnership_id == partnership_id, func.lower(Stakeholder.name) == name.lower()
    )
    if except_id:
        stmt = stmt.where(Stakeholder.id != except_id)
    return bool((await session.execute(stmt)).scalar_one())


async def list_events(
    session: AsyncSession,
    page: PageParams,
    *,
    visible: frozenset[uuid.UUID] | None,
    partnership_id: uuid.UUID | None,
    starts_after: datetime | None,
    starts_before: datetime | None,
    special: bool | None,
    **values: Any,
) -> tuple[Sequence[CommunityEvent], str | None]:
    column = CommunityEvent.partnership_ids
    conditions = [
        *([column.overlap(list(visible))] if visible is not None else []),
        *([column.contains([partnership_id])] if partnership_id else []),  # type: ignore[attr-defined]
        *([CommunityEvent.special.is_(special)] if special is not None else []),  # type: ignore[attr-defined]
        *equal(CommunityEvent, **values),
        *within(CommunityEvent.starts_at, starts_after, starts_before),
    ]
    return await paginate(session, select(CommunityEvent).where(*conditions), CommunityEvent, page)


async def calendar_events(
    session: AsyncSession, partnership_id: uuid.UUID, since: datetime, limit: int
) -> Sequence[CommunityEvent]:
    stmt = (
        select(CommunityEvent)
        .where(CommunityEvent.partnership_ids.contains([partnership_id]), CommunityEvent.starts_at >= since)  # type: ignore[attr-defined]
        .order_by(CommunityEvent.starts_at, CommunityEvent.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def list_stakeholders(
    session: AsyncSession,
    page: PageParams,
    *,
    visible: frozenset[uuid.UUID] | None,
    start: date | None,
    end: date | None,
    **values: Any,
) -> tuple[Sequence[Stakeholder], str | None]:
    conditions = [
        *([Stakeholder.partnership_id.in_(visible)] if visible is not None else []),  # type: ignore[attr-defined]
        *equal(Stakeholder, **values),
        *within(Stakeholder.connected_on, start, end),
    ]
    return await paginate(session, select(Stakeholder).where(*conditions), Stakeholder, page)
