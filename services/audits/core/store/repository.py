"""The queries of the core records: neighbourhoods, partnerships, audits, recommendations and their steps.

The other capabilities read audits and histories through these too; each keeps its own queries beside it
(``requests/store.py``, ``photos/store/queries.py``, ``open311/store.py``, ``ogc/store/features.py``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.tables import (
    Audit,
    Neighbourhood,
    Partnership,
    Recommendation,
    RecommendationTransition,
)
from shared.auth.keys import KeyedRead
from shared.db.engine import existing_ids as existing_ids
from shared.db.engine import get_row
from shared.db.uow import UnitOfWork
from shared.web.pagination import PageParams, paginate

# The row-by-id lookups every service shares, under this repository's names.
get = get_row


@dataclass(frozen=True)
class ParentAudit:
    """What a recommendation's create needs of its audit: whose it is, where, and when it was conducted."""

    id: uuid.UUID
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    conducted_on: date


PARENT_AUDIT = KeyedRead(
    select(Audit.id, Audit.partnership_id, Audit.neighbourhood_id, Audit.conducted_on).where(
        Audit.id == bindparam("audit_id")  # type: ignore[arg-type]
    ),
    "audit_id",
    uuid.UUID,
)
"""Read with the caller's key by the routes under ``/v1/audits/{audit_id}`` that mark themselves with it."""


async def parent_audit(uow: UnitOfWork, audit_id: uuid.UUID) -> ParentAudit | None:
    row = await uow.fetchrow(PARENT_AUDIT.alone, {"audit_id": audit_id})
    return None if row is None else ParentAudit(**row)


async def name_taken(session: AsyncSession, name: str, except_id: uuid.UUID | None = None) -> bool:
    stmt = select(func.count()).select_from(Partnership).where(func.lower(Partnership.name) == name.lower())
    if except_id:
        stmt = stmt.where(Partnership.id != except_id)
    return bool((await session.execute(stmt)).scalar_one())


async def list_neighbourhoods(
    session: AsyncSession, page: PageParams, *, municipality: str | None, name: str | None
) -> tuple[Sequence[Neighbourhood], str | None]:
    stmt = select(Neighbourhood)
    if municipality:
        stmt = stmt.where(func.lower(Neighbourhood.municipality) == municipality.lower())
    if name:
        stmt = stmt.where(Neighbourhood.name.ilike(f"%{_escape_like(name)}%", escape="\\"))
    return await paginate(session, stmt, Neighbourhood, page)


async def all_neighbourhoods(session: AsyncSession) -> list[Neighbourhood]:
    """Every neighbourhood: one city's few dozen, read whole to place records on their centroids."""
    return list((await session.execute(select(Neighbourhood))).scalars().all())


async def list_partnerships(
    session: AsyncSession,
    page: PageParams,
    *,
    visible: frozenset[uuid.UUID] | None,
    status: str | None,
    neighbourhood_id: uuid.UUID | None,
) -> tuple[Sequence[Partnership], str | None]:
    stmt = select(Partnership)
    if visible is not None:
        stmt = stmt.where(Partnership.id.in_(visible))
    if status:
        stmt = stmt.where(Partnership.status == status)
    if neighbourhood_id:
        stmt = stmt.where(Partnership.neighbourhood_ids.any(neighbourhood_id))  # type: ignore[attr-defined]
    return await paginate(session, stmt, Partnership, page)


def _audit_filters(
    stmt: Select[Any],
    *,
    visible: frozenset[uuid.UUID] | None,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    status: str | None = None,
    trigger: str | None = None,
    conducted_from: date | None = None,
    conducted_to: date | None = None,
) -> Select[Any]:
    if visible is not None:
        stmt = stmt.where(Audit.partnership_id.in_(visible))
    if partnership_id:
        stmt = stmt.where(Audit.partnership_id == partnership_id)
    if neighbourhood_id:
        stmt = stmt.where(Audit.neighbourhood_id == neighbourhood_id)
    if status:
        stmt = stmt.where(Audit.status == status)
    if trigger:
        stmt = stmt.where(Audit.trigger == trigger)
    if conducted_from:
        stmt = stmt.where(Audit.conducted_on >= conducted_from)
    if conducted_to:
        stmt = stmt.where(Audit.conducted_on <= conducted_to)
    return stmt


async def list_audits(session: AsyncSession, page: PageParams, **filters: Any) -> tuple[Sequence[Audit], str | None]:
    return await paginate(session, _audit_filters(select(Audit), **filters), Audit, page)


async def list_recommendations(
    session: AsyncSession,
    page: PageParams,
    *,
    audit_id: uuid.UUID | None,
    category: str | None,
    status: str | None,
    priority: str | None,
    **audit_filters: Any,
) -> tuple[Sequence[tuple[Recommendation, Audit]], str | None]:
    stmt = _audit_filters(select(Recommendation).join(Audit, Audit.id == Recommendation.audit_id), **audit_filters)
    if audit_id:
        stmt = stmt.where(Recommendation.audit_id == audit_id)
    if category:
        stmt = stmt.where(Recommendation.category == category)
    if status:
        stmt = stmt.where(Recommendation.status == status)
    if priority:
        stmt = stmt.where(Recommendation.priority == priority)
    rows, cursor = await paginate(session, stmt, Recommendation, page)
    audits = await audits_by_id(session, {r.audit_id for r in rows})
    return [(r, audits[r.audit_id]) for r in rows], cursor


async def audits_by_id(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Audit]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Audit).where(Audit.id.in_(wanted)))
    return {a.id: a for a in rows.scalars().all()}


async def history(
    session: AsyncSession, recommendation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[RecommendationTransition]]:
    wanted = list(recommendation_ids)
    found: dict[uuid.UUID, list[RecommendationTransition]] = defaultdict(list)
    if not wanted:
        return found
    rows = await session.execute(
        select(RecommendationTransition)
        .where(RecommendationTransition.recommendation_id.in_(wanted))
        .order_by(RecommendationTransition.recommendation_id, RecommendationTransition.recorded_at)
    )
    for t in rows.scalars().all():
        found[t.recommendation_id].append(t)
    return found


async def last_transition_on(session: AsyncSession, recommendation_id: uuid.UUID) -> date | None:
    stmt = select(func.max(RecommendationTransition.on)).where(
        RecommendationTransition.recommendation_id == recommendation_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def first_transition_on(session: AsyncSession, audit_id: uuid.UUID) -> date | None:
    stmt = (
        select(func.min(RecommendationTransition.on))
        .join(Recommendation, Recommendation.id == RecommendationTransition.recommendation_id)
        .where(Recommendation.audit_id == audit_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def neighbourhoods_in_use(
    session: AsyncSession, partnership_id: uuid.UUID, neighbourhood_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    wanted = list(neighbourhood_ids)
    if not wanted:
        return set()
    stmt = select(Audit.neighbourhood_id).where(
        Audit.partnership_id == partnership_id, Audit.neighbourhood_id.in_(wanted)
    )
    return set((await session.execute(stmt.distinct())).scalars().all())


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
