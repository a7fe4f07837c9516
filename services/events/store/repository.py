"""Every query of the events service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.events.store.tables import CommunityEvent, Distribution, Material, Stakeholder, Training
from shared.web.pagination import PageParams, paginate


async def slug_taken(session: AsyncSession, slug: str, except_id: uuid.UUID | None = None) -> bool:
    stmt = select(func.count()).select_from(Material).where(Material.slug == slug)
    if except_id:
        stmt = stmt.where(Material.id != except_id)
    return bool((await session.execute(stmt)).scalar_one())


async def stakeholder_named(
    session: AsyncSession, partnership_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> bool:
    stmt = select(func.count()).where(
        Stakeholder.partnership_id == partnership_id, func.lower(Stakeholder.name) == name.lower()
    )
    if except_id:
        stmt = stmt.where(Stakeholder.id != except_id)
    return bool((await session.execute(stmt)).scalar_one())


def _equal(model: Any, **values: Any) -> list[Any]:
    """``column == value`` for every filter given (``None`` means not filtered)."""
    return [getattr(model, name) == value for name, value in values.items() if value is not None]


def _within(column: Any, start: Any, end: Any) -> list[Any]:
    """``start <= column <= end``; ``end`` excluded instead for instants (half-open bounds of local days)."""
    conditions = [] if start is None else [column >= start]
    if end is not None:
        conditions.append(column < end if isinstance(end, datetime) else column <= end)
    return conditions


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
        *_equal(CommunityEvent, **values),
        *_within(CommunityEvent.starts_at, starts_after, starts_before),
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


async def list_materials(
    session: AsyncSession, page: PageParams, *, language: str | None, **values: Any
) -> tuple[Sequence[Material], str | None]:
    conditions = _equal(Material, **values)
    if language:
        conditions.append(Material.translations.has_key(language))  # type: ignore[attr-defined]
    return await paginate(session, select(Material).where(*conditions), Material, page)


async def all_materials(session: AsyncSession, topic: str | None = None) -> Sequence[Material]:
    stmt = select(Material).where(*_equal(Material, topic=topic)).order_by(Material.slug)
    return (await session.execute(stmt)).scalars().all()


def _agency_is(column: Any, agency: str | None) -> list[Any]:
    return [func.lower(column) == " ".join(agency.split()).lower()] if agency else []


async def list_distributions(
    session: AsyncSession, page: PageParams, *, agency: str | None, start: date | None, end: date | None, **values: Any
) -> tuple[Sequence[Distribution], str | None]:
    conditions = [
        *_equal(Distribution, **values),
        *_agency_is(Distribution.agency, agency),
        *_within(Distribution.distributed_on, start, end),
    ]
    return await paginate(session, select(Distribution).where(*conditions), Distribution, page)


async def distributions_to(session: AsyncSession, audience: str) -> Sequence[Distribution]:
    stmt = select(Distribution).where(Distribution.audience == audience)
    return (await session.execute(stmt)).scalars().all()


async def list_trainings(
    session: AsyncSession, page: PageParams, *, agency: str | None, start: date | None, end: date | None, **values: Any
) -> tuple[Sequence[Training], str | None]:
    conditions = [
        *_equal(Training, **values),
        *_agency_is(Training.agency, agency),
        *_within(Training.held_on, start, end),
    ]
    return await paginate(session, select(Training).where(*conditions), Training, page)


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
        *_equal(Stakeholder, **values),
        *_within(Stakeholder.connected_on, start, end),
    ]
    return await paginate(session, select(Stakeholder).where(*conditions), Stakeholder, page)


async def agencies(session: AsyncSession) -> list[str]:
    """Every agency named in a distribution or a training."""
    names = select(Distribution.agency).union(select(Training.agency))
    return list((await session.execute(names)).scalars().all())
