import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.programme.api.deps import DirectoryDep
from services.events.programme.handlers import stakeholders
from services.events.programme.schemas import StakeholderCreate, StakeholderRead, StakeholderUpdate
from services.events.tables import Stakeholder
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import StakeholderKind, StakeholderStatus
from shared.web.http import ClockDep, IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/stakeholders", tags=["stakeholders"])


@router.post("", status_code=201, response_model=StakeholderRead)
async def create_stakeholder(
    body: StakeholderCreate,
    uow: UowDep,
    directory: DirectoryDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
) -> Stakeholder:
    row, was_created = await stakeholders.create(uow, principal, directory, body, clock)
    created(response, f"/v1/stakeholders/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[StakeholderRead])
async def list_stakeholders(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    kind: StakeholderKind | None = None,
    status: StakeholderStatus | None = None,
    start: Annotated[date | None, Query(alias="from", description="connected on or after")] = None,
    end: Annotated[date | None, Query(alias="to", description="connected on or before")] = None,
) -> dict[str, object]:
    rows, cursor = await stakeholders.listing(
        uow,
        principal,
        page,
        partnership_id=partnership_id,
        neighbourhood_id=neighbourhood_id,
        kind=kind,
        status=status,
        start=start,
        end=end,
    )
    return {"items": rows, "next_cursor": cursor}


@router.get("/{stakeholder_id}", response_model=StakeholderRead)
async def get_stakeholder(
    stakeholder_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> Stakeholder:
    row = await stakeholders.read(uow, principal, stakeholder_id)
    set_etag(response, row.version)
    return row


@router.patch("/{stakeholder_id}", response_model=StakeholderRead)
async def update_stakeholder(
    stakeholder_id: uuid.UUID,
    body: StakeholderUpdate,
    uow: UowDep,
    directory: DirectoryDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> Stakeholder:
    row = await stakeholders.update(uow, principal, directory, stakeholder_id, body, if_match, clock)
    set_etag(response, row.version)
    return row
