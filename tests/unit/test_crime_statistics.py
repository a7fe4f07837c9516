"""Every formula of before-after.md against values worked out by hand (the arithmetic is in the tests)."""

from __future__ import annotations

import math

import pytest

from services.metrics.evaluation.domain import statistics as s

Z = 1.959963984540054  # the 97.5% normal quantile, to 16 digits


def test_the_quantile_comes_from_scipy() -> None:
    assert s.Z == pytest.approx(Z, abs=1e-15)


def test_odds_ratio_of_the_contract_example() -> None:
    # a=40, b=25, c=100, d=95: OR = (40*95)/(25*100) = 3800/2500 = 1.52
    odds = s.odds_ratio(40, 25, 100, 95)
    assert odds.value == pytest.approx(1.52)
    # V = 1/40 + 1/25 + 1/100 + 1/95 = 0.025 + 0.04 + 0.01 + 0.0105263 = 0.0855263
    assert odds.variance == pytest.approx(0.025 + 0.04 + 0.01 + 1 / 95)
    half = Z * math.sqrt(0.025 + 0.04 + 0.01 + 1 / 95)  # 0.573189
    assert odds.ci95 == pytest.approx((math.exp(math.log(1.52) - half), math.exp(math.log(1.52) + half)))
    assert odds.ci95 == pytest.approx((0.85686, 2.69635), abs=1e-5)
    assert not odds.significant and not odds.corrected
    # 100 * (1/1.52 - 1) = -34.2105
    assert odds.relative_effect_percent == pytest.approx(-34.2105, abs=1e-4)
    assert s.percent_change(40, 25) == -37.5  # 100 * (25 - 40) / 40


def test_a_zero_cell_adds_a_half_to_every_cell() -> None:
    # a=0 -> 0.5, 5.5, 10.5, 10.5: OR = 0.5*10.5 / (5.5*10.5) = 1/11
    odds = s.odds_ratio(0, 5, 10, 10)
    assert odds.corrected
    assert odds.value == pytest.approx(1 / 11)
    assert odds.variance == pytest.approx(1 / 0.5 + 1 / 5.5 + 2 / 10.5)  # 2.372294
    assert s.percent_change(0, 5) is None


def test_significance_is_the_ci_excluding_one() -> None:
    # a=100, b=50, c=100, d=100: OR = 2, V = 1/100 + 1/50 + 2/100 = 0.05, CI exp(ln 2 -/+ 1.96*0.2236) = [1.29, 3.10]
    odds = s.odds_ratio(100, 50, 100, 100)
    assert odds.ci95[0] == pytest.approx(math.exp(math.log(2) - Z * math.sqrt(0.05)))
    assert odds.ci95[0] > 1 and odds.significant
    assert odds.relative_effect_percent == -50.0


def test_wdq_of_the_contract_counts() -> None:
    # (Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb) = (11/95 - 12/100) / (25/95 - 40/100); times 9500: (1100-1140)/(2500-3800)
    quotient = s.wdq(rb=40, ra=25, cb=100, ca=95, bb=12, ba=11)
    assert quotient.value == pytest.approx(40 / 1300)
    assert quotient.interpretation == "diffusion of benefits"


def test_an_unchanged_buffer_is_zero_not_minus_zero() -> None:
    # (0/100 - 0/100) / (5/100 - 10/100) = 0 / -0.05 = -0.0 in floating point
    quotient = s.wdq(rb=10, ra=5, cb=100, ca=100, bb=0, ba=0)
    assert str(quotient.value) == "0.0" and quotient.interpretation == "no change in the buffer"


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ((40, 50, 100, 95, 12, 11), "did not improve"),  # 50/95 - 40/100 > 0
        ((40, 38, 100, 95, 12, 11), "did not improve"),  # 38/95 - 40/100 = 0 exactly
        ((40, 25, 100, 0, 12, 11), "divides by zero"),
        ((40, 25, 100, 95, None, None), "no buffer"),
    ],
)
def test_wdq_is_null_with_a_reason_where_undefined(counts: tuple, reason: str) -> None:  # type: ignore[type-arg]
    quotient = s.wdq(*counts)
    assert quotient.value is None and quotient.reason and reason in quotient.reason


@pytest.mark.parametrize(
    ("value", "meaning"),
    [
        (1.1, "diffusion of benefits larger than the direct effect"),
        (0.3, "diffusion of benefits"),
        (0.0, "no change in the buffer"),
        (-0.5, "some displacement, less than the direct effect"),
        (-1.0, "some displacement, less than the direct effect"),
        (-2.0, "displacement larger than the direct effect"),
    ],
)
def test_wdq_bands(value: float, meaning: str) -> None:
    assert s.interpret_wdq(value) == meaning


def test_wdd_with_and_without_buffers() -> None:
    # (25-40) - (95-100) + (11-12) - (29-30) = -15 + 5 - 1 + 1 = -10; Var = 25+40+95+100+11+12+29+30 = 342
    with_buffer = s.wdd(40, 25, 100, 95, 12, 11, 30, 29)
    assert (with_buffer.value, with_buffer.variance) == (-10, 342)
    assert with_buffer.z == pytest.approx(-10 / math.sqrt(342))  # -0.5407
    assert with_buffer.ci95 == pytest.approx((-10 - Z * math.sqrt(342), -10 + Z * math.sqrt(342)))
    assert not with_buffer.significant
    # Without a buffer both buffer terms go: -15 + 5 = -10, Var = 25+40+95+100 = 260
    alone = s.wdd(40, 25, 100, 95)
    assert (alone.value, alone.variance) == (-10, 260) and alone.z == pytest.approx(-10 / math.sqrt(260))
    empty = s.wdd(0, 0, 0, 0)
    assert empty.z is None and empty.p_value is None and not empty.significant


def test_pooling_without_heterogeneity_gives_the_fixed_effect_twice() -> None:
    # y = ln 2, ln 1; V = 0.25, 0.5 -> w = 4, 2; mean = 4 ln2 / 6; SE = sqrt(1/6)
    pooled = s.pool([(math.log(2), 0.25), (0.0, 0.5)])
    assert pooled is not None
    mean = 4 * math.log(2) / 6
    assert pooled.fixed.log == pytest.approx(mean) and pooled.fixed.se == pytest.approx(math.sqrt(1 / 6))
    # Q = 4 (ln2 - mean)^2 + 2 (0 - mean)^2 = 0.6406 < df = 1, so tau^2 = 0
    assert pooled.q == pytest.approx(4 * (math.log(2) - mean) ** 2 + 2 * mean**2)
    assert pooled.tau2 == 0 and pooled.random.log == pytest.approx(pooled.fixed.log)
    assert pooled.i2_percent == 0


def test_dersimonian_laird_with_heterogeneity() -> None:
    # y = ln4, ln0.5, 0; V = 0.1, 0.1, 0.2 -> w = 10, 10, 5, sum 25, sum w^2 = 225
    studies = [(math.log(4), 0.1), (math.log(0.5), 0.1), (0.0, 0.2)]
    pooled = s.pool(studies)
    assert pooled is not None
    fixed = (10 * math.log(4) + 10 * math.log(0.5)) / 25  # 0.277259
    q = 10 * (math.log(4) - fixed) ** 2 + 10 * (math.log(0.5) - fixed) ** 2 + 5 * fixed**2  # 22.1008
    tau2 = (q - 2) / (25 - 225 / 25)  # 1.2563
    weights = [1 / (0.1 + tau2), 1 / (0.1 + tau2), 1 / (0.2 + tau2)]
    random = (weights[0] * math.log(4) + weights[1] * math.log(0.5)) / sum(weights)  # 0.236462
    assert pooled.fixed.log == pytest.approx(fixed)
    assert (pooled.q, pooled.df, pooled.tau2) == (pytest.approx(q), 2, pytest.approx(tau2))
    assert pooled.random.log == pytest.approx(random) and pooled.random.se == pytest.approx(math.sqrt(1 / sum(weights)))
    assert pooled.i2_percent == pytest.approx((q - 2) / q * 100)
    assert pooled.q_p_value == pytest.approx(math.exp(-q / 2))  # chi-square with 2 df: P(X > q) = e^(-q/2)
    assert s.pool([]) is None
