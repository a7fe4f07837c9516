"""Triage of audit requests and where a point lies: pure rules."""

from __future__ import annotations

import uuid

import pytest

from services.audits.core.domain.places import centroid, neighbourhood_of, point_of
from services.audits.requests.domain import TriageRefused, check_triage, is_open
from shared.contracts.vocabulary import AuditRequestStatus as S
from tests.factories import square

AUDIT = uuid.uuid4()


@pytest.mark.parametrize(
    ("current", "to", "audit_id", "reason"),
    [
        (S.received, S.scheduled, AUDIT, None),
        (S.received, S.rejected, None, "outside the programme's neighbourhoods"),
        (S.scheduled, S.done, AUDIT, None),
        (S.scheduled, S.rejected, AUDIT, "the owner fixed the lights"),
        (S.received, S.received, None, None),
    ],
)
def test_legal_steps_pass(current: S, to: S, audit_id: uuid.UUID | None, reason: str | None) -> None:
    check_triage(current, to, audit_id=audit_id, reason=reason)


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (S.received, S.done),
        (S.done, S.received),
        (S.rejected, S.scheduled),
        (S.done, S.rejected),
        (S.scheduled, S.received),
    ],
)
def test_illegal_steps_are_conflicts(current: S, to: S) -> None:
    with pytest.raises(TriageRefused) as refused:
        check_triage(current, to, audit_id=AUDIT, reason="r")
    assert refused.value.illegal and refused.value.field == "status"


def test_scheduling_names_an_audit() -> None:
    with pytest.raises(TriageRefused) as refused:
        check_triage(S.received, S.scheduled, audit_id=None, reason=None)
    assert (refused.value.field, refused.value.illegal) == ("audit_id", False)


def test_rejecting_says_why() -> None:
    with pytest.raises(TriageRefused) as refused:
        check_triage(S.received, S.rejected, audit_id=None, reason="")
    assert refused.value.field == "reason"


def test_a_received_request_has_no_audit_yet() -> None:
    with pytest.raises(TriageRefused, match="scheduling"):
        check_triage(S.received, S.received, audit_id=AUDIT, reason=None)


def test_a_closed_request_keeps_its_audit() -> None:
    with pytest.raises(TriageRefused) as refused:
        check_triage(S.done, S.done, audit_id=uuid.uuid4(), reason=None, relinked=True)
    assert refused.value.illegal


def test_open_means_received_or_scheduled() -> None:
    assert [s for s in S if is_open(s)] == [S.received, S.scheduled]


def test_a_point_lies_in_the_smallest_covering_neighbourhood() -> None:
    big, small, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    boundaries = [(big, square(-83.1, 42.3, 0.1)), (small, square(-83.05, 42.33, 0.01)), (elsewhere, square(-80, 43))]
    here = {"type": "Point", "coordinates": [-83.045, 42.335]}
    assert neighbourhood_of(here, boundaries) == small
    assert neighbourhood_of({"type": "Point", "coordinates": [-83.09, 42.31]}, boundaries) == big
    assert neighbourhood_of({"type": "Point", "coordinates": [0, 0]}, boundaries) is None


def test_a_point_on_the_boundary_is_inside() -> None:
    n = uuid.uuid4()
    assert neighbourhood_of({"type": "Point", "coordinates": [-83.0, 42.3]}, [(n, square(-83.0, 42.3))]) == n


def test_centroid_and_point_are_longitude_first() -> None:
    assert centroid(square(-83.0, 42.0, 0.02)) == pytest.approx((-82.99, 42.01))
    assert point_of({"type": "Point", "coordinates": [-83.0, 42.0]}) == (-83.0, 42.0)
    assert point_of(None) is None
