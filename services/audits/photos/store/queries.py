"""Every query of the photos."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.tables import Photo
from shared.web.pagination import PageParams, paginate


async def list_photos(
    session: AsyncSession,
    page: PageParams,
    *,
    audit_id: uuid.UUID,
    recommendation_id: uuid.UUID | None,
    kind: str | None,
) -> tuple[Sequence[Photo], str | None]:
    """An audit's own photos (not its recommendations'), or one recommendation's."""
    stmt = select(Photo).where(Photo.audit_id == audit_id)
    if recommendation_id is None:
        stmt = stmt.where(Photo.recommendation_id.is_(None))  # type: ignore[union-attr]
    else:
        stmt = stmt.where(Photo.recommendation_id == recommendation_id)
    if kind:
        stmt = stmt.where(Photo.kind == kind)
    return await paginate(session, stmt, Photo, page)


async def files_of_audit(session: AsyncSession, audit_id: uuid.UUID) -> list[str]:
    """The storage keys of every photo of an audit and of its recommendations."""
    rows = await session.execute(select(Photo.storage_key, Photo.thumbnail_key).where(Photo.audit_id == audit_id))
    return [key for row in rows.all() for key in row]


async def counts(session: AsyncSession, column: str, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many photos each audit (``audit_id``) or recommendation (``recommendation_id``) has."""
    wanted = list(ids)
    if not wanted:
        return {}
    owner = getattr(Photo, column)
    stmt = select(owner, func.count()).where(owner.in_(wanted)).group_by(owner)
    return {owner_id: n for owner_id, n in (await session.execute(stmt)).all()}
