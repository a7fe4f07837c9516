"""Request and response bodies of the audit requests API (the requester's contact is written, never read)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from shared.contracts.fields import Clearable, Input, Moment, Name, Note, Output, Patch, Text
from shared.contracts.geo import Point, PointRead
from shared.contracts.vocabulary import AuditRequestStatus


class Requester(Input):
    """Personal data: stored only when given, never answered by any GET, removable."""

    name: Name | None = None
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=50, pattern=r"^[0-9+()\-. x]{3,50}$")


class AuditRequestCreate(Input):
    id: uuid.UUID | None = None
    place: Name
    description: Text
    location: Point | None = None
    neighbourhood_id: uuid.UUID | None = Field(default=None, description="only without a location")
    received_at: Moment | None = Field(default=None, description="when it was received; default now")
    media_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    requester: Requester | None = None


class AuditRequestUpdate(Patch):
    place: Name | None = None
    description: Text | None = None
    location: Clearable[Point] = None
    neighbourhood_id: Clearable[uuid.UUID] = Field(default=None, description="only without a location")
    status: AuditRequestStatus | None = None
    audit_id: Clearable[uuid.UUID] = Field(default=None, description="the audit it is scheduled for")
    reason: Clearable[Note] = None


class AuditRequestRead(Output):
    id: uuid.UUID
    place: str
    description: str
    location: PointRead | None
    neighbourhood_id: uuid.UUID | None
    status: AuditRequestStatus
    audit_id: uuid.UUID | None
    partnership_id: uuid.UUID | None
    reason: str | None
    source: str
    attributes: dict[str, str] = Field(description="Open311 attributes as sent (`attribute[code]=value`)")
    media_url: str | None
    received_at: datetime
    closed_at: datetime | None = Field(
        description="when it became done or rejected; the requester's contact is erased a retention period after"
    )
    requester_on_file: bool = Field(description="whether contact details are stored (they are never returned)")
    version: int
    created_at: datetime
    updated_at: datetime
