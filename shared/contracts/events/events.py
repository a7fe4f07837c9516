"""Events published by the events service on the ``<prefix>:events`` stream.

Every payload is the full state of its subject after the change. Timestamps
are UTC; the consumer turns ``starts_at`` into a local (America/Toronto) day.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import AwareDatetime

from shared.contracts.events.envelope import Payload, registry
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
    location: dict[str, Any] | None = None
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


EventCreated = registry.define("event.created", EventState)
EventUpdated = registry.define("event.updated", EventState)
EventCancelled = registry.define("event.cancelled", EventState)
EventDeleted = registry.define("event.deleted", EventState)
MaterialCreated = registry.define("material.created", MaterialState)
MaterialUpdated = registry.define("material.updated", MaterialState)
MaterialTranslated = registry.define("material.translated", MaterialState)
DistributionRecorded = registry.define("distribution.recorded", DistributionState)
TrainingRecorded = registry.define("training.recorded", TrainingState)
StakeholderCreated = registry.define("stakeholder.created", StakeholderState)
StakeholderUpdated = registry.define("stakeholder.updated", StakeholderState)
