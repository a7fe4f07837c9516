"""Audit requests under ``/v1/audit-requests``: record one, list, read, triage, erase who asked."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.audits.deps import UowDep
from services.audits.requests import handlers
from services.audits.requests.handlers import AuditRequestView
from services.audits.requests.schemas import AuditRequestCreate, AuditRequestRead, AuditRequestUpdate
from shared.auth.keys import ReaderKey
from shared.contracts.fields import Moment
from shared.contracts.vocabulary import AuditRequestStatus
from shared.web.http import ClockDep, IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/audit-requests", tags=["audit requests"])


def _read(view: AuditRequestView) -> AuditRequestRead:
    return AuditRequestRead(**view.request.model_dump(), requester_on_file=view.requester_on_file)


@router.post("", status_code=201, response_model=AuditRequestRead, summary="Record a request for an audit")
async def create_audit_request(
    body: AuditRequestCreate, uow: UowDep, principal: ReaderKey, response: Response, clock: ClockDep
) -> AuditRequestRead:
    view, was_created = await handlers.create(uow, principal, body, clock=clock)
    created(response, f"/v1/audit-requests/{view.request.id}", view.request.version, was_created)
    return _read(view)


@router.get("", response_model=Page[AuditRequestRead], summary="Audit requests, newest first")
async def list_audit_requests(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    status: AuditRequestStatus | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    partnership_id: uuid.UUID | None = None,
    audit_id: uuid.UUID | None = None,
    received_from: Annotated[Moment | None, Query(description="received at or after")] = None,
    received_to: Annotated[Moment | None, Query(description="received at or before")] = None,
) -> dict[str, object]:
    views, cursor = await handlers.page(
        uow,
        principal,
        page,
        status=status,
        neighbourhood_id=neighbourhood_id,
        partnership_id=partnership_id,
        audit_id=audit_id,
        received_from=received_from,
        received_to=received_to,
    )
    return {"items": [_read(v) for v in views], "next_cursor": cursor}


@router.get("/{audit_request_id}", response_model=AuditRequestRead, summary="One audit request")
async def get_audit_request(
    audit_request_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> AuditRequestRead:
    view = await handlers.get(uow, principal, audit_request_id)
    set_etag(response, view.request.version)
    return _read(view)


@router.patch(
    "/{audit_request_id}",
    response_model=AuditRequestRead,
    summary="Edit or triage: received → scheduled (with audit_id) → done, or rejected (with reason)",
)
async def update_audit_request(
    audit_request_id: uuid.UUID,
    body: AuditRequestUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> AuditRequestRead:
    view = await handlers.update(uow, principal, audit_request_id, body, if_match, clock=clock)
    set_etag(response, view.request.version)
    return _read(view)


@router.delete(
    "/{audit_request_id}/requester",
    status_code=204,
    summary="Erase the requester's name, email and phone (the request stays)",
)
async def remove_requester(audit_request_id: uuid.UUID, uow: UowDep, principal: ReaderKey, clock: ClockDep) -> None:
    await handlers.remove_requester(uow, principal, audit_request_id, clock=clock)
