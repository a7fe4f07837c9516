"""Request and response bodies of neighbourhoods, partnerships, audits and recommendations (never the tables, never
the events)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from shared.contracts.fields import Clearable, Day, Input, Name, Note, Output, Patch, Text
from shared.contracts.geo import Boundary, BoundaryRead, Point, PointRead
from shared.contracts.vocabulary import (
    AuditStatus,
    AuditTrigger,
    PartnershipStatus,
    Principle,
    Priority,
    RecommendationCategory,
    RecommendationStatus,
)


class NeighbourhoodCreate(Input):
    id: uuid.UUID | None = None
    name: Name
    municipality: Name
    boundary: Boundary
    population: int | None = Field(default=None, ge=0, le=50_000_000)


class NeighbourhoodUpdate(Patch):
    name: Name | None = None
    municipality: Name | None = None
    boundary: Boundary | None = None
    population: Clearable[int] = Field(default=None, ge=0, le=50_000_000)


class NeighbourhoodRead(Output):
    id: uuid.UUID
    name: str
    municipality: str
    boundary: BoundaryRead
    population: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class PartnershipCreate(Input):
    id: uuid.UUID | None = None
    name: Name
    police_service: Name
    neighbourhood_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    safety_committees: list[Name] = Field(default_factory=list, max_length=200)
    business_improvement_areas: list[Name] = Field(default_factory=list, max_length=200)
    formalized_on: Day | None = None
    status: PartnershipStatus = PartnershipStatus.active


class PartnershipUpdate(Patch):
    name: Name | None = None
    police_service: Name | None = None
    neighbourhood_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=200)
    safety_committees: list[Name] | None = Field(default=None, max_length=200)
    business_improvement_areas: list[Name] | None = Field(default=None, max_length=200)
    formalized_on: Clearable[Day] = None
    status: PartnershipStatus | None = None


class PartnershipRead(Output):
    id: uuid.UUID
    name: str
    police_service: str
    neighbourhood_ids: list[uuid.UUID]
    safety_committees: list[str]
    business_improvement_areas: list[str]
    formalized_on: date | None
    status: PartnershipStatus
    version: int
    created_at: datetime
    updated_at: datetime


class Finding(Input):
    principle: Principle
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (good)")
    notes: Note | None = None


class FindingRead(Output):
    principle: Principle
    rating: int = Field(description="1 (poor) to 5 (good)")
    notes: str | None = None


class AuditCreate(Input):
    id: uuid.UUID | None = None
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    site_name: Name
    location: Point | None = None
    conducted_on: Day
    auditors: list[Name] = Field(default_factory=list, max_length=100)
    trigger: AuditTrigger = AuditTrigger.crime_statistics
    findings: list[Finding] = Field(default_factory=list, max_length=200)
    status: AuditStatus = AuditStatus.completed


class AuditUpdate(Patch):
    site_name: Name | None = None
    location: Clearable[Point] = None
    conducted_on: Day | None = None
    auditors: list[Name] | None = Field(default=None, max_length=100)
    trigger: AuditTrigger | None = None
    findings: list[Finding] | None = Field(default=None, max_length=200)
    status: AuditStatus | None = None


class AuditRead(Output):
    id: uuid.UUID
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    site_name: str
    location: PointRead | None
    conducted_on: date
    auditors: list[str]
    trigger: AuditTrigger
    findings: list[FindingRead]
    status: AuditStatus
    version: int
    created_at: datetime
    updated_at: datetime


class RecommendationCreate(Input):
    id: uuid.UUID | None = None
    category: RecommendationCategory
    description: Text
    responsible_party: Name | None = None
    priority: Priority = Priority.medium
    expected_on: Day | None = None
    status_note: Note | None = None


class RecommendationUpdate(Patch):
    category: RecommendationCategory | None = None
    description: Text | None = None
    responsible_party: Clearable[Name] = None
    priority: Priority | None = None
    expected_on: Clearable[Day] = None
    status_note: Clearable[Note] = None


class TransitionCreate(Input):
    to: RecommendationStatus
    on: Day
    note: Note | None = None


class TransitionRead(Output):
    from_: RecommendationStatus = Field(serialization_alias="from")
    to: RecommendationStatus
    on: date
    note: str | None
    actor: str | None
    recorded_at: datetime


class RecommendationRead(Output):
    id: uuid.UUID
    audit_id: uuid.UUID
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    category: RecommendationCategory
    description: str
    responsible_party: str | None
    priority: Priority
    status: RecommendationStatus
    implemented_on: date | None
    expected_on: date | None
    status_note: str | None
    history: list[TransitionRead]
    version: int
    created_at: datetime
    updated_at: datetime
