"""Events published by the audits service on the ``<prefix>:audits`` stream."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import AwareDatetime, Field

from shared.contracts.events.envelope import Payload, registry
from shared.contracts.vocabulary import (
    AuditRequestStatus,
    AuditStatus,
    AuditTrigger,
    PartnershipStatus,
    Priority,
    RecommendationCategory,
    RecommendationStatus,
)


class NeighbourhoodState(Payload):
    id: uuid.UUID
    name: str
    municipality: str
    population: int | None = None
    boundary: dict[str, Any]


class PartnershipState(Payload):
    id: uuid.UUID
    name: str
    police_service: str
    neighbourhood_ids: list[uuid.UUID]
    safety_committees: list[str] = []
    business_improvement_areas: list[str] = []
    formalized_on: date | None = None
    status: PartnershipStatus


class AuditState(Payload):
    id: uuid.UUID
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    site_name: str
    location: dict[str, Any] | None = None
    conducted_on: date
    auditors: list[str] = []
    trigger: AuditTrigger
    findings: list[dict[str, Any]] = []
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
    """A request for an audit; the requester's name, email and phone are never part of it."""

    id: uuid.UUID
    place: str
    description: str
    location: dict[str, Any] | None = None
    neighbourhood_id: uuid.UUID | None = None
    status: AuditRequestStatus
    audit_id: uuid.UUID | None = None
    partnership_id: uuid.UUID | None = None
    reason: str | None = None
    source: str
    received_at: AwareDatetime


NeighbourhoodCreated = registry.define("neighbourhood.created", NeighbourhoodState)
NeighbourhoodUpdated = registry.define("neighbourhood.updated", NeighbourhoodState)
PartnershipCreated = registry.define("partnership.created", PartnershipState)
PartnershipUpdated = registry.define("partnership.updated", PartnershipState)
AuditCreated = registry.define("audit.created", AuditState)
AuditUpdated = registry.define("audit.updated", AuditState)
AuditDeleted = registry.define("audit.deleted", AuditState)
RecommendationCreated = registry.define("recommendation.created", RecommendationState)
RecommendationUpdated = registry.define("recommendation.updated", RecommendationState)
RecommendationStatusChanged = registry.define("recommendation.status_changed", RecommendationTransition)
AuditRequestCreated = registry.define("audit_request.created", AuditRequestState)
AuditRequestUpdated = registry.define("audit_request.updated", AuditRequestState)


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


PhotoAdded = registry.define("photo.added", PhotoState)
PhotoDeleted = registry.define("photo.deleted", PhotoState)
