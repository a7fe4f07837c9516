"""CPTED audits under ``/v1/audits``; deleting one deletes its recommendations, their history and every photo."""

import uuid

from fastapi import APIRouter, Response

from services.audits.core.api.filters import AuditFiltersDep
from services.audits.core.handlers import audits
from services.audits.core.schemas import AuditCreate, AuditRead, AuditUpdate
from services.audits.deps import PhotoFilesDep, UowDep
from services.audits.tables import Audit
from shared.auth.keys import ReaderKey
from shared.web.http import IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/audits", tags=["audits"])


@router.post("", status_code=201, response_model=AuditRead)
async def create_audit(body: AuditCreate, uow: UowDep, principal: ReaderKey, response: Response) -> Audit:
    row, was_created = await audits.create(uow, principal, body)
    created(response, f"/v1/audits/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[AuditRead])
async def list_audits(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    filters: AuditFiltersDep,
) -> dict[str, object]:
    rows, cursor = await audits.page(uow, principal, page, **filters.as_kwargs())
    return {"items": rows, "next_cursor": cursor}


@router.get("/{audit_id}", response_model=AuditRead)
async def get_audit(audit_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> Audit:
    row = await audits.get(uow, principal, audit_id)
    set_etag(response, row.version)
    return row


@router.patch("/{audit_id}", response_model=AuditRead)
async def update_audit(
    audit_id: uuid.UUID,
    body: AuditUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
) -> Audit:
    row = await audits.update(uow, principal, audit_id, body, if_match)
    set_etag(response, row.version)
    return row


@router.delete("/{audit_id}", status_code=204)
async def delete_audit(
    audit_id: uuid.UUID, uow: UowDep, principal: ReaderKey, files: PhotoFilesDep, if_match: IfMatch = None
) -> None:
    await audits.delete(uow, principal, audit_id, if_match, files)
