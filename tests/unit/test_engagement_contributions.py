"""What community events, materials, distributions, trainings and connections add to the totals."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from services.events.materials.domain.coverage import Delivered, coverage
from services.events.programme.domain.schedule import RuleBroken, check_status, check_times, local_bounds, local_day
from services.metrics.totals.domain import contributions as c
from services.metrics.totals.domain.contributions import Key, delta
from shared.contracts.events.events import DistributionState, EventState, MaterialState, StakeholderState, TrainingState
from shared.contracts.vocabulary import EventStatus

P, Q, N = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ZONE = "America/Toronto"
# 23:30 in Toronto on 8 March 2025 (EST) is 04:30 UTC on the 9th.
LATE_SATURDAY = datetime(2025, 3, 9, 4, 30, tzinfo=UTC)
SATURDAY = date(2025, 3, 8)


def an_event(**changes: object) -> EventState:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        partnership_ids=[P, Q],
        name="Festival",
        kind="festival",
        special=True,
        starts_at=LATE_SATURDAY,
        neighbourhood_id=N,
        officers_attending=3,
        status="held",
    )
    return EventState(**(fields | changes))


def keys(metric: str, partnerships: list[uuid.UUID], n: uuid.UUID = N, day: date = SATURDAY, times: int = 1):  # type: ignore[no-untyped-def]
    return {Key(p, n, metric, day): times for p in [*partnerships, c.ALL]}


def test_a_shared_special_event_counts_once_overall_and_once_per_partnership_on_its_local_day() -> None:
    assert c.event(an_event(), ZONE) == Counter(
        keys(c.EVENTS, [P, Q]) | keys(c.SPECIAL_EVENTS, [P, Q]) | keys(c.OFFICERS_ATTENDING, [P, Q], times=3)
    )


def test_cancelled_and_deleted_events_count_nothing() -> None:
    assert c.event(an_event(status="cancelled"), ZONE) == Counter()
    assert c.event(None, ZONE) == Counter()


def test_flipping_special_off_moves_only_the_special_count() -> None:
    change = delta(c.event(an_event(), ZONE), c.event(an_event(special=False), ZONE))
    assert change == Counter({k: -1 for k in keys(c.SPECIAL_EVENTS, [P, Q])})


def test_an_event_with_no_officers_and_no_neighbourhood() -> None:
    got = c.event(an_event(officers_attending=0, neighbourhood_id=None, special=False), ZONE)
    assert got == Counter(keys(c.EVENTS, [P, Q], n=c.NOWHERE))


def test_a_material_counts_itself_and_each_language_besides_the_source() -> None:
    text = {"title": "T", "body": "B"}
    state = MaterialState(
        id=uuid.uuid4(),
        slug="s",
        kind="brochure",
        topic="cpted_audit",
        source_language="en",
        published_on=date(2025, 1, 1),
        translations={
            "en": text | {"translated_on": "2025-01-01"},
            "fr": text | {"translated_on": "2025-02-01"},
            "ar": text | {"translated_on": "2025-02-01"},
        },
    )
    assert c.material(state) == Counter(
        {
            Key(c.ALL, c.NOWHERE, c.MATERIALS, date(2025, 1, 1)): 1,
            Key(c.ALL, c.NOWHERE, c.TRANSLATIONS, date(2025, 2, 1)): 2,
        }
    )


def test_distributions_trainings_and_connections() -> None:
    day = date(2025, 4, 1)
    d = DistributionState(
        id=uuid.uuid4(),
        material_id=uuid.uuid4(),
        agency="A",
        language="en",
        copies=250,
        audience="frontline_staff",
        distributed_on=day,
    )
    assert c.distribution(d) == Counter({Key(c.ALL, c.NOWHERE, c.COPIES_DISTRIBUTED, day): 250})
    t = TrainingState(
        id=uuid.uuid4(), agency="A", topic="non_stigmatizing_language", cohort="recruits", attendees=24, held_on=day
    )
    assert c.training(t) == Counter(
        {Key(c.ALL, c.NOWHERE, c.TRAININGS, day): 1, Key(c.ALL, c.NOWHERE, c.TRAINEES, day): 24}
    )
    s = StakeholderState(
        id=uuid.uuid4(),
        partnership_id=P,
        name="BIA",
        kind="bia",
        neighbourhood_id=N,
        connected_on=day,
        status="inactive",
    )
    assert c.stakeholder(s) == Counter(keys(c.STAKEHOLDERS, [P], day=day) | keys(c.NEW_CONNECTIONS, [P], day=day))


def test_local_days_and_bounds_across_the_dst_change() -> None:
    assert local_day(LATE_SATURDAY, ZONE) == SATURDAY
    lower, upper = local_bounds(date(2025, 3, 9), date(2025, 3, 9), ZONE)
    assert (lower, upper) == (datetime(2025, 3, 9, 5, tzinfo=UTC), datetime(2025, 3, 10, 4, tzinfo=UTC))


def test_event_rules() -> None:
    start = datetime(2025, 5, 1, 18, tzinfo=UTC)
    with pytest.raises(RuleBroken, match="not after"):
        check_times(start, start)
    with pytest.raises(RuleBroken, match="31 days"):
        check_times(start, datetime(2025, 7, 1, tzinfo=UTC))
    with pytest.raises(RuleBroken) as refused:
        check_status(EventStatus.cancelled, EventStatus.held, start, datetime(2026, 1, 1, tzinfo=UTC))
    assert refused.value.conflict
    with pytest.raises(RuleBroken, match="not started"):
        check_status(None, EventStatus.held, start, datetime(2025, 1, 1, tzinfo=UTC))
    check_status(EventStatus.cancelled, EventStatus.scheduled, start, datetime(2025, 1, 1, tzinfo=UTC))


def test_coverage_groups_agencies_case_blind_and_lists_what_is_missing() -> None:
    m1, m2 = uuid.uuid4(), uuid.uuid4()
    day = date(2025, 4, 1)
    rows = coverage(
        [(m1, "brochure"), (m2, "pamphlet")],
        [
            Delivered("Windsor Police Service", m1, "en", 100, day),
            Delivered("windsor police  service", m1, "fr", 50, day),
            Delivered("Windsor Police Service", m2, "en", 10, day),
        ],
        ["LaSalle Police Service"],
    )
    assert [(r.agency, r.complete, [m for m, _ in r.missing]) for r in rows] == [
        ("LaSalle Police Service", False, [m1, m2]),
        ("Windsor Police Service", True, []),
    ]
    assert (rows[1].reached[0].copies, rows[1].reached[0].languages) == (150, {"en", "fr"})
