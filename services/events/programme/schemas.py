"""Request and response bodies of community events and community connections (never the tables, never the events)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from shared.contracts.fields import Clearable, Count, Day, Input, Moment, Name, Note, Output, Patch
from shared.contracts.geo import Point, PointRead
from shared.contracts.vocabulary import EventKind, EventStatus, StakeholderKind, StakeholderStatus

Officers = Annotated[int, Field(ge=0, le=10_000)]
PartnershipIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=20)]


class EventCreate(Input):
    id: uuid.UUID | None = None
    partnership_ids: PartnershipIds
    name: Name
    kind: EventKind
    special: bool = False
    starts_at: Moment
    ends_at: Moment | None = None
    neighbourhood_id: uuid.UUID | None = None
    location: Point | None = None
    officers_attending: Officers = 0
    attendance: Count | None = None
    status: EventStatus = EventStatus.scheduled
    description: Note | None = None


class EventUpdate(Patch):
    partnership_ids: PartnershipIds | None = None
    name: Name | None = None
    kind: EventKind | None = None
    special: bool | None = None
    starts_at: Moment | None = None
    ends_at: Clearable[Moment] = None
    neighbourhood_id: Clearable[uuid.UUID] = None
    location: Clearable[Point] = None
    officers_attending: Officers | None = None
    attendance: Clearable[Count] = None
    status: EventStatus | None = None
    description: Clearable[Note] = None


class EventRead(Output):
    id: uuid.UUID
    partnership_ids: list[uuid.UUID]
    name: str
    kind: EventKind
    special: bool
    starts_at: datetime
    ends_at: datetime | None
    neighbourhood_id: uuid.UUID | None
    location: PointRead | None
    officers_attending: int
    attendance: int | None
    status: EventStatus
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class StakeholderCreate(Input):
    id: uuid.UUID | None = None
    partnership_id: uuid.UUID
    name: Name
    kind: StakeholderKind
    neighbourhood_id: uuid.UUID | None = None
    connected_on: Day
    status: StakeholderStatus = StakeholderStatus.active
    notes: Note | None = None


class StakeholderUpdate(Patch):
    name: Name | None = None
    kind: StakeholderKind | None = None
    neighbourhood_id: Clearable[uuid.UUID] = None
    connected_on: Day | None = None
    status: StakeholderStatus | None = None
    notes: Clearable[Note] = None


class StakeholderRead(Output):
    id: uuid.UUID
    partnership_id: uuid.UUID
    name: str
    kind: StakeholderKind
    neighbourhood_id: uuid.UUID | None
    connected_on: date
    status: StakeholderStatus
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime
