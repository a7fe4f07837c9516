"""The rules that keep a benchmark figure from flattering: when it may be met, how rates and visibility count."""

from __future__ import annotations

import asyncio
import math

import pytest

from bench.common import Figure, percentile
from bench.load import OK, Answer, Run, failure
from bench.whole_platform import highest_passed, rates_to_try, visibility


def figure(**given: object) -> Figure:
    fields: dict[str, object] = {"name": "f", "value": 10.0, "unit": "ms", "target_met": True, "samples": 1000}
    return Figure(**(fields | given))  # type: ignore[arg-type]


def test_a_sound_figure_is_what_its_target_says() -> None:
    assert figure().met is True
    assert figure(target_met=False).met is False
    assert figure(target_met=None).met is None


@pytest.mark.parametrize(
    "flawed",
    [
        {"samples": 0},
        {"value": 0.0},
        {"value": math.inf},
        {"value": math.nan},
        {"failures": {"reset": 2}},
        {"offered": 100.0, "achieved": 94.0},
        {"offered": 100.0, "achieved": None},
    ],
)
def test_a_flawed_measurement_is_never_met(flawed: dict[str, object]) -> None:
    assert figure(**flawed).met is False
    assert figure(target_met=None, **flawed).met is False
    assert figure(**flawed).row()["flaws"]


def test_small_failures_and_shortfalls_are_tolerated_up_to_the_stated_shares() -> None:
    assert figure(samples=1000, failures={"timeout": 1}, offered=100.0, achieved=95.0).met is True


def test_a_failed_group_is_not_met() -> None:
    assert Figure("api: FAILED", 0, "", note="RuntimeError").met is False


def test_rows_carry_the_verdict_and_no_infinity() -> None:
    row = figure(value=math.inf).row()
    assert row["value"] is None and row["met"] is False and row["target_met"] is True


def test_percentile_is_a_measured_value_at_or_above_the_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([1.0, 1000.0], 99) == 1000
    assert math.isnan(percentile([], 99))


def test_achieved_rate_is_over_the_real_elapsed_time_until_the_last_answer() -> None:
    run = Run(start=100.0)
    run.answers = [Answer("w", 100.0 + i / 10, 104.0 + i / 10, OK) for i in range(10)]
    run.answers.append(Answer("w", 101.0, 109.0, "reset"))
    assert run.elapsed == 9.0
    assert run.achieved == pytest.approx(10 / 9)
    assert run.failures() == {"reset": 1}


def test_latency_counts_from_the_due_time() -> None:
    assert Answer("w", due=1.0, answered=3.5, outcome=OK).ms == 2500


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (TimeoutError(), "timeout"),
        (ConnectionRefusedError(), "refused"),
        (ConnectionResetError(), "reset"),
        (asyncio.IncompleteReadError(b"", 10), "reset"),
        (ValueError(), "error"),
    ],
)
def test_failures_are_named_by_cause(exc: BaseException, outcome: str) -> None:
    assert failure(exc) == outcome


def test_a_write_is_visible_at_the_first_poll_counting_it() -> None:
    seen = [(1.00, 0), (1.02, 1), (1.05, 3)]
    assert visibility([1.0, 1.01, 1.04], seen) == pytest.approx([20.0, 40.0, 10.0])


def test_a_write_never_counted_is_never_visible_and_a_dip_in_the_counts_is_ignored() -> None:
    seen = [(2.0, 1), (3.0, 0)]
    assert visibility([1.0, 1.5], seen) == [pytest.approx(1000.0), math.inf]


def _stepped(limit: float, flaky: frozenset[float] = frozenset()) -> list[tuple[float, bool]]:
    """The steps a platform run takes against a platform that passes every rate up to ``limit`` but those in
    ``flaky``."""
    done: list[tuple[float, bool]] = []
    for rate in rates_to_try(lambda: list(done)):
        done.append((rate, rate <= limit and rate not in flaky))
    return done


def test_the_steps_double_to_the_first_failure_then_narrow_the_interval_below_it() -> None:
    assert _stepped(250) == [(10, True), (20, True), (40, True), (80, True), (160, True), (320, False),
                             (240, True), (280, False)]  # fmt: skip
    assert _stepped(5) == [(10, False)]


def test_a_rate_that_failed_caps_the_figure_even_when_a_higher_one_passed() -> None:
    steps = _stepped(1000, flaky=frozenset({320}))
    assert steps[-3:] == [(320, False), (240, True), (280, True)]
    assert highest_passed(steps) == 280
    assert highest_passed([(10, True), (20, False), (40, True)]) == 10
    assert highest_passed([(10, False)]) is None
