"""Police-community partnerships under ``/v1/partnerships``: admin keys create them, an editor key sees and
changes its own."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.audits.core.handlers import partnerships
from services.audits.core.schemas import PartnershipCreate, PartnershipRead, PartnershipUpdate
from services.audits.deps import UowDep
from services.audits.tables import Partnership
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import PartnershipStatus
from shared.web.http import IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/partnerships", tags=["partnerships"])


@router.post("", status_code=201, response_model=PartnershipRead)
async def create_partnership(
    body: PartnershipCreate, uow: UowDep, principal: ReaderKey, response: Response
) -> Partnership:
    row, was_created = await partnerships.create(uow, principal, body)
    created(response, f"/v1/partnerships/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[PartnershipRead])
async def list_partnerships(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    status: PartnershipStatus | None = None,
    neighbourhood_id: Annotated[uuid.UUID | None, Query()] = None,
) -> dict[str, object]:
    rows, cursor = await partnerships.page(uow, principal, page, status=status, neighbourhood_id=neighbourhood_id)
    return {"items": rows, "next_cursor": cursor}


@router.get("/{partnership_id}", response_model=PartnershipRead)
async def get_partnership(
    partnership_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> Partnership:
    row = await partnerships.get(uow, principal, partnership_id)
    set_etag(response, row.version)
    return row


@router.patch("/{partnership_id}", response_model=PartnershipRead)
async def update_partnership(
    partnership_id: uuid.UUID,
    body: PartnershipUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
) -> Partnership:
    row = await partnerships.update(uow, principal, partnership_id, body, if_match)
    set_etag(response, row.version)
    return row
