"""Events published by the events service on the ``<prefix>:events`` stream.

Every payload is the full state of its subject after the change. Timestamps
are UTC; the consumer turns ``starts_at`` into a local (America/Toronto) day.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime

from shared.contracts.events.envelope import Envelope, Payload, registry
from shared.contracts.geo import PointRead
from shared.contracts.vocabulary import (
    Audience,
    Cohort,
    EventKind,
    EventStatus,
    MaterialKind,
    MaterialTopic,
    StakeholderKind,
    StakeholderStatus,
)


class EventState(Payload):
    id: uuid.UUID
    partnership_ids: list[uuid.UUID]
    name: str
    kind: EventKind
    special: bool = False
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    neighbourhood_id: uuid.UUID | None = None
    location: PointRead | None = None
    officers_attending: int = 0
    attendance: int | None = None
    status: EventStatus
    description: str | None = None


class TranslationState(Payload):
    title: str
    body: str
    translated_on: date


class MaterialState(Payload):
    id: uuid.UUID
    slug: str
    kind: MaterialKind
    topic: MaterialTopic
    source_language: str
    published_on: date
    translations: dict[str, TranslationState]


class DistributionState(Payload):
    id: uuid.UUID
    material_id: uuid.UUID
    agency: str
    language: str
    copies: int
    audience: Audience
    distributed_on: date
    handed_to_at_risk: int | None = None
    handed_to_charged: int | None = None


class TrainingState(Payload):
    id: uuid.UUID
    agency: str
    topic: str
    cohort: Cohort
    attendees: int
    held_on: date
    material_ids: list[uuid.UUID] = []


class StakeholderState(Payload):
    id: uuid.UUID
    partnership_id: uuid.UUID
    name: str
    kind: StakeholderKind
    neighbourhood_id: uuid.UUID | None = None
    connected_on: date
    status: StakeholderStatus


@registry.event
class EventCreatedV1(Envelope):
    type: Literal["event.created"] = "event.created"
    version: Literal[1] = 1
    payload: EventState


EventCreated = EventCreatedV1


@registry.event
class EventUpdatedV1(Envelope):
    type: Literal["event.updated"] = "event.updated"
    version: Literal[1] = 1
    payload: EventState


EventUpdated = EventUpdatedV1


@registry.event
class EventCancelledV1(Envelope):
    type: Literal["event.cancelled"] = "event.cancelled"
    version: Literal[1] = 1
    payload: EventState


EventCancelled = EventCancelledV1


@registry.event
class EventDeletedV1(Envelope):
    type: Literal["event.deleted"] = "event.deleted"
    version: Literal[1] = 1
    payload: EventState


EventDeleted = EventDeletedV1


@registry.event
class MaterialCreatedV1(Envelope):
    type: Literal["material.created"] = "material.created"
    version: Literal[1] = 1
    payload: MaterialState


MaterialCreated = MaterialCreatedV1


@registry.event
class MaterialUpdatedV1(Envelope):
    type: Literal["material.updated"] = "material.updated"
    version: Literal[1] = 1
    payload: MaterialState


MaterialUpdated = MaterialUpdatedV1


@registry.event
class MaterialTranslatedV1(Envelope):
    type: Literal["material.translated"] = "material.translated"
    version: Literal[1] = 1
    payload: MaterialState


MaterialTranslated = MaterialTranslatedV1


@registry.event
class DistributionRecordedV1(Envelope):
    type: Literal["distribution.recorded"] = "distribution.recorded"
    version: Literal[1] = 1
    payload: DistributionState


DistributionRecorded = DistributionRecordedV1


@registry.event
class TrainingRecordedV1(Envelope):
    type: Literal["training.recorded"] = "training.recorded"
    version: Literal[1] = 1
    payload: TrainingState


TrainingRecorded = TrainingRecordedV1


@registry.event
class StakeholderCreatedV1(Envelope):
    type: Literal["stakeholder.created"] = "stakeholder.created"
    version: Literal[1] = 1
    payload: StakeholderState


StakeholderCreated = StakeholderCreatedV1


@registry.event
class StakeholderUpdatedV1(Envelope):
    type: Literal["stakeholder.updated"] = "stakeholder.updated"
    version: Literal[1] = 1
    payload: StakeholderState


StakeholderUpdated = StakeholderUpdatedV1
