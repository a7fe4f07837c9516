"""The queries the lifecycle exports add to the lists' own: names, and the recommendations of a page of audits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.tables import Neighbourhood, Partnership, Recommendation


async def names(session: AsyncSession) -> dict[uuid.UUID, str]:
    """Every partnership's and neighbourhood's name by id (a few dozen rows)."""
    rows = (await session.execute(select(Partnership.id, Partnership.name))).all()
    rows += (await session.execute(select(Neighbourhood.id, Neighbourhood.name))).all()
    return {id_: name for id_, name in rows}


async def recommendations_of(
    session: AsyncSession, audit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Recommendation]]:
    found: dict[uuid.UUID, list[Recommendation]] = {}
    if not audit_ids:
        return found
    stmt = select(Recommendation).where(Recommendation.audit_id.in_(list(audit_ids)))  # type: ignore[attr-defined]
    for rec in (await session.execute(stmt)).scalars().all():
        found.setdefault(rec.audit_id, []).append(rec)
    return found
