"""The recommendation lifecycle as residents and partners see it."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest

from services.audits.core.domain.lifecycle import (
    TransitionRefused,
    allowed_next,
    check_transition,
    implemented_on_after,
)
from shared.contracts.vocabulary import RecommendationStatus as S

TODAY = date(2026, 5, 15)
ALL = list(S)

# Written out by hand from api-contract.md, not derived from the module under test.
LEGAL: dict[S, set[S]] = {
    S.proposed: {S.accepted, S.declined, S.deferred},
    S.accepted: {S.in_progress, S.declined, S.deferred},
    S.in_progress: {S.implemented, S.declined, S.deferred},
    S.deferred: {S.accepted, S.declined},
    S.implemented: set(),
    S.declined: set(),
}


def step(current: S, to: S, on: date = TODAY, last_on: date | None = None) -> None:
    check_transition(current, to, on, last_on, TODAY)


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("to", ALL)
def test_every_pair_of_statuses_follows_the_table(current: S, to: S) -> None:
    if to in LEGAL[current]:
        step(current, to)
    else:
        with pytest.raises(TransitionRefused) as refused:
            step(current, to)
        assert refused.value.field == "to"
        assert str(current) in str(refused.value) and str(to) in str(refused.value)


@pytest.mark.parametrize("current", ALL)
def test_allowed_next_matches_the_table(current: S) -> None:
    assert allowed_next(current) == LEGAL[current]


def test_the_happy_path_reaches_implemented() -> None:
    path = [S.proposed, S.accepted, S.in_progress, S.implemented]
    for days, (current, to) in enumerate(pairwise(path)):
        step(current, to, on=TODAY - timedelta(days=2 - days), last_on=TODAY - timedelta(days=3 - days))


@pytest.mark.parametrize("current", [S.proposed, S.accepted, S.in_progress, S.deferred])
def test_an_open_recommendation_can_be_declined(current: S) -> None:
    step(current, S.declined)


@pytest.mark.parametrize("current", [S.proposed, S.accepted, S.in_progress])
def test_an_open_recommendation_can_be_deferred(current: S) -> None:
    step(current, S.deferred)


def test_a_deferred_recommendation_reopens_as_accepted() -> None:
    step(S.deferred, S.accepted)


@pytest.mark.parametrize("final", [S.implemented, S.declined])
@pytest.mark.parametrize("to", ALL)
def test_final_statuses_refuse_every_step(final: S, to: S) -> None:
    with pytest.raises(TransitionRefused, match="closed"):
        step(final, to)


@pytest.mark.parametrize("to", [S.in_progress, S.implemented])
def test_skipping_steps_is_refused(to: S) -> None:
    with pytest.raises(TransitionRefused) as refused:
        step(S.proposed, to)
    assert refused.value.field == "to"
    assert "accepted" in str(refused.value)  # the message tells what is allowed instead


def test_today_is_accepted_but_tomorrow_is_refused_on_the_date() -> None:
    step(S.proposed, S.accepted, on=TODAY)
    with pytest.raises(TransitionRefused, match="future") as refused:
        step(S.proposed, S.accepted, on=TODAY + timedelta(days=1))
    assert refused.value.field == "on"


def test_a_date_before_the_previous_step_is_refused_on_the_date() -> None:
    last_on = date(2026, 3, 10)
    step(S.accepted, S.in_progress, on=last_on, last_on=last_on)
    with pytest.raises(TransitionRefused, match="before the previous step") as refused:
        step(S.accepted, S.in_progress, on=last_on - timedelta(days=1), last_on=last_on)
    assert refused.value.field == "on"


@pytest.mark.parametrize("to", ALL)
def test_implemented_on_is_set_only_by_implementing(to: S) -> None:
    on = date(2026, 4, 1)
    assert implemented_on_after(to, on) == (on if to is S.implemented else None)
