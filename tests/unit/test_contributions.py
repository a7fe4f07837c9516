"""What each audit and recommendation adds to the running totals."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.metrics.totals.domain import contributions as c
from services.metrics.totals.domain.contributions import Key, delta
from services.metrics.totals.domain.totals import Totals, assemble
from shared.contracts.events.audits import AuditState, RecommendationState
from shared.contracts.vocabulary import AuditStatus, RecommendationCategory, RecommendationStatus

P, N = uuid.uuid4(), uuid.uuid4()
DAY = date(2026, 3, 1)


def an_audit(**changes: object) -> AuditState:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        partnership_id=P,
        neighbourhood_id=N,
        site_name="Laneway behind Queen St",
        conducted_on=DAY,
        trigger="resident_request",
        status="planned",
    )
    return AuditState(**(fields | changes))


def a_recommendation(audit: AuditState, **changes: object) -> RecommendationState:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        audit_id=audit.id,
        category="lighting",
        description="Add two pole lights",
        priority="high",
        status="proposed",
    )
    return RecommendationState(**(fields | changes))


def once(metric: str, day: date = DAY) -> dict[Key, int]:
    """Counted once for the partnership and once in the programme-wide totals."""
    return {Key(P, N, metric, day): 1, Key(c.ALL, N, metric, day): 1}


def test_a_planned_audit_counts_once_and_not_as_completed() -> None:
    assert c.audit(an_audit()) == Counter(once(c.AUDITS))


def test_a_completed_audit_also_counts_as_completed() -> None:
    assert c.audit(an_audit(status="completed")) == Counter(once(c.AUDITS) | once(c.AUDITS_COMPLETED))


def test_a_thing_shared_by_two_partnerships_counts_once_overall() -> None:
    other = uuid.uuid4()
    keys = Counter(c.counted([P, other, P], N, "events", DAY))
    assert keys == Counter(
        {Key(P, N, "events", DAY): 1, Key(other, N, "events", DAY): 1, Key(c.ALL, N, "events", DAY): 1}
    )
    assert Counter(c.counted([P], None, "events", DAY))[Key(c.ALL, c.NOWHERE, "events", DAY)] == 1


def test_no_audit_contributes_nothing() -> None:
    assert c.audit(None) == Counter()


def test_a_recommendation_counts_under_its_audit_by_status_and_category() -> None:
    audit = an_audit()
    assert c.recommendation(a_recommendation(audit, category="signage"), audit) == Counter(
        once(c.RECOMMENDATIONS)
        | once("recommendations_by_status.proposed")
        | once("recommendations_by_category.signage")
    )


def test_an_implemented_recommendation_counts_as_implemented_on_its_own_date() -> None:
    audit = an_audit()
    done_on = date(2026, 9, 30)
    rec = a_recommendation(audit, status="implemented", implemented_on=done_on)
    counted = c.recommendation(rec, audit)
    assert counted[Key(P, N, c.IMPLEMENTED, done_on)] == 1
    assert counted[Key(P, N, "recommendations_by_status.implemented", DAY)] == 1
    assert Key(P, N, c.IMPLEMENTED, DAY) not in counted


def test_a_recommendation_without_its_audit_contributes_nothing() -> None:
    audit = an_audit()
    assert c.recommendation(a_recommendation(audit), None) == Counter()
    assert c.recommendation(None, audit) == Counter()


def test_delta_keeps_negatives_and_drops_zeros() -> None:
    a, b, same = (Key(P, N, metric, DAY) for metric in ("a", "b", "same"))
    change = delta(Counter({a: 2, same: 1}), Counter({b: 1, same: 1}))
    assert dict(change) == {a: -2, b: 1}


def test_moving_an_audits_date_moves_its_recommendations() -> None:
    before = an_audit()
    after = before.model_copy(update={"conducted_on": DAY + timedelta(days=7)})
    rec = a_recommendation(before)
    change = delta(c.recommendation(rec, before), c.recommendation(rec, after))
    assert change[Key(P, N, c.RECOMMENDATIONS, DAY)] == -1
    assert change[Key(P, N, c.RECOMMENDATIONS, after.conducted_on)] == 1
    assert sum(change.values()) == 0


def _random_change(rng: random.Random, audit: AuditState) -> AuditState:
    return audit.model_copy(
        update={
            "partnership_id": rng.choice([P, uuid.UUID(int=1)]),
            "conducted_on": DAY + timedelta(days=rng.randrange(3)),
            "status": rng.choice(list(AuditStatus)),
        }
    )


def _random_rec_change(rng: random.Random, rec: RecommendationState) -> RecommendationState:
    status = rng.choice(list(RecommendationStatus))
    done_on = DAY + timedelta(days=rng.randrange(3)) if status is RecommendationStatus.implemented else None
    return rec.model_copy(
        update={
            "status": status,
            "category": rng.choice(list(RecommendationCategory)),
            "implemented_on": rng.choice([done_on, None]) if done_on else None,
        }
    )


def _contribution_of(
    audits: dict[int, AuditState | None], recs: dict[int, tuple[int, RecommendationState | None]]
) -> Counter[Key]:
    total: Counter[Key] = Counter()
    for audit in audits.values():
        total.update(c.audit(audit))
    for parent, rec in recs.values():
        total.update(c.recommendation(rec, audits[parent]))
    return total


def test_applying_deltas_of_any_sequence_of_changes_ends_at_the_final_states() -> None:
    rng = random.Random(20260301)
    seeds = {i: an_audit() for i in range(3)}
    audits: dict[int, AuditState | None] = {i: None for i in seeds}
    recs: dict[int, tuple[int, RecommendationState | None]] = {j: (j % 3, None) for j in range(6)}
    running: Counter[Key] = Counter()
    for _ in range(400):
        if rng.random() < 0.4:
            i = rng.choice(list(audits))
            old = audits[i]
            new = None if rng.random() < 0.2 else _random_change(rng, old or seeds[i])
            running.update(delta(c.audit(old), c.audit(new)))
            for parent, rec in recs.values():  # the projection re-keys the audit's recommendations
                if parent == i:
                    running.update(delta(c.recommendation(rec, old), c.recommendation(rec, new)))
            audits[i] = new
        else:
            j = rng.choice(list(recs))
            parent, old_rec = recs[j]
            seed = old_rec or a_recommendation(seeds[parent])
            new_rec = None if rng.random() < 0.2 else _random_rec_change(rng, seed)
            parent_state = audits[parent]
            running.update(delta(c.recommendation(old_rec, parent_state), c.recommendation(new_rec, parent_state)))
            recs[j] = (parent, new_rec)
    expected = _contribution_of(audits, recs)
    assert expected, "the walk should end with something counted"
    assert all(count >= 0 for count in running.values())
    assert {k: v for k, v in running.items() if v} == dict(expected)


def test_assemble_zero_fills_and_maps_metric_names_to_fields() -> None:
    as_of = datetime(2026, 11, 25, tzinfo=UTC)
    sums = [
        ("audits", Decimal(20)),
        ("audits_completed", 18),
        ("recommendations", 5),
        ("recommendations_implemented", 2),
        ("recommendations_by_status.implemented", 2),
        ("recommendations_by_category.lighting", 5),
        ("not_a_field", 99),
    ]
    answer = assemble(sums, partnerships=4, as_of=as_of, lag_events=3)
    totals = Totals(**answer)
    assert (totals.partnerships, totals.audits, totals.audits_completed) == (4, 20, 18)
    assert (totals.recommendations, totals.recommendations_implemented) == (5, 2)
    assert totals.recommendations_by_status == {s.value: 0 for s in RecommendationStatus} | {"implemented": 2}
    assert totals.recommendations_by_category == {k.value: 0 for k in RecommendationCategory} | {"lighting": 5}
    assert (totals.as_of, totals.lag_events, totals.events) == (as_of, 3, 0)
    assert "not_a_field" not in answer
    assert type(answer["audits"]) is int


def test_assemble_with_no_sums_still_names_every_status_and_category() -> None:
    answer = assemble([], partnerships=0, as_of=None, lag_events=0)
    assert set(answer["recommendations_by_status"]) == {s.value for s in RecommendationStatus}  # type: ignore[arg-type]
    assert set(answer["recommendations_by_category"]) == {k.value for k in RecommendationCategory}  # type: ignore[arg-type]
