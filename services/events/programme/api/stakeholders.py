import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.programme.api.deps import DirectoryDep
from services.events.programme.handlers import stakeholders
from services.events.programme.schemas import StakeholderCreate, StakeholderRead, StakeholderUpdate
from services.events.programme.store import queries
from services.events.tables import Stakeholder
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import StakeholderKind, StakeholderStatus
from shared.errors import InvalidField
from shared.web.http import IfMatch, SessionDep, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/stakeholders", tags=["stakeholders"])


@router.post("", status_code=201, response_model=StakeholderRead)
async def create_stakeholder(
    body: StakeholderCreate, uow: UowDep, directory: DirectoryDep, principal: ReaderKey, response: Response
) -> Stakeholder:
    row, was_created = await stakeholders.create(uow, principal, directory, body)
    created(response, f"/v1/stakeholders/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[StakeholderRead])
async def list_stakeholders(
    session: SessionDep,
    principal: ReaderKey,
    page: PageDep,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    kind: StakeholderKind | None = None,
    status: StakeholderStatus | None = None,
    start: Annotated[date | None, Query(alias="from", description="connected on or after")] = None,
    end: Annotated[date | None, Query(alias="to", description="connected on or before")] = None,
) -> dict[str, object]:
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")
    rows, cursor = await queries.list_stakeholders(
        session,
        page,
        visible=None if principal.sees_all() else principal.partnership_ids,
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
    async with uow:
        row = await stakeholders.visible(uow, principal, stakeholder_id)
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
    if_match: IfMatch = None,
) -> Stakeholder:
    row = await stakeholders.update(uow, principal, directory, stakeholder_id, body, if_match)
    set_etag(response, row.version)
    return row
