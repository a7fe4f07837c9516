"""Empirical Bayes before/after: Hauer's formulas worked by hand, and the regression to the mean it removes."""

from __future__ import annotations

import numpy as np
import pytest

from services.metrics.evaluation.domain.estimators.empirical_bayes import (
    empirical_bayes,
    index_of_effectiveness,
    moments_prior,
    site_estimate,
    trend_ratio,
)

REFERENCE = [2, 4, 6, 8, 10]


def test_the_moment_prior_of_a_small_reference() -> None:
    # mean 6; population variance (16+4+0+4+16)/5 = 8; between-neighbourhood variance 8 - 6 = 2; k = 2/6² = 1/18
    prior = moments_prior(REFERENCE, [1] * 5)
    assert not isinstance(prior, str)
    assert prior.rate == 6 and prior.dispersion == pytest.approx(1 / 18)


def test_hauers_steps_worked_by_hand() -> None:
    # Highway Safety Manual (2010) Part B, ch. 9, Appendix 9A, steps 1-12, with Hauer's (1997) correction:
    # P = 6; w = 1/(1 + 6/18) = 0.75; E(m|K=10) = 0.75*6 + 0.25*10 = 7; Var(m|K) = 0.25*7 = 1.75
    # r = 1: pi = 7, Var(pi) = 1.75; L = 5: theta = (5/7)/(1 + 1.75/49) = 20/29 = 0.689655
    # Var(theta) = theta² (1/5 + 1.75/49) / (1 + 1.75/49)² = 0.104513
    eb = empirical_bayes(10, 5, 1, 1, REFERENCE, [1] * 5)
    assert eb.reason is None
    assert eb.weight == pytest.approx(0.75)
    assert eb.expected_before == pytest.approx(7)
    assert eb.expected_after_variance == pytest.approx(1.75)
    assert eb.theta == pytest.approx(20 / 29)
    assert eb.theta_variance == pytest.approx((20 / 29) ** 2 * (1 / 5 + 1.75 / 49) / (1 + 1.75 / 49) ** 2)
    assert eb.theta_variance == pytest.approx(0.104513, abs=1e-6)
    assert eb.effect_percent == pytest.approx(100 * (20 / 29 - 1))
    # naive: 5 after against 10 before is a 50 % fall; most of it is the regression to the mean
    assert eb.naive_effect_percent == pytest.approx(-50)
    assert eb.significant is False


def test_exposure_and_the_reference_trend_scale_the_expectation() -> None:
    # the reference rose by a fifth, so the target was expected to rise with it: pi = 1.2 * 7
    r = trend_ratio(REFERENCE, [int(x * 1.2) for x in (5, 5, 5, 5, 10)], 1.0)
    assert r == pytest.approx(36 / 30)
    eb = empirical_bayes(10, 5, 1, r, REFERENCE, [1] * 5)
    assert eb.expected_after == pytest.approx(1.2 * 7)
    assert eb.expected_after_variance == pytest.approx(1.44 * 1.75)


def test_no_incident_after_is_a_theta_of_zero_without_a_false_ci() -> None:
    eb = empirical_bayes(10, 0, 1, 1, REFERENCE, [1] * 5)
    assert eb.theta == 0 and eb.theta_ci95 is None and eb.significant is None
    assert eb.reason is not None and eb.reason.startswith("no incidents after")


def test_without_overdispersion_the_target_is_the_reference_mean() -> None:
    # every neighbourhood 6 +- Poisson noise only: k = 0, w = 1, E(m|K) is the prior mean whatever K was
    eb = empirical_bayes(9, 6, 1, 1, [6, 6, 6, 6, 6], [1] * 5)
    assert eb.weight == 1 and eb.expected_before == 6


def test_refuses_without_a_reference_population() -> None:
    eb = empirical_bayes(10, 5, 1, 1, [3, 4], [1, 1])
    assert eb.theta is None and eb.reason == "fewer than 5 reference neighbourhoods"
    assert (
        empirical_bayes(10, 5, 1, 1, [0] * 6, [1] * 6).reason == "the reference neighbourhoods had no incidents before"
    )


@pytest.mark.parametrize("prior", ["moments", "negative binomial"])
def test_the_hottest_neighbourhoods_show_no_effect_once_corrected(prior: str) -> None:
    # 200 neighbourhoods, gamma-Poisson (mean 20, k = 0.05), nothing done anywhere; "targeting" picks the top 10.
    rng = np.random.default_rng(13)
    naive, corrected = [], []
    for _ in range(20):
        means = rng.gamma(1 / 0.05, 20 * 0.05, 200)
        before, after = rng.poisson(means), rng.poisson(means)
        for i in np.argsort(before)[-10:]:
            eb = empirical_bayes(int(before[i]), int(after[i]), 1, 1, before.tolist(), [1] * 200, prior)  # type: ignore[arg-type]
            assert eb.theta is not None and eb.naive_ratio is not None
            naive.append(eb.naive_ratio)
            corrected.append(eb.theta)
    print(f"{prior}: naive mean ratio {np.mean(naive):.3f}, EB theta {np.mean(corrected):.3f}")
    assert np.mean(naive) < 0.85  # the regression to the mean looks like a 15 %+ reduction
    assert np.mean(corrected) == pytest.approx(1, abs=0.05)


# Highway Safety Manual (1st ed., 2010), chapter 9, section 9.10 sample problem: 13 rural two-lane road
# segments, 5 years before and 2 after, SPF N = AADT x L x 365e-6 x e^-0.312 per year, k = 0.236 / L.
# Per site: length (mi), AADT before, AADT after, crashes in the 5 years before, in the 2 years after.
# Data as published in the R package cn838/HSM (data/X9_10_seg.RData), whose tests hold the sums to the HSM's.
HSM_9_10 = [
    (1.114, 8858, 8832, 16, 2), (0.88, 11190, 11156, 6, 2), (0.479, 11190, 11156, 4, 2),
    (1.0, 6408, 6388, 16, 1), (0.459, 6402, 6382, 1, 1), (0.5, 6268, 6250, 5, 1),
    (0.987, 6268, 6250, 17, 9), (0.71, 5503, 5061, 12, 0), (0.88, 5523, 5024, 8, 0),
    (0.72, 5523, 5024, 3, 0), (0.78, 5523, 5024, 9, 5), (1.11, 5523, 5024, 9, 6), (0.92, 5523, 5024, 16, 1),
]  # fmt: skip


def test_the_highway_safety_manuals_sample_problem() -> None:
    def spf(aadt: int, length: float, years: int) -> float:
        return years * aadt * length * 365e-6 * np.exp(-0.312)

    sites = []
    for length, aadt_before, aadt_after, before, after in HSM_9_10:
        predicted, predicted_after = spf(aadt_before, length, 5), spf(aadt_after, length, 2)
        sites.append((predicted, site_estimate(predicted, 0.236 / length, before, predicted_after / predicted), after))
    assert sum(p for p, _, _ in sites) == pytest.approx(96.190, abs=5e-4)
    assert sum(s.expected_before for _, s, _ in sites) == pytest.approx(111.807, abs=5e-4)
    pi = sum(s.expected_after for _, s, _ in sites)
    var_pi = sum(s.expected_after_variance for _, s, _ in sites)
    after = sum(a for _, _, a in sites)
    assert (after, round(pi, 3), round(var_pi, 2)) == (30, 42.881, 11.16)  # the package's sums: 30, 11.161
    theta, variance = index_of_effectiveness(after, pi, var_pi)
    assert round(theta, 4) == 0.6954  # OR' = 0.6996 before the small-sample correction
    assert round(100 * (1 - theta), 2) == 30.46  # the safety effectiveness, in percent
    assert round(variance**0.5, 4) == 0.1372  # Hauer's Var(θ); the package's own variance form gives 0.1388
