"""The queries of audit requests and their requesters: what an editor key sees, the list, the boundaries a point
is placed in, and the contacts on file (Open311 and OGC read requests through their own queries)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.tables import AuditRequest, AuditRequestRequester, Neighbourhood, Partnership
from shared.web.pagination import PageParams, paginate


@dataclass(frozen=True)
class EditorScope:
    """What an editor key sees: its partnerships' requests, requests in their neighbourhoods, unplaced ones."""

    partnership_ids: frozenset[uuid.UUID]
    neighbourhood_ids: frozenset[uuid.UUID]

    def covers(self, row: AuditRequest) -> bool:
        if row.partnership_id is None and row.neighbourhood_id is None:
            return True
        return row.partnership_id in self.partnership_ids or row.neighbourhood_id in self.neighbourhood_ids


async def editor_scope(session: AsyncSession, partnership_ids: Iterable[uuid.UUID]) -> EditorScope:
    ids = frozenset(partnership_ids)
    found: set[uuid.UUID] = set()
    if ids:
        rows = await session.execute(select(Partnership.neighbourhood_ids).where(Partnership.id.in_(ids)))
        for neighbourhoods in rows.scalars().all():
            found.update(neighbourhoods)
    return EditorScope(ids, frozenset(found))


async def partnerships_working_in(session: AsyncSession, neighbourhood_id: uuid.UUID | None) -> list[uuid.UUID]:
    if neighbourhood_id is None:
        return []
    stmt = select(Partnership.id).where(Partnership.neighbourhood_ids.contains([neighbourhood_id]))
    return list((await session.execute(stmt)).scalars().all())


async def boundaries(session: AsyncSession) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """Every neighbourhood boundary: few enough (one city's neighbourhoods) to test points against in memory."""
    rows = await session.execute(select(Neighbourhood.id, Neighbourhood.boundary))
    return [(id_, boundary) for id_, boundary in rows.all()]


def _visible(stmt: Select[Any], scope: EditorScope | None) -> Select[Any]:
    if scope is None:
        return stmt
    return stmt.where(
        or_(
            AuditRequest.partnership_id.in_(scope.partnership_ids) if scope.partnership_ids else false(),
            AuditRequest.neighbourhood_id.in_(scope.neighbourhood_ids) if scope.neighbourhood_ids else false(),
            AuditRequest.partnership_id.is_(None) & AuditRequest.neighbourhood_id.is_(None),
        )
    )


async def list_audit_requests(
    session: AsyncSession,
    page: PageParams,
    *,
    scope: EditorScope | None,
    status: str | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    partnership_id: uuid.UUID | None = None,
    audit_id: uuid.UUID | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
) -> tuple[Sequence[AuditRequest], str | None]:
    stmt = _visible(select(AuditRequest), scope)
    for column, value in (
        (AuditRequest.status, status),
        (AuditRequest.neighbourhood_id, neighbourhood_id),
        (AuditRequest.partnership_id, partnership_id),
        (AuditRequest.audit_id, audit_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if received_from:
        stmt = stmt.where(AuditRequest.received_at >= received_from)
    if received_to:
        stmt = stmt.where(AuditRequest.received_at <= received_to)
    return await paginate(session, stmt, AuditRequest, page)


async def requesters_on_file(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(ids)
    if not wanted:
        return set()
    stmt = select(AuditRequestRequester.audit_request_id).where(AuditRequestRequester.audit_request_id.in_(wanted))
    return set((await session.execute(stmt)).scalars().all())


CONTACT_FIELDS = ("email", "name", "phone")


def _given(contact: Any) -> list[str]:
    return [] if contact is None else [f for f, value in zip(CONTACT_FIELDS, contact, strict=True) if value]


async def requester_fields(session: AsyncSession, audit_request_id: uuid.UUID) -> list[str]:
    """Which contact fields are on file (never their values)."""
    r = AuditRequestRequester
    stmt = select(r.email, r.name, r.phone).where(r.audit_request_id == audit_request_id)
    return _given((await session.execute(stmt)).first())


async def remove_requester(session: AsyncSession, audit_request_id: uuid.UUID) -> list[str]:
    """Erase the contact; which fields were on file (none: there was nothing to erase)."""
    r = AuditRequestRequester
    stmt = delete(r).where(r.audit_request_id == audit_request_id).returning(r.email, r.name, r.phone)
    return _given((await session.execute(stmt)).first())


async def requesters_closed_before(session: AsyncSession, cutoff: datetime) -> list[uuid.UUID]:
    """Requests closed before the cutoff whose requester's contact is still on file, oldest first."""
    stmt = (
        select(AuditRequest.id)
        .join(AuditRequestRequester, AuditRequestRequester.audit_request_id == AuditRequest.id)
        .where(AuditRequest.closed_at < cutoff)
        .order_by(AuditRequest.closed_at, AuditRequest.id)
    )
    return list((await session.execute(stmt)).scalars().all())


async def neighbourhoods_worked_in(
    session: AsyncSession, partnership_ids: frozenset[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """Where these partnerships work: their editors see the audit requests placed there."""
    return (await editor_scope(session, partnership_ids)).neighbourhood_ids
