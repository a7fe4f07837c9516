"""Reading the incidents: a page of them, how many match, and their monthly counts by neighbourhood."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.store import counts, queries
from shared.web.pagination import decode_cursor, encode_cursor


def _incident(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    lon, lat = data.pop("lon"), data.pop("lat")
    data["location"] = {"type": "Point", "coordinates": [lon, lat]} if lon is not None else None
    return data


async def incidents(
    session: AsyncSession, filters: queries.IncidentFilters, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Newest first, keyset-paged on ``(occurred_at, id)``."""
    after = decode_cursor(cursor) if cursor else None
    rows = await queries.list_incidents(session, limit + 1, after, filters)
    next_cursor = encode_cursor(rows[limit - 1].occurred_at, rows[limit - 1].id) if len(rows) > limit else None
    return {"items": [_incident(r) for r in rows[:limit]], "next_cursor": next_cursor}


async def count(session: AsyncSession, filters: queries.IncidentFilters) -> dict[str, int]:
    return {"count": await queries.count_incidents(session, filters)}


def _month(value: date) -> str:
    return value.strftime("%Y-%m")


async def monthly_counts(
    session: AsyncSession, first: date, before: date, neighbourhood_ids: Sequence[uuid.UUID], categories: Sequence[str]
) -> dict[str, object]:
    """The non-zero cells of the days ``first`` <= day < ``before``, by month ``YYYY-MM``."""
    rows = await counts.monthly_cells(session, first, before, neighbourhood_ids, categories)
    return {"items": [r._asdict() | {"month": _month(r.month)} for r in rows]}


async def extent(session: AsyncSession) -> dict[str, object]:
    first, last, categories = await counts.coverage(session)
    return {
        "first_month": _month(first) if first else None,
        "last_month": _month(last) if last else None,
        "categories": categories,
    }
