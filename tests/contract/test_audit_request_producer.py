"""An audit request row, turned into events as its handler does, satisfies the consumer's contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.audits.tables import AuditRequest
from shared.contracts.events import Envelope, parse_event
from shared.contracts.events.audits import AuditRequestCreated, AuditRequestUpdated
from shared.contracts.vocabulary import AuditRequestStatus
from shared.db.records import state
from tests.contract.test_producers import RecordingUow


def a_request() -> AuditRequest:
    return AuditRequest(
        place="Alley behind 600 Glengarry Ave",
        description="Dark at night",
        location={"type": "Point", "coordinates": [-83.03, 42.31]},
        neighbourhood_id=uuid.uuid4(),
        status="scheduled",  # as loaded from the database: a plain string
        audit_id=uuid.uuid4(),
        partnership_id=uuid.uuid4(),
        source="open311",
        attributes={"concern": "lighting"},
        received_at=datetime(2026, 3, 1, 15, tzinfo=UTC),
        version=2,
    )


@pytest.mark.parametrize("event_class", [AuditRequestCreated, AuditRequestUpdated])
def test_a_produced_audit_request_event_parses_back_equal(event_class: type[Envelope]) -> None:
    row = a_request()
    event = RecordingUow().emit(
        event_class,
        subject_id=row.id,
        subject_version=row.version,
        partnership_id=row.partnership_id,
        neighbourhood_id=row.neighbourhood_id,
        payload=state(row),
    )
    parsed = parse_event(event.to_json())
    assert parsed == event
    assert parsed.payload.status is AuditRequestStatus.scheduled
    assert parsed.payload.received_at == row.received_at
