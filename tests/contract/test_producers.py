"""The audits service's rows, turned into events as its handlers do, satisfy the consumer's contract."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.audits.tables import Audit, Neighbourhood, Partnership, Recommendation
from shared.contracts.events import Envelope, parse_event
from shared.contracts.events.audits import (
    AuditCreated,
    AuditDeleted,
    AuditUpdated,
    NeighbourhoodCreated,
    NeighbourhoodUpdated,
    PartnershipCreated,
    PartnershipUpdated,
    RecommendationCreated,
    RecommendationStatusChanged,
    RecommendationUpdated,
)
from shared.contracts.vocabulary import (
    AuditStatus,
    AuditTrigger,
    Principle,
    Priority,
    RecommendationCategory,
    RecommendationStatus,
)
from shared.db.records import state
from shared.db.uow import UnitOfWork


class RecordingUow:
    """Just enough of a unit of work to run the real ``UnitOfWork.emit``."""

    emit = UnitOfWork.emit

    def __init__(self) -> None:
        self._source = "audits"
        self.actor = "key:partner"
        self._events: list[Envelope] = []


SQUARE = [[-79.40, 43.65], [-79.39, 43.65], [-79.39, 43.66], [-79.40, 43.66], [-79.40, 43.65]]


def a_neighbourhood() -> Neighbourhood:
    return Neighbourhood(
        name="Kensington",
        municipality="Toronto",
        boundary={"type": "Polygon", "coordinates": [SQUARE]},
        population=17_000,
    )


def a_partnership(neighbourhood: Neighbourhood) -> Partnership:
    return Partnership(
        name="Kensington Safety Partnership",
        police_service="Toronto Police Service",
        neighbourhood_ids=[neighbourhood.id],
        business_improvement_areas=["Kensington Market BIA"],
        formalized_on=date(2025, 6, 1),
        status="active",
    )


def an_audit(partnership: Partnership, neighbourhood: Neighbourhood) -> Audit:
    return Audit(
        partnership_id=partnership.id,
        neighbourhood_id=neighbourhood.id,
        site_name="Laneway behind Augusta Ave",
        location={"type": "Point", "coordinates": [-79.4, 43.655]},
        conducted_on=date(2026, 3, 1),
        auditors=["A. Officer"],
        trigger=AuditTrigger.resident_request,
        findings=[{"principle": Principle.natural_surveillance, "rating": 2, "notes": "dark at night"}],
        status=AuditStatus.completed,
        version=3,
    )


def a_recommendation(audit: Audit) -> Recommendation:
    return Recommendation(
        audit_id=audit.id,
        category=RecommendationCategory.lighting,
        description="Add two pole lights",
        priority=Priority.high,
        status=RecommendationStatus.proposed,
    )


N = a_neighbourhood()
P = a_partnership(N)
A = an_audit(P, N)
R = a_recommendation(A)


def emitted(event_class: type[Envelope], row: Any, audit: Audit | None = None, **extra: Any) -> Envelope:
    uow = RecordingUow()
    scope: dict[str, Any] = {}
    if isinstance(row, Neighbourhood):
        scope = {"neighbourhood_id": row.id}
    elif isinstance(row, Partnership):
        scope = {"partnership_id": row.id}
    elif audit is not None:
        scope = {"partnership_id": audit.partnership_id, "neighbourhood_id": audit.neighbourhood_id}
    return uow.emit(event_class, subject_id=row.id, subject_version=row.version, payload=state(row, **extra), **scope)


CASES = [
    (NeighbourhoodCreated, N, None),
    (NeighbourhoodUpdated, N, None),
    (PartnershipCreated, P, None),
    (PartnershipUpdated, P, None),
    (AuditCreated, A, A),
    (AuditUpdated, A, A),
    (AuditDeleted, A, A),
    (RecommendationCreated, R, A),
    (RecommendationUpdated, R, A),
]


@pytest.mark.parametrize(("event_class", "row", "audit"), [pytest.param(*case, id=case[0].__name__) for case in CASES])
def test_a_produced_event_parses_back_equal(event_class: type[Envelope], row: Any, audit: Audit | None) -> None:
    event = emitted(event_class, row, audit)
    parsed = parse_event(event.to_json())
    assert parsed == event
    assert parsed.payload.id == row.id
    assert parsed.subject_version == row.version


def test_a_transition_to_implemented_parses_back_with_its_step() -> None:
    row = a_recommendation(A)
    row.status, row.implemented_on, row.version = RecommendationStatus.implemented, date(2026, 4, 2), 4
    step = {"from": RecommendationStatus.in_progress, "to": RecommendationStatus.implemented, "on": date(2026, 4, 2)}
    event = emitted(RecommendationStatusChanged, row, A, **step)
    parsed = parse_event(event.to_json())
    assert parsed == event
    assert (parsed.payload.from_, parsed.payload.to, parsed.payload.on) == tuple(step.values())
    assert parsed.payload.implemented_on == date(2026, 4, 2)
    assert (parsed.partnership_id, parsed.neighbourhood_id) == (A.partnership_id, A.neighbourhood_id)


def test_rows_built_from_plain_strings_as_loaded_from_the_database_also_validate() -> None:
    row = a_recommendation(A)
    row.status, row.category, row.priority = "deferred", "maintenance", "low"
    event = emitted(RecommendationUpdated, row, A)
    assert parse_event(event.to_json()).payload.status is RecommendationStatus.deferred


def test_the_payload_leaves_out_bookkeeping_columns() -> None:
    payload = state(A)
    assert {"version", "created_at", "updated_at"}.isdisjoint(payload)
    assert payload["id"] == A.id and uuid.UUID(str(payload["partnership_id"])) == P.id
