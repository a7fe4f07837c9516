"""The versions of the category map. The shipped map is the first; each one an admin stores takes the next
number and becomes the current one. Versions are never changed or removed: an answer names the version that
chose its categories, and asking for that version gives the same categories again."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, Date, DateTime, Integer, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.evaluation.domain.estimators.outcome_families import CategoryMap, shipped_category_map
from services.metrics.totals.store.tables import metadata

category_map = Table(
    "category_map",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("families", JSONB, nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", Text, nullable=True),
)

SHIPPED = shipped_category_map()


def _read(row: Any) -> CategoryMap:
    return CategoryMap.from_row(
        {
            "version": row.version,
            "effective_from": row.effective_from.isoformat(),
            "note": row.note,
            "families": row.families,
            "categories": row.categories,
        },
        created_at=row.created_at,
        created_by=row.created_by,
    )


async def current(session: AsyncSession) -> CategoryMap:
    """The newest stored version, else the shipped one."""
    row = (await session.execute(select(category_map).order_by(category_map.c.version.desc()).limit(1))).first()
    return SHIPPED if row is None else _read(row)


async def version(session: AsyncSession, number: int) -> CategoryMap | None:
    row = (await session.execute(select(category_map).where(category_map.c.version == number))).first()
    if row is not None:
        return _read(row)
    return SHIPPED if number == SHIPPED.version else None


async def versions(session: AsyncSession, below: int | None, limit: int) -> list[CategoryMap]:
    """Newest first, the versions below ``below``; the shipped one, the first, comes last."""
    stmt = select(category_map).order_by(category_map.c.version.desc()).limit(limit)
    if below is not None:
        stmt = stmt.where(category_map.c.version < below)
    found = [_read(row) for row in (await session.execute(stmt)).all()]
    if len(found) < limit and (below is None or SHIPPED.version < below):
        found.append(SHIPPED)
    return found


async def store(session: AsyncSession, new: CategoryMap, created_by: uuid.UUID | None) -> CategoryMap:
    """Store ``new`` as the next version; the caller checked it replaces the current one under the lock."""
    await session.execute(
        category_map.insert().values(
            version=new.version,
            effective_from=new.effective_from,
            note=new.note,
            families=dict(new.families),
            categories={c: list(fs) for c, fs in new.categories.items()},
            created_by=None if created_by is None else str(created_by),
        )
    )
    stored = await version(session, new.version)
    assert stored is not None
    return stored


async def lock(session: AsyncSession) -> None:
    """One writer of the category map at a time, until the transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('metrics.category_map', 0))"))
