import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.programme.api.deps import DirectoryDep
from services.events.programme.domain.schedule import local_bounds
from services.events.programme.handlers import events
from services.events.programme.schemas import EventCreate, EventRead, EventUpdate
from services.events.programme.store import queries
from services.events.tables import CommunityEvent
from shared.auth.keys import ReaderKey
from shared.contracts.fields import Day
from shared.contracts.vocabulary import EventKind, EventStatus
from shared.errors import InvalidField
from shared.settings import get_settings
from shared.web.http import IfMatch, SessionDep, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/events", tags=["events"])

FromQ = Annotated[Day | None, Query(alias="from", description="starts on or after this local day (America/Toronto)")]
ToQ = Annotated[Day | None, Query(alias="to", description="starts on or before this local day (inclusive)")]


@router.post("", status_code=201, response_model=EventRead)
async def create_event(
    body: EventCreate, uow: UowDep, directory: DirectoryDep, principal: ReaderKey, response: Response
) -> CommunityEvent:
    row, was_created = await events.create(uow, principal, directory, body)
    created(response, f"/v1/events/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[EventRead])
async def list_events(
    session: SessionDep,
    principal: ReaderKey,
    page: PageDep,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    kind: EventKind | None = None,
    special: bool | None = None,
    status: EventStatus | None = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")
    after, before = local_bounds(start, end, get_settings().local_timezone)
    rows, cursor = await queries.list_events(
        session,
        page,
        visible=None if principal.sees_all() else principal.partnership_ids,
        partnership_id=partnership_id,
        neighbourhood_id=neighbourhood_id,
        kind=kind,
        special=special,
        status=status,
        starts_after=after,
        starts_before=before,
    )
    return {"items": rows, "next_cursor": cursor}


@router.get("/{event_id}", response_model=EventRead)
async def get_event(event_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> CommunityEvent:
    async with uow:
        row = await events.visible(uow, principal, event_id)
    set_etag(response, row.version)
    return row


@router.patch("/{event_id}", response_model=EventRead)
async def update_event(
    event_id: uuid.UUID,
    body: EventUpdate,
    uow: UowDep,
    directory: DirectoryDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
) -> CommunityEvent:
    row = await events.update(uow, principal, directory, event_id, body, if_match)
    set_etag(response, row.version)
    return row


@router.delete("/{event_id}", status_code=204)
async def delete_event(event_id: uuid.UUID, uow: UowDep, principal: ReaderKey, if_match: IfMatch = None) -> None:
    await events.delete(uow, principal, event_id, if_match)
