"""Negative binomial GLM with season, trend and area effects, and its event-study pre-trend check."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from services.metrics.evaluation.domain.estimators.seasonal_glm import monthly_frame, seasonal_glm

MONTHS, PRE = 48, 36
START = date(2022, 1, 1)


def _simulate(seed: int, effect: float = 1.0, pretrend: float = 0.0, controls: int = 5, alpha: float = 0.1) -> tuple:  # type: ignore[type-arg]
    """Monthly NB2 counts with a winter-summer season, a slow city-wide decline and per-area levels."""
    rng = np.random.default_rng(seed)
    season = 1 + 0.3 * np.sin(np.arange(MONTHS) * 2 * np.pi / 12)
    mu = np.outer(rng.uniform(15, 40, controls + 1), season * np.exp(-0.005 * np.arange(MONTHS)))
    mu[0, PRE:] *= effect
    mu[0, :PRE] *= np.exp(pretrend * (np.arange(PRE) - PRE))
    y = rng.poisson(mu * rng.gamma(1 / alpha, alpha, mu.shape))
    return y[0].tolist(), y[1:].tolist()


def test_the_frame_knows_the_calendar() -> None:
    frame = monthly_frame([1] * 14, [[2] * 14], date(2022, 11, 1), 12)
    assert frame["moy"].tolist()[:3] == [10, 11, 0] and frame["year"].tolist()[:3] == [2022, 2022, 2023]
    assert frame["after"].sum() == 4  # two after months for each of the two areas


def test_months_left_out_between_the_windows_keep_the_after_months_calendar() -> None:
    # 12 months Jan..Dec 2022, then March 2023 onwards: January and February 2023 were the implementation.
    frame = monthly_frame([1] * 15, [[2] * 15], date(2022, 1, 1), 12, skipped=2)
    target = frame[frame["area"] == 0]
    assert list(target["moy"])[11:] == [11, 2, 3, 4] and list(target["year"])[11:] == [2022, 2023, 2023, 2023]


def test_recovers_a_forty_percent_reduction_despite_season_and_trend() -> None:
    target, controls = _simulate(3, effect=0.6)
    result = seasonal_glm(target, controls, START, PRE)
    assert result.reason is None and result.ci95 is not None and result.rate_ratio is not None
    assert result.ci95[0] < 0.6 < result.ci95[1] and result.ci95[1] < 1
    assert result.dispersion is not None and 0 < result.dispersion < 0.3
    assert result.leads is not None and len(result.leads) == 11  # twelve quarters before, the last one the reference


def test_a_target_already_falling_before_fails_the_pre_trend_check() -> None:
    # the target rose 3 % a month relative to its controls through the pre-period: not a parallel comparison
    target, controls = _simulate(4, pretrend=0.03)
    result = seasonal_glm(target, controls, START, PRE)
    assert result.pretrend_p_value is not None and result.pretrend_p_value < 0.01
    parallel = seasonal_glm(*_simulate(4), START, PRE)
    assert parallel.pretrend_p_value is not None and parallel.pretrend_p_value > 0.05


def test_no_effect_is_covered_at_the_stated_level() -> None:
    covered = 0
    for seed in range(100):
        result = seasonal_glm(*_simulate(100 + seed), START, PRE, pretrend=False)
        assert result.ci95 is not None
        covered += result.ci95[0] <= 1 <= result.ci95[1]
    print(f"coverage of a null effect: {covered}/100")
    assert covered >= 90  # 95 % nominal; the Cameron-Trivedi alpha alone gave about 85 %


def test_many_controls_are_summed_with_the_same_estimate() -> None:
    target, controls = _simulate(5, controls=12, alpha=0.01)
    many = seasonal_glm(target, controls, START, PRE)
    one = seasonal_glm(target, [np.sum(controls, axis=0).tolist()], START, PRE)
    assert "the 12 control series summed into one" in many.method
    assert many.rate_ratio == pytest.approx(one.rate_ratio)


@pytest.mark.parametrize(
    ("target", "controls", "pre", "reason"),
    [
        ([5] * 48, [], 36, "no control series"),
        ([5] * 48, [[5] * 40], 36, "every control series must cover the target's months"),
        ([5] * 48, [[5] * 48], 6, "fewer than 12 pre-period months"),
        ([5] * 48, [[5] * 48], 46, "fewer than 3 after months"),
        ([5] * 36 + [0] * 12, [[5] * 48], 36,
         "the target had no incidents in a whole window: a rate ratio of 0 or infinity is not an estimate"),
    ],
)  # fmt: skip
def test_refusals(target: list[int], controls: list[list[int]], pre: int, reason: str) -> None:
    result = seasonal_glm(target, controls, START, pre)
    assert result.rate_ratio is None and result.reason == reason
