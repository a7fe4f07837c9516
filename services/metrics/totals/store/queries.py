"""Reads of the projections: sums over the small counter tables, partnerships, and the latest states of records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.totals.domain.contributions import ALL
from services.metrics.totals.store.log_positions import LOGGED_BEHIND
from services.metrics.totals.store.tables import (
    counter_daily,
    counter_total,
    processed_event,
    recommendation_progress,
    subject,
)


@cache
def _counter_query(group_by: str | None, partnership: bool, neighbourhood: bool, start: bool, end: bool) -> Select:  # type: ignore[type-arg]
    """The sums of one shape of request, values bound by name (``partnership_id``, ``neighbourhood_id``, ``start``,
    ``end``). Built once per shape: the totals are polled, and building a statement costs about as much as running
    it."""
    table = counter_daily if (start or end) else counter_total
    columns = [table.c.metric, func.sum(table.c.value).label("value")]
    if group_by:
        columns.insert(0, table.c[group_by].label("group_id"))
    stmt = select(*columns)
    if group_by == "partnership_id":
        stmt = stmt.where(table.c.partnership_id != ALL)
    else:
        stmt = stmt.where(table.c.partnership_id == bindparam("partnership_id", type_=table.c.partnership_id.type))
    if neighbourhood:
        stmt = stmt.where(table.c.neighbourhood_id == bindparam("neighbourhood_id"))
    if start:
        stmt = stmt.where(table.c.day >= bindparam("start"))
    if end:
        stmt = stmt.where(table.c.day <= bindparam("end"))
    group = [table.c.metric] + ([table.c[group_by]] if group_by else [])
    return stmt.group_by(*group)


async def counter_sums(
    session: AsyncSession,
    *,
    group_by: str | None = None,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Sequence[tuple]:  # type: ignore[type-arg]
    shape = (group_by, partnership_id is not None, neighbourhood_id is not None, start is not None, end is not None)
    stmt = _counter_query(*shape)
    return (await session.execute(stmt, _values(partnership_id, neighbourhood_id, start, end))).all()


def _values(
    partnership_id: uuid.UUID | None, neighbourhood_id: uuid.UUID | None, start: date | None, end: date | None
) -> dict[str, Any]:
    """The values of the parameters the sums' and the partnerships' statements bind."""
    return {
        "partnership_id": partnership_id or ALL,
        "neighbourhood_id": neighbourhood_id,
        "neighbourhood_ids": [str(neighbourhood_id)],
        "start": start,
        "end": end,
    }


@cache
def _partnerships_query(partnership: bool, neighbourhood: bool) -> Select:  # type: ignore[type-arg]
    stmt = select(subject.c.id, subject.c.state["neighbourhood_ids"]).where(
        subject.c.kind == "partnership", subject.c.deleted.is_(False)
    )
    if partnership:
        stmt = stmt.where(subject.c.id == bindparam("partnership_id"))
    if neighbourhood:
        stmt = stmt.where(subject.c.state["neighbourhood_ids"].contains(bindparam("neighbourhood_ids", type_=JSONB)))
    return stmt


async def partnerships(
    session: AsyncSession, partnership_id: uuid.UUID | None, neighbourhood_id: uuid.UUID | None
) -> list[tuple[uuid.UUID, list[str]]]:
    """Known partnerships with the neighbourhoods each works in."""
    stmt = _partnerships_query(partnership_id is not None, neighbourhood_id is not None)
    values = _values(partnership_id, neighbourhood_id, None, None)
    return [(row[0], list(row[1] or [])) for row in (await session.execute(stmt, values)).all()]


@dataclass(frozen=True)
class Snapshot:
    """What the overall totals answer holds, read in one statement: one snapshot of the projections."""

    sums: list[tuple[str, int]]
    partnerships: int
    as_of: datetime | None
    logged_behind: int
    """Events the producers' logs hold and the projections have not applied, as the log watch last found."""


async def snapshot(
    session: AsyncSession,
    *,
    partnership_id: uuid.UUID | None,
    neighbourhood_id: uuid.UUID | None,
    start: date | None,
    end: date | None,
) -> Snapshot:
    """The sums, the number of partnerships, the last applied event's time and the logged lag, in one round trip:
    the totals are polled (dashboards), and each statement costs a round trip."""
    shape = (partnership_id is not None, neighbourhood_id is not None, start is not None, end is not None)
    row = (await session.execute(_snapshot(*shape), _values(partnership_id, neighbourhood_id, start, end))).one()
    return Snapshot(
        sums=[(metric, int(value)) for metric, value in row.sums],
        partnerships=row.partnerships,
        as_of=row.as_of,
        logged_behind=int(row.logged_behind),
    )


@cache
def _snapshot(partnership: bool, neighbourhood: bool, start: bool, end: bool) -> Select:  # type: ignore[type-arg]
    """Built once per shape, of the sums' and the partnerships' statements of that shape."""
    sums = _counter_query(None, partnership, neighbourhood, start, end).subquery()
    listed = _partnerships_query(partnership, neighbourhood).subquery()
    as_json = func.coalesce(func.jsonb_agg(func.jsonb_build_array(sums.c.metric, sums.c.value)), literal([], JSONB))
    return select(
        select(as_json).select_from(sums).scalar_subquery().label("sums"),
        select(func.count()).select_from(listed).scalar_subquery().label("partnerships"),
        _LAST_APPLIED.scalar_subquery().label("as_of"),
        LOGGED_BEHIND.scalar_subquery().label("logged_behind"),
    )


async def live_states(session: AsyncSession, kind: str, ids: Sequence[uuid.UUID] | None = None) -> list[dict[str, Any]]:
    stmt = select(subject.c.state).where(subject.c.kind == kind, subject.c.deleted.is_(False))
    if ids is not None:
        stmt = stmt.where(subject.c.id.in_(list(ids)))
    return [row[0] for row in (await session.execute(stmt)).all()]


async def children(session: AsyncSession, audit_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """The recommendations of the given audits."""
    stmt = select(subject.c.state).where(
        subject.c.kind == "recommendation", subject.c.parent_id.in_(list(audit_ids)), subject.c.deleted.is_(False)
    )
    return [row[0] for row in (await session.execute(stmt)).all()]


async def first_in_progress(session: AsyncSession, audit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date]:
    """Per audit, the first day one of its recommendations was recorded in progress."""
    p = recommendation_progress.c
    stmt = select(p.audit_id, func.min(p.in_progress_on)).where(p.audit_id.in_(list(audit_ids))).group_by(p.audit_id)
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


_LAST_APPLIED = select(processed_event.c.processed_at).order_by(processed_event.c.processed_at.desc()).limit(1)


async def last_applied_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(_LAST_APPLIED)).scalar_one_or_none()


async def neighbourhood_ids(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.execute(select(subject.c.id).where(subject.c.kind == "neighbourhood").order_by(subject.c.id))
    return list(rows.scalars().all())
