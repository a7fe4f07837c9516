"""The events service's rows, turned into events as its handlers do, satisfy the consumer's contract."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.events.tables import CommunityEvent, Distribution, Material, Stakeholder, Training
from shared.contracts.events import Envelope, parse_event
from shared.contracts.events.events import (
    DistributionRecorded,
    EventCancelled,
    EventCreated,
    MaterialTranslated,
    StakeholderUpdated,
    TrainingRecorded,
)
from shared.db.records import state
from shared.db.uow import UnitOfWork


class RecordingUow:
    emit = UnitOfWork.emit

    def __init__(self) -> None:
        self._source = "events"
        self.actor = "key:partner"
        self._events: list[Envelope] = []


P = uuid.uuid4()
ROWS: list[tuple[type[Envelope], Any]] = [
    (
        EventCreated,
        CommunityEvent(
            partnership_ids=[P],
            name="Festival",
            kind="festival",
            special=True,
            starts_at=datetime(2026, 7, 1, 15, tzinfo=UTC),
            status="scheduled",
        ),
    ),
    (
        EventCancelled,
        CommunityEvent(
            partnership_ids=[P],
            name="BIA meeting",
            kind="bia_meeting",
            starts_at=datetime(2026, 7, 2, 15, tzinfo=UTC),
            status="cancelled",
            version=2,
        ),
    ),
    # As loaded from JSONB: dates inside translations are strings.
    (
        MaterialTranslated,
        Material(
            slug="gsdoa",
            kind="pamphlet",
            topic="good_samaritan_act",
            source_language="en",
            published_on=date(2026, 1, 5),
            version=3,
            translations={
                "en": {"title": "T", "body": "B", "translated_on": "2026-01-05"},
                "ar": {"title": "T", "body": "B", "translated_on": "2026-02-01"},
            },
        ),
    ),
    (
        DistributionRecorded,
        Distribution(
            material_id=uuid.uuid4(),
            agency="LaSalle Police Service",
            language="fr",
            copies=40,
            audience="recruits",
            distributed_on=date(2026, 3, 1),
        ),
    ),
    (
        TrainingRecorded,
        Training(
            agency="LaSalle Police Service",
            topic="non_stigmatizing_language",
            cohort="frontline",
            attendees=12,
            held_on=date(2026, 3, 2),
        ),
    ),
    (
        StakeholderUpdated,
        Stakeholder(
            partnership_id=P,
            name="Peer leaders",
            kind="peer_leader_group",
            connected_on=date(2026, 1, 1),
            status="inactive",
            version=2,
        ),
    ),
]


@pytest.mark.parametrize(("event_class", "row"), ROWS, ids=[r[0].__name__ for r in ROWS])
def test_a_produced_event_parses_back_equal(event_class: type[Envelope], row: Any) -> None:
    event = RecordingUow().emit(
        event_class, subject_id=row.id, subject_version=row.version, payload=state(row), partnership_ids=[P]
    )
    parsed = parse_event(event.to_json())
    assert parsed == event
    assert parsed.payload.id == row.id
    assert {"version", "created_at", "updated_at"}.isdisjoint(parsed.payload.model_dump())
