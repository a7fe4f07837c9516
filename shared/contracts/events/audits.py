"""Events published by the audits service on the ``<prefix>:audits`` stream."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.events.envelope import Envelope, Payload, registry
from shared.contracts.geo import BoundaryRead, PointRead
from shared.contracts.vocabulary import (
    AuditRequestStatus,
    AuditStatus,
    AuditTrigger,
    PartnershipStatus,
    Principle,
    Priority,
    RecommendationCategory,
    RecommendationStatus,
)


class NeighbourhoodState(Payload):
    id: uuid.UUID
    name: str
    municipality: str
    population: int | None = None
    boundary: BoundaryRead


class PartnershipState(Payload):
    id: uuid.UUID
    name: str
    police_service: str
    neighbourhood_ids: list[uuid.UUID]
    safety_committees: list[str] = []
    business_improvement_areas: list[str] = []
    formalized_on: date | None = None
    status: PartnershipStatus


class FindingState(Payload):
    principle: Principle
    rating: int = Field(ge=1, le=5)
    notes: str | None = None


class AuditState(Payload):
    id: uuid.UUID
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    site_name: str
    location: PointRead | None = None
    conducted_on: date
    auditors: list[str] = []
    trigger: AuditTrigger
    findings: list[FindingState] = []
    status: AuditStatus


class RecommendationState(Payload):
    id: uuid.UUID
    audit_id: uuid.UUID
    category: RecommendationCategory
    description: str
    responsible_party: str | None = None
    priority: Priority
    status: RecommendationStatus
    implemented_on: date | None = None
    expected_on: date | None = None
    status_note: str | None = None


class RecommendationTransition(RecommendationState):
    from_: RecommendationStatus = Field(alias="from")
    to: RecommendationStatus
    on: date


class AuditRequestState(Payload):
    """A request for an audit; the requester's name, email and phone are never part of it, only which of
    them are on file (``requester_fields``), so the audit trail shows when they were given and erased."""

    id: uuid.UUID
    place: str
    description: str
    location: PointRead | None = None
    neighbourhood_id: uuid.UUID | None = None
    status: AuditRequestStatus
    audit_id: uuid.UUID | None = None
    partnership_id: uuid.UUID | None = None
    reason: str | None = None
    source: str
    received_at: AwareDatetime
    requester_fields: list[Literal["email", "name", "phone"]] = []


@registry.event
class NeighbourhoodCreatedV1(Envelope):
    type: Literal["neighbourhood.created"] = "neighbourhood.created"
    version: Literal[1] = 1
    payload: NeighbourhoodState


NeighbourhoodCreated = NeighbourhoodCreatedV1


@registry.event
class NeighbourhoodUpdatedV1(Envelope):
    type: Literal["neighbourhood.updated"] = "neighbourhood.updated"
    version: Literal[1] = 1
    payload: NeighbourhoodState


NeighbourhoodUpdated = NeighbourhoodUpdatedV1


@registry.event
class PartnershipCreatedV1(Envelope):
    type: Literal["partnership.created"] = "partnership.created"
    version: Literal[1] = 1
    payload: PartnershipState


PartnershipCreated = PartnershipCreatedV1


@registry.event
class PartnershipUpdatedV1(Envelope):
    type: Literal["partnership.updated"] = "partnership.updated"
    version: Literal[1] = 1
    payload: PartnershipState


PartnershipUpdated = PartnershipUpdatedV1


@registry.event
class AuditCreatedV1(Envelope):
    type: Literal["audit.created"] = "audit.created"
    version: Literal[1] = 1
    payload: AuditState


AuditCreated = AuditCreatedV1


@registry.event
class AuditUpdatedV1(Envelope):
    type: Literal["audit.updated"] = "audit.updated"
    version: Literal[1] = 1
    payload: AuditState


AuditUpdated = AuditUpdatedV1


@registry.event
class AuditDeletedV1(Envelope):
    type: Literal["audit.deleted"] = "audit.deleted"
    version: Literal[1] = 1
    payload: AuditState


AuditDeleted = AuditDeletedV1


@registry.event
class RecommendationCreatedV1(Envelope):
    type: Literal["recommendation.created"] = "recommendation.created"
    version: Literal[1] = 1
    payload: RecommendationState


RecommendationCreated = RecommendationCreatedV1


@registry.event
class RecommendationUpdatedV1(Envelope):
    type: Literal["recommendation.updated"] = "recommendation.updated"
    version: Literal[1] = 1
    payload: RecommendationState


RecommendationUpdated = RecommendationUpdatedV1


@registry.event
class RecommendationStatusChangedV1(Envelope):
    type: Literal["recommendation.status_changed"] = "recommendation.status_changed"
    version: Literal[1] = 1
    payload: RecommendationTransition


RecommendationStatusChanged = RecommendationStatusChangedV1


@registry.event
class AuditRequestCreatedV1(Envelope):
    type: Literal["audit_request.created"] = "audit_request.created"
    version: Literal[1] = 1
    payload: AuditRequestState


AuditRequestCreated = AuditRequestCreatedV1


@registry.event
class AuditRequestUpdatedV1(Envelope):
    type: Literal["audit_request.updated"] = "audit_request.updated"
    version: Literal[1] = 1
    payload: AuditRequestState


AuditRequestUpdated = AuditRequestUpdatedV1


class PhotoState(Payload):
    """A photo's record for the audit trail: never its place, which stays with the photo."""

    id: uuid.UUID
    audit_id: uuid.UUID
    recommendation_id: uuid.UUID | None = None
    kind: str
    caption: str | None = None
    content_type: str
    sha256: str
    uploaded_by: str | None = None


@registry.event
class PhotoAddedV1(Envelope):
    type: Literal["photo.added"] = "photo.added"
    version: Literal[1] = 1
    payload: PhotoState


PhotoAdded = PhotoAddedV1


@registry.event
class PhotoDeletedV1(Envelope):
    type: Literal["photo.deleted"] = "photo.deleted"
    version: Literal[1] = 1
    payload: PhotoState


PhotoDeleted = PhotoDeletedV1
