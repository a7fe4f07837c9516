"""The audits event contract: what metrics may rely on, and how it may grow."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.contracts.events import Envelope, parse_event, registry
from shared.contracts.events.audits import (
    AuditRequestState,
    AuditState,
    NeighbourhoodState,
    PartnershipState,
    PhotoState,
    RecommendationState,
    RecommendationStatusChanged,
    RecommendationTransition,
)
from shared.contracts.events.envelope import Payload, UnknownEvent
from tests.contract.engagement_payloads import ENGAGEMENT_PAYLOADS, EVENTS_CATALOGUE

# The audits part of the catalogue in events.md, written out by hand.
AUDITS_CATALOGUE = {
    ("neighbourhood.created", 1),
    ("neighbourhood.updated", 1),
    ("partnership.created", 1),
    ("partnership.updated", 1),
    ("audit.created", 1),
    ("audit.updated", 1),
    ("audit.deleted", 1),
    ("recommendation.created", 1),
    ("recommendation.updated", 1),
    ("recommendation.status_changed", 1),
    ("audit_request.created", 1),
    ("audit_request.updated", 1),
    ("photo.added", 1),
    ("photo.deleted", 1),
}

SQUARE = [[-79.40, 43.65], [-79.39, 43.65], [-79.39, 43.66], [-79.40, 43.66], [-79.40, 43.65]]


def neighbourhood() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "name": "Kensington",
        "municipality": "Toronto",
        "population": 17000,
        "boundary": {"type": "Polygon", "coordinates": [SQUARE]},
    }


def partnership() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "name": "Kensington Safety Partnership",
        "police_service": "Toronto Police Service",
        "neighbourhood_ids": [uuid.uuid4()],
        "safety_committees": ["Kensington Safety Committee"],
        "formalized_on": date(2025, 6, 1),
        "status": "active",
    }


def audit() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "partnership_id": uuid.uuid4(),
        "neighbourhood_id": uuid.uuid4(),
        "site_name": "Laneway behind Augusta Ave",
        "location": {"type": "Point", "coordinates": [-79.4, 43.655]},
        "conducted_on": date(2026, 3, 1),
        "auditors": ["A. Officer", "R. Resident"],
        "trigger": "resident_request",
        "findings": [{"principle": "natural_surveillance", "rating": 2, "notes": "dark"}],
        "status": "completed",
    }


def recommendation() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "audit_id": uuid.uuid4(),
        "category": "lighting",
        "description": "Add two pole lights",
        "responsible_party": "Toronto Hydro",
        "priority": "high",
        "status": "implemented",
        "implemented_on": date(2026, 4, 2),
    }


def transition() -> dict[str, Any]:
    return recommendation() | {"from": "in_progress", "to": "implemented", "on": date(2026, 4, 2)}


def audit_request() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "place": "Laneway behind Augusta Ave",
        "description": "Dark at night",
        "location": {"type": "Point", "coordinates": [-79.4, 43.655]},
        "neighbourhood_id": uuid.uuid4(),
        "status": "scheduled",
        "audit_id": uuid.uuid4(),
        "partnership_id": uuid.uuid4(),
        "source": "open311",
        "received_at": datetime(2026, 3, 1, 15, 0, tzinfo=UTC),
    }


def photo() -> dict[str, Any]:
    return {"id": uuid.uuid4(), "audit_id": uuid.uuid4(), "kind": "completion", "content_type": "image/jpeg",
            "sha256": "ab" * 32, "uploaded_by": "key:test"}  # fmt: skip


PAYLOADS: dict[type[Payload], Callable[[], dict[str, Any]]] = {
    NeighbourhoodState: neighbourhood,
    PartnershipState: partnership,
    AuditState: audit,
    RecommendationState: recommendation,
    RecommendationTransition: transition,
    AuditRequestState: audit_request,
    PhotoState: photo,
}
PAYLOADS.update(ENGAGEMENT_PAYLOADS)


def an_event(type_name: str, version: int = 1, **changes: Any) -> Envelope:
    cls = registry.get(type_name, version)
    assert cls is not None
    payload = PAYLOADS[cls.model_fields["payload"].annotation]()  # type: ignore[index]
    return cls(source="audits", subject_id=payload["id"], subject_version=2, payload=payload, **changes)


def test_the_registered_types_are_exactly_the_catalogue() -> None:
    assert set(registry.types()) == AUDITS_CATALOGUE | EVENTS_CATALOGUE


@pytest.mark.parametrize(("type_name", "version"), registry.types())
def test_every_registered_event_round_trips_through_json(type_name: str, version: int) -> None:
    event = an_event(type_name, version, request_id="req-1", actor="key:test", partnership_id=uuid.uuid4())
    parsed = parse_event(event.to_json())
    assert type(parsed) is type(event)
    assert parsed == event
    assert (parsed.type, parsed.version) == (type_name, version)


def test_status_changed_carries_from_to_and_on_in_its_payload() -> None:
    raw = orjson.loads(an_event("recommendation.status_changed").to_json())
    assert {"from": "in_progress", "to": "implemented", "on": "2026-04-02"}.items() <= raw["payload"].items()
    assert "from_" not in raw["payload"]


def test_status_changed_can_be_built_with_the_from_alias() -> None:
    event = an_event("recommendation.status_changed")
    assert isinstance(event, RecommendationStatusChanged)
    assert event.payload.from_ == "in_progress"


@pytest.mark.parametrize(("type_name", "version"), [("audit.exploded", 1), ("audit.created", 99), (None, 1)])
def test_an_unknown_type_or_version_is_refused(type_name: str | None, version: int) -> None:
    raw = orjson.loads(an_event("audit.created").to_json()) | {"type": type_name, "version": version}
    with pytest.raises(UnknownEvent):
        parse_event(raw)


def test_an_extra_envelope_field_is_ignored() -> None:
    event = an_event("audit.created")
    raw = orjson.loads(event.to_json()) | {"trace_id": "abc", "priority": 3}
    assert parse_event(orjson.dumps(raw)) == event


def test_an_extra_payload_field_is_ignored() -> None:
    event = an_event("recommendation.updated")
    raw = orjson.loads(event.to_json())
    raw["payload"]["photo_count"] = 3
    assert parse_event(raw) == event


def test_a_missing_required_payload_field_fails() -> None:
    raw = orjson.loads(an_event("audit.created").to_json())
    del raw["payload"]["conducted_on"]
    with pytest.raises(ValidationError, match="conducted_on"):
        parse_event(raw)


def test_a_retyped_payload_field_fails() -> None:
    raw = orjson.loads(an_event("recommendation.created").to_json())
    raw["payload"]["status"] = "finished"
    with pytest.raises(ValidationError, match="status"):
        parse_event(raw)


def test_an_event_from_an_unknown_source_fails() -> None:
    raw = orjson.loads(an_event("audit.created").to_json()) | {"source": "metrics"}
    with pytest.raises(ValidationError, match="source"):
        parse_event(raw)


def test_a_photo_event_never_carries_the_photo_place() -> None:
    raw = orjson.loads(an_event("photo.added").to_json())
    raw["payload"]["location"] = {"type": "Point", "coordinates": [-83.0, 42.3]}
    assert "location" not in parse_event(raw).payload.model_dump()


def test_an_audit_request_event_carries_no_personal_data() -> None:
    raw = orjson.loads(an_event("audit_request.created").to_json())
    assert {"requester", "name", "email", "phone", "first_name", "last_name"}.isdisjoint(raw["payload"])
    raw["payload"]["email"] = "dana@example.org"  # even if a producer slipped it in, the contract drops it
    assert "email" not in parse_event(raw).payload.model_dump()


def test_the_trace_context_is_optional_absent_while_tracing_is_off_and_kept_when_present() -> None:
    raw = orjson.loads(an_event("audit.created").to_json())
    assert {"traceparent", "tracestate"}.isdisjoint(raw)  # the documented envelope, byte for byte, when off
    traced = raw | {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "k=v"}
    parsed = parse_event(orjson.dumps(traced))
    assert (parsed.traceparent, parsed.tracestate) == (traced["traceparent"], "k=v")
    assert orjson.loads(parsed.to_json()) == traced
