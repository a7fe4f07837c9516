"""Minimum detectable effect and the after months a 20 % reduction needs, checked by hand and by the power function."""

from __future__ import annotations

import math

import pytest

from services.metrics.evaluation.domain.estimators.power import power, power_of

K = 1.959963984540054 + 0.8416212335729143  # z(0.975) + z(0.80)


def test_minimum_detectable_reduction_of_a_hundred_against_a_hundred() -> None:
    # a = c = 100 over 12 months, 12 after: R* solves -ln R = K * sqrt(1/100 + 1/(100 R) + 1/100 + 1/100)
    # R* = 0.539439: V = 0.03 + 1/53.9439 = 0.048538, K * sqrt(V) = 0.61723 = -ln 0.539439
    result = power(100, 100, 12, 12)
    assert result.reason is None and result.minimum_detectable_reduction_percent is not None
    ratio = 1 - result.minimum_detectable_reduction_percent / 100
    assert ratio == pytest.approx(0.539439, abs=1e-5)
    assert -math.log(ratio) == pytest.approx(K * math.sqrt(0.03 + 1 / (100 * ratio)), abs=1e-9)
    assert power_of(100, 100, ratio, 1, 1) == pytest.approx(0.80, abs=1e-3)  # the other tail adds ~0


def test_overdispersion_raises_the_minimum_detectable_effect() -> None:
    plain, dispersed = power(100, 100, 12, 12), power(100, 100, 12, 12, dispersion=2)
    assert plain.minimum_detectable_reduction_percent is not None
    assert dispersed.minimum_detectable_reduction_percent is not None
    assert dispersed.minimum_detectable_reduction_percent > plain.minimum_detectable_reduction_percent + 10


def test_after_months_for_a_twenty_percent_reduction() -> None:
    # a = 1000, c = 3000 over 12 months: room = (ln 0.8 / K)^2 - 1/1000 - 1/3000 = 0.0050105
    # months >= 12 * (1/800 + 1/3000) / 0.0050105 = 3.79 -> 4; with 3 observed, 1 more
    result = power(1000, 3000, 12, 3)
    assert result.after_months_needed == 4 and result.more_after_months_needed == 1
    assert power_of(1000, 3000, 0.8, 4 / 12, 1) >= 0.80 > power_of(1000, 3000, 0.8, 3 / 12, 1)
    assert result.power_at_planning_reduction == pytest.approx(power_of(1000, 3000, 0.8, 3 / 12, 1))


def test_small_before_counts_cannot_detect_a_twenty_percent_fall_at_any_length() -> None:
    result = power(100, 100, 12, 12)
    assert result.after_months_needed is None
    assert result.months_reason == "the before counts are too small for a 20 % reduction"


def test_refuses_what_it_cannot_answer() -> None:
    assert (
        power(0, 100, 12, 12).reason
        == "no incidents before in the target or the control: nothing to detect a fall from"
    )
    tiny = power(3, 5, 12, 12)
    assert tiny.minimum_detectable_reduction_percent is None
    assert tiny.reason == "no reduction, however large, reaches that power with these counts"
