"""The queries of material, its distributions and the training sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.events.conditions import equal, within
from services.events.materials.domain.agencies import spelled
from services.events.tables import Distribution, Material, Training
from shared.web.pagination import PageParams, paginate


async def slug_taken(session: AsyncSession, slug: str, except_id: uuid.UUID | None = None) -> bool:
    stmt = select(func.count()).select_from(Material).where(Material.slug == slug)
    if except_id:
        stmt = stmt.where(Material.id != except_id)
    return bool((await session.execute(stmt)).scalar_one())


async def list_materials(
    session: AsyncSession, page: PageParams, *, language: str | None, **values: Any
) -> tuple[Sequence[Material], str | None]:
    conditions = equal(Material, **values)
    if language:
        conditions.append(Material.translations.has_key(language))  # type: ignore[attr-defined]
    return await paginate(session, select(Material).where(*conditions), Material, page)


async def all_materials(session: AsyncSession, topic: str | None = None) -> Sequence[Material]:
    stmt = select(Material).where(*equal(Material, topic=topic)).order_by(Material.slug)
    return (await session.execute(stmt)).scalars().all()


def _agency_is(column: Any, agency: str | None) -> list[Any]:
    return [func.lower(column) == spelled(agency).lower()] if agency else []


async def list_distributions(
    session: AsyncSession, page: PageParams, *, agency: str | None, start: date | None, end: date | None, **values: Any
) -> tuple[Sequence[Distribution], str | None]:
    conditions = [
        *equal(Distribution, **values),
        *_agency_is(Distribution.agency, agency),
        *within(Distribution.distributed_on, start, end),
    ]
    return await paginate(session, select(Distribution).where(*conditions), Distribution, page)


async def distributions_to(session: AsyncSession, audience: str) -> Sequence[Distribution]:
    stmt = select(Distribution).where(Distribution.audience == audience)
    return (await session.execute(stmt)).scalars().all()


async def list_trainings(
    session: AsyncSession, page: PageParams, *, agency: str | None, start: date | None, end: date | None, **values: Any
) -> tuple[Sequence[Training], str | None]:
    conditions = [
        *equal(Training, **values),
        *_agency_is(Training.agency, agency),
        *within(Training.held_on, start, end),
    ]
    return await paginate(session, select(Training).where(*conditions), Training, page)


async def agencies(session: AsyncSession) -> list[str]:
    """Every agency named in a distribution or a training."""
    names = select(Distribution.agency).union(select(Training.agency))
    return list((await session.execute(names)).scalars().all())
