"""What an audit request adds to the totals: received day in local time, open until done or rejected."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime

from services.metrics.totals.domain import contributions as c
from services.metrics.totals.domain.contributions import Key
from shared.contracts.events.audits import AuditRequestState

N, P = uuid.uuid4(), uuid.uuid4()
ZONE = "America/Toronto"


def a_request(**changes: object) -> AuditRequestState:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        place="Alley behind 600 Glengarry Ave",
        description="The alley is dark at night",
        neighbourhood_id=N,
        status="received",
        source="open311",
        received_at=datetime(2026, 3, 1, 15, 0, tzinfo=UTC),
    )
    return AuditRequestState(**(fields | changes))


def test_a_received_request_counts_and_is_open_on_its_local_day() -> None:
    day = date(2026, 3, 1)
    assert c.audit_request(a_request(), ZONE) == Counter(
        {Key(c.ALL, N, c.AUDIT_REQUESTS, day): 1, Key(c.ALL, N, c.AUDIT_REQUESTS_OPEN, day): 1}
    )


def test_late_evening_in_toronto_is_the_previous_local_day() -> None:
    late = a_request(received_at=datetime(2026, 3, 2, 3, 30, tzinfo=UTC))  # 22:30 on 1 March in Toronto
    assert {k.day for k in c.audit_request(late, ZONE)} == {date(2026, 3, 1)}


def test_a_scheduled_request_counts_under_its_audits_partnership_too() -> None:
    counted = c.audit_request(a_request(status="scheduled", audit_id=uuid.uuid4(), partnership_id=P), ZONE)
    assert counted[Key(P, N, c.AUDIT_REQUESTS_OPEN, date(2026, 3, 1))] == 1
    assert counted[Key(c.ALL, N, c.AUDIT_REQUESTS, date(2026, 3, 1))] == 1


def test_done_and_rejected_requests_are_no_longer_open() -> None:
    for status in ("done", "rejected"):
        counted = c.audit_request(a_request(status=status, reason="r"), ZONE)
        assert {k.metric for k in counted} == {c.AUDIT_REQUESTS}


def test_an_unplaced_request_counts_in_no_neighbourhood() -> None:
    counted = c.audit_request(a_request(neighbourhood_id=None), ZONE)
    assert {k.neighbourhood_id for k in counted} == {c.NOWHERE}


def test_closing_a_request_only_takes_it_out_of_the_open_ones() -> None:
    before = a_request()
    after = before.model_copy(update={"status": "done"})
    change = c.delta(c.audit_request(before, ZONE), c.audit_request(after, ZONE))
    assert change == Counter({Key(c.ALL, N, c.AUDIT_REQUESTS_OPEN, date(2026, 3, 1)): -1})
    assert c.audit_request(None, ZONE) == Counter()
