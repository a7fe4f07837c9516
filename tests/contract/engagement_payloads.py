"""Example payloads of the events service's contract (``shared/contracts/events/events.py``), for the contract tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from shared.contracts.events.envelope import Payload
from shared.contracts.events.events import DistributionState, EventState, MaterialState, StakeholderState, TrainingState

# The events part of the catalogue in events.md, written out by hand.
EVENTS_CATALOGUE = {
    ("event.created", 1),
    ("event.updated", 1),
    ("event.cancelled", 1),
    ("event.deleted", 1),
    ("material.created", 1),
    ("material.updated", 1),
    ("material.translated", 1),
    ("distribution.recorded", 1),
    ("training.recorded", 1),
    ("stakeholder.created", 1),
    ("stakeholder.updated", 1),
}


def event() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "partnership_ids": [uuid.uuid4(), uuid.uuid4()],
        "name": "Kensington Market festival",
        "kind": "festival",
        "special": True,
        "starts_at": datetime(2026, 7, 12, 15, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 7, 12, 21, 0, tzinfo=UTC),
        "neighbourhood_id": uuid.uuid4(),
        "location": {"type": "Point", "coordinates": [-79.4, 43.655]},
        "officers_attending": 4,
        "attendance": 800,
        "status": "held",
    }


def material() -> dict[str, Any]:
    text = {"title": "What is a CPTED audit?", "body": "…", "translated_on": date(2026, 3, 1)}
    return {
        "id": uuid.uuid4(),
        "slug": "cpted-audit-brochure",
        "kind": "brochure",
        "topic": "cpted_audit",
        "source_language": "en",
        "published_on": date(2026, 3, 1),
        "translations": {"en": text, "fr-CA": text | {"title": "Qu'est-ce qu'une évaluation CPTED?"}},
    }


def distribution() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "material_id": uuid.uuid4(),
        "agency": "Toronto Police Service",
        "language": "fr-CA",
        "copies": 250,
        "audience": "frontline_staff",
        "distributed_on": date(2026, 4, 1),
        "handed_to_at_risk": 12,
    }


def training() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "agency": "Toronto Police Service",
        "topic": "non_stigmatizing_language",
        "cohort": "recruits",
        "attendees": 30,
        "held_on": date(2026, 4, 2),
        "material_ids": [uuid.uuid4()],
    }


def stakeholder() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "partnership_id": uuid.uuid4(),
        "name": "Kensington Market BIA",
        "kind": "bia",
        "neighbourhood_id": uuid.uuid4(),
        "connected_on": date(2026, 2, 1),
        "status": "active",
    }


ENGAGEMENT_PAYLOADS: dict[type[Payload], Callable[[], dict[str, Any]]] = {
    EventState: event,
    MaterialState: material,
    DistributionState: distribution,
    TrainingState: training,
    StakeholderState: stakeholder,
}
