"""Use cases for audit requests: record one, triage it, forget who asked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.core.domain.places import neighbourhood_of
from services.audits.core.handlers.records import load
from services.audits.core.store import repository
from services.audits.requests import store
from services.audits.requests.domain import FINAL, TriageRefused, check_triage
from services.audits.requests.schemas import AuditRequestCreate, AuditRequestUpdate
from services.audits.tables import Audit, AuditRequest, AuditRequestRequester, Neighbourhood
from shared.auth.keys import Principal, Scope
from shared.auth.replay import replayed
from shared.clock import Clock
from shared.contracts.events.audits import AuditRequestCreated, AuditRequestUpdated
from shared.contracts.vocabulary import AuditRequestStatus
from shared.db.records import emit_state
from shared.db.uow import UnitOfWork
from shared.errors import Forbidden, IllegalTransition, InvalidField, NotFound
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match

CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class AuditRequestView:
    request: AuditRequest
    requester_on_file: bool


def require_triage(principal: Principal) -> None:
    if principal.scope not in (Scope.admin, Scope.editor):
        raise Forbidden("this key may not record or triage audit requests")


async def _scope(session: AsyncSession, principal: Principal) -> store.EditorScope | None:
    principal.require_read()
    if principal.sees_all():
        return None
    return await store.editor_scope(session, principal.partnership_ids)


async def _visible(uow: UnitOfWork, principal: Principal, id_: uuid.UUID, *, for_update: bool = False) -> AuditRequest:
    row: AuditRequest = await load(uow, AuditRequest, id_, for_update=for_update)
    scope = await _scope(uow.session, principal)
    if scope is not None and not scope.covers(row):
        raise NotFound(f"audit request {id_} not found")
    return row


async def _view(session: AsyncSession, row: AuditRequest) -> AuditRequestView:
    return AuditRequestView(row, bool(await store.requesters_on_file(session, [row.id])))


async def _place(session: AsyncSession, location: dict[str, Any] | None, wanted: uuid.UUID | None) -> uuid.UUID | None:
    """The neighbourhood of the point; without a point, the one named (which must exist)."""
    if location is None:
        if wanted is not None and await repository.get(session, Neighbourhood, wanted) is None:
            raise InvalidField(f"unknown neighbourhood {wanted}", field="body.neighbourhood_id")
        return wanted
    found = neighbourhood_of(location, await store.boundaries(session))
    if wanted is not None and wanted != found:
        raise InvalidField(f"the location is in neighbourhood {found}, not {wanted}", field="body.neighbourhood_id")
    return found


async def _replayed(session: AsyncSession, principal: Principal, body: AuditRequestCreate) -> AuditRequest | None:
    """The requester's contact is not compared: it is kept apart, and not shown back."""
    sent = body.model_dump(include={"place", "description", "location", "media_url"})
    sent |= body.model_dump(include={"neighbourhood_id", "received_at"}, exclude_none=True)

    async def owners(row: AuditRequest) -> list[uuid.UUID | None] | None:
        """The partnerships whose editors see it: its own, and those working in its neighbourhood."""
        if row.partnership_id is None and row.neighbourhood_id is None:
            return None
        return [row.partnership_id, *await store.partnerships_working_in(session, row.neighbourhood_id)]

    return await replayed(session, principal, AuditRequest, body.id, sent, what="audit request", owners=owners)


async def create(
    uow: UnitOfWork,
    principal: Principal,
    body: AuditRequestCreate,
    *,
    clock: Clock,
    source: str = "api",
    attributes: dict[str, Any] | None = None,
) -> tuple[AuditRequestView, bool]:
    require_triage(principal)
    async with uow:
        if existing := await _replayed(uow.session, principal, body):
            return await _view(uow.session, existing), False
        now = clock.now()
        if body.received_at and body.received_at > now + CLOCK_SKEW:
            raise InvalidField("received_at is in the future", field="body.received_at")
        location = body.location.model_dump() if body.location else None
        row = AuditRequest(
            id=body.id or uuid.uuid4(),
            place=body.place,
            description=body.description,
            location=location,
            neighbourhood_id=await _place(uow.session, location, body.neighbourhood_id),
            status=AuditRequestStatus.received,
            source=source,
            attributes=attributes or {},
            media_url=body.media_url,
            received_at=body.received_at or now,
        )
        uow.session.add(row)
        contact = body.requester.model_dump(exclude_none=True) if body.requester else {}
        if contact:  # stored only when given
            uow.session.add(AuditRequestRequester(audit_request_id=row.id, **contact))
        emit_state(uow, AuditRequestCreated, row, requester_fields=sorted(contact))
        await uow.commit()
    return AuditRequestView(row, bool(contact)), True


async def get(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> AuditRequestView:
    async with uow:
        return await _view(uow.session, await _visible(uow, principal, id_))


async def page(
    uow: UnitOfWork, principal: Principal, params: PageParams, **filters: Any
) -> tuple[list[AuditRequestView], str | None]:
    async with uow:
        scope = await _scope(uow.session, principal)
        rows, cursor = await store.list_audit_requests(uow.session, params, scope=scope, **filters)
        on_file = await store.requesters_on_file(uow.session, [r.id for r in rows])
    return [AuditRequestView(r, r.id in on_file) for r in rows], cursor


async def _relocation(session: AsyncSession, row: AuditRequest, body: AuditRequestUpdate) -> dict[str, Any]:
    fields = body.model_fields_set
    if not fields & {"location", "neighbourhood_id"}:
        return {}
    location = (body.location.model_dump() if body.location else None) if "location" in fields else row.location
    wanted = body.neighbourhood_id if "neighbourhood_id" in fields else None
    if location is None and "neighbourhood_id" not in fields:
        wanted = row.neighbourhood_id
    return {"location": location, "neighbourhood_id": await _place(session, location, wanted)}


async def _triage(
    session: AsyncSession, principal: Principal, row: AuditRequest, body: AuditRequestUpdate
) -> dict[str, Any]:
    fields = body.model_fields_set
    if not fields & {"status", "audit_id", "reason"}:
        return {}
    current = AuditRequestStatus(row.status)
    to = body.status if body.status is not None else current
    audit_id = body.audit_id if "audit_id" in fields else row.audit_id
    reason = body.reason if "reason" in fields else row.reason
    try:
        check_triage(current, to, audit_id=audit_id, reason=reason, relinked=audit_id != row.audit_id)
    except TriageRefused as refused:
        if refused.illegal:
            raise IllegalTransition(str(refused), field=f"body.{refused.field}") from refused
        raise InvalidField(str(refused), field=f"body.{refused.field}") from refused
    partnership_id = row.partnership_id
    if audit_id is not None and audit_id != row.audit_id:
        audit = await repository.get(session, Audit, audit_id)
        if audit is None:
            raise InvalidField(f"unknown audit {audit_id}", field="body.audit_id")
        principal.require_write(audit.partnership_id)
        partnership_id = audit.partnership_id
    return {"status": to, "audit_id": audit_id, "reason": reason, "partnership_id": partnership_id}


async def update(
    uow: UnitOfWork,
    principal: Principal,
    id_: uuid.UUID,
    body: AuditRequestUpdate,
    if_match: str | None,
    *,
    clock: Clock,
) -> AuditRequestView:
    require_triage(principal)
    async with uow:
        row = await _visible(uow, principal, id_, for_update=True)
        check_if_match(if_match, row.version)
        changes = body.model_dump(include={"place", "description"}, exclude_unset=True)
        changes |= await _relocation(uow.session, row, body)
        changes |= await _triage(uow.session, principal, row, body)
        if changes.get("status") in FINAL and row.closed_at is None:
            changes["closed_at"] = clock.now()
        if apply_changes(row, changes):
            fields = await store.requester_fields(uow.session, row.id)
            emit_state(uow, AuditRequestUpdated, row, requester_fields=fields)
            await uow.commit()
        return await _view(uow.session, row)


async def _erase_requester(uow: UnitOfWork, row: AuditRequest, clock: Clock) -> bool:
    """Erase the contact of a locked request. Its event says that no contact field is on file any more; the
    audit trail names the fields erased by comparing it with the event before."""
    if not await store.remove_requester(uow.session, row.id):
        return False
    # The record changed (no contact on file any more): a new version, so ETags and events follow.
    row.version += 1
    row.updated_at = clock.now()
    emit_state(uow, AuditRequestUpdated, row, requester_fields=[])
    return True


async def remove_requester(uow: UnitOfWork, principal: Principal, id_: uuid.UUID, *, clock: Clock) -> None:
    """Erase the requester's name, email and phone; the request itself stays."""
    require_triage(principal)
    async with uow:
        row = await _visible(uow, principal, id_, for_update=True)
        await _erase_requester(uow, row, clock)
        await uow.commit()


async def erase_closed_requesters(
    units: Callable[[], UnitOfWork], clock: Clock, cutoff: datetime, dry_run: bool
) -> int:
    """Erase the contact of every request closed before the cutoff, each in its own transaction; how many.

    ``units`` opens a unit of work whose events name the retention policy as their actor.
    """
    async with units() as uow:
        due = await store.requesters_closed_before(uow.session, cutoff)
    if dry_run:
        return len(due)
    erased = 0
    for id_ in due:
        async with units() as uow:
            row: AuditRequest = await load(uow, AuditRequest, id_, for_update=True)
            if row.closed_at is not None and row.closed_at < cutoff and await _erase_requester(uow, row, clock):
                await uow.commit()
                erased += 1
    return erased
