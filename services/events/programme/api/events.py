import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.programme.api.deps import DirectoryDep
from services.events.programme.handlers import events
from services.events.programme.schemas import EventCreate, EventRead, EventUpdate
from services.events.tables import CommunityEvent
from shared.auth.keys import ReaderKey
from shared.contracts.fields import Day
from shared.contracts.vocabulary import EventKind, EventStatus
from shared.web.http import ClockDep, IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/events", tags=["events"])

FromQ = Annotated[Day | None, Query(alias="from", description="starts on or after this local day (America/Toronto)")]
ToQ = Annotated[Day | None, Query(alias="to", description="starts on or before this local day (inclusive)")]


@router.post("", status_code=201, response_model=EventRead)
async def create_event(
    body: EventCreate,
    uow: UowDep,
    directory: DirectoryDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
) -> CommunityEvent:
    row, was_created = await events.create(uow, principal, directory, body, clock)
    created(response, f"/v1/events/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[EventRead])
async def list_events(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    clock: ClockDep,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    kind: EventKind | None = None,
    special: bool | None = None,
    status: EventStatus | None = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    rows, cursor = await events.listing(
        uow,
        principal,
        page,
        clock,
        partnership_id=partnership_id,
        neighbourhood_id=neighbourhood_id,
        kind=kind,
        special=special,
        status=status,
        start=start,
        end=end,
    )
    return {"items": rows, "next_cursor": cursor}


@router.get("/{event_id}", response_model=EventRead)
async def get_event(event_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> CommunityEvent:
    row = await events.read(uow, principal, event_id)
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
    clock: ClockDep,
    if_match: IfMatch = None,
) -> CommunityEvent:
    row = await events.update(uow, principal, directory, event_id, body, if_match, clock)
    set_etag(response, row.version)
    return row


@router.delete("/{event_id}", status_code=204)
async def delete_event(event_id: uuid.UUID, uow: UowDep, principal: ReaderKey, if_match: IfMatch = None) -> None:
    await events.delete(uow, principal, event_id, if_match)
