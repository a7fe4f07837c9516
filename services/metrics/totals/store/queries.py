"""Reads of the projections: sums over the small counter tables, partnerships, and the latest states of records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Date, Select, String, Uuid, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.totals.domain.contributions import ALL
from services.metrics.totals.store.tables import (
    counter_daily,
    counter_total,
    log_position,
    processed_event,
    recommendation_progress,
    subject,
)


def _counter_query(group_by: str | None, partnership_id: Any, neighbourhood_id: Any, start: Any, end: Any) -> Select:  # type: ignore[type-arg]
    """The sums of the counters; the filters are values, or parameters bound by name (``None``: no filter)."""
    table = counter_daily if (start is not None or end is not None) else counter_total
    columns = [table.c.metric, func.sum(table.c.value).label("value")]
    if group_by:
        columns.insert(0, table.c[group_by].label("group_id"))
    stmt = select(*columns)
    if group_by == "partnership_id":
        stmt = stmt.where(table.c.partnership_id != ALL)
    else:
        stmt = stmt.where(table.c.partnership_id == (ALL if partnership_id is None else partnership_id))
    if neighbourhood_id is not None:
        stmt = stmt.where(table.c.neighbourhood_id == neighbourhood_id)
    if start is not None:
        stmt = stmt.where(table.c.day >= start)
    if end is not None:
        stmt = stmt.where(table.c.day <= end)
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
    stmt = _counter_query(group_by, partnership_id, neighbourhood_id, start, end)
    return (await session.execute(stmt)).all()


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
    """The totals' sums, the number of partnerships, the last applied event's time and the logged lag, in one
    round trip: the totals are read often (dashboards poll them), and each statement costs a round trip."""
    shape = (partnership_id is not None, neighbourhood_id is not None, start is not None, end is not None)
    values = {"partnership_id": partnership_id, "neighbourhood_id": neighbourhood_id, "start": start, "end": end}
    row = (await session.execute(_snapshot_statement(*shape), {k: v for k, v in values.items() if v})).one()
    return Snapshot(
        sums=[(metric, int(value)) for metric, value in row.sums],
        partnerships=row.partnerships,
        as_of=row.as_of,
        logged_behind=int(row.logged_behind),
    )


@cache
def _snapshot_statement(partnership: bool, neighbourhood: bool, start: bool, end: bool) -> Select:  # type: ignore[type-arg]
    """Built once per shape of the query (which filters it has); values are bound by name."""
    partnership_id = bindparam("partnership_id", type_=Uuid) if partnership else None
    neighbourhood_id = bindparam("neighbourhood_id", type_=Uuid) if neighbourhood else None
    sums = _counter_query(
        None,
        partnership_id,
        neighbourhood_id,
        bindparam("start", type_=Date()) if start else None,
        bindparam("end", type_=Date()) if end else None,
    ).subquery()
    as_json = func.coalesce(func.jsonb_agg(func.jsonb_build_array(sums.c.metric, sums.c.value)), literal([], JSONB))
    return select(
        select(as_json).select_from(sums).scalar_subquery().label("sums"),
        select(func.count())
        .select_from(_partnerships_query(partnership_id, neighbourhood_id).subquery())
        .scalar_subquery()
        .label("partnerships"),
        _last_applied.scalar_subquery().label("as_of"),
        select(func.coalesce(func.sum(log_position.c.behind), 0)).scalar_subquery().label("logged_behind"),
    )


def _partnerships_query(partnership_id: Any, neighbourhood_id: Any) -> Select:  # type: ignore[type-arg]
    stmt = select(subject.c.id, subject.c.state["neighbourhood_ids"]).where(
        subject.c.kind == "partnership", subject.c.deleted.is_(False)
    )
    if partnership_id is not None:
        stmt = stmt.where(subject.c.id == partnership_id)
    if neighbourhood_id is not None:
        listed = func.jsonb_build_array(cast(neighbourhood_id, String))
        stmt = stmt.where(subject.c.state["neighbourhood_ids"].contains(listed))
    return stmt


async def partnerships(
    session: AsyncSession, partnership_id: uuid.UUID | None, neighbourhood_id: uuid.UUID | None
) -> list[tuple[uuid.UUID, list[str]]]:
    """Known partnerships with the neighbourhoods each works in."""
    stmt = _partnerships_query(partnership_id, neighbourhood_id)
    return [(row[0], list(row[1] or [])) for row in (await session.execute(stmt)).all()]


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


_last_applied = select(processed_event.c.processed_at).order_by(processed_event.c.processed_at.desc()).limit(1)


async def last_applied_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(_last_applied)).scalar_one_or_none()


async def neighbourhood_ids(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.execute(select(subject.c.id).where(subject.c.kind == "neighbourhood").order_by(subject.c.id))
    return list(rows.scalars().all())
