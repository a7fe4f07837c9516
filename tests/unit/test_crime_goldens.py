"""Published values the statistics must reproduce (references in docs/evaluation.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import fisher_exact, norm

from services.metrics.evaluation.domain import statistics as s


def test_wheeler_and_ratcliffe_2018_worked_example() -> None:
    # Treated 207 -> 110, its control 308 -> 318, displacement area 178 -> 157, its control 150 -> 140:
    # WDD = (110-207) - (318-308) + (157-178) - (140-150) = -97 - 10 - 21 + 10 = -118
    wdd = s.wdd(rb=207, ra=110, cb=308, ca=318, bb=178, ba=157, bcb=150, bca=140)
    assert (wdd.value, wdd.variance) == (-118, 1568)
    assert wdd.z == pytest.approx(-2.98, abs=0.005)  # -118 / sqrt(1568) = -2.9799


def test_the_ptools_readme_wdd_example() -> None:
    # ptools: wdd(control = c(20, 20), treated = c(20, 10)): local WDD -10 (SE 8.4), 90% CI -23.8 to 3.8
    wdd = s.wdd(rb=20, ra=10, cb=20, ca=20)
    assert wdd.value == -10 and math.sqrt(wdd.variance) == pytest.approx(8.3666, abs=1e-4)
    z90 = float(norm.ppf(0.95))
    assert (
        round(-10 - z90 * math.sqrt(wdd.variance), 1) == -23.8 and round(-10 + z90 * math.sqrt(wdd.variance), 1) == 3.8
    )


def test_the_ptools_e_test_values() -> None:
    # ptools README: e_test(6, 2) = 0.1748748; its wdd help: e_test(20, 10) ~ 0.069 (equal exposure)
    six_two = s.poisson_rate_test(6, 1, 2, 1)
    assert six_two is not None and six_two.p_value == pytest.approx(0.1748748, abs=1e-7)
    twenty_ten = s.poisson_rate_test(20, 1, 10, 1)
    assert twenty_ten is not None and twenty_ten.p_value == pytest.approx(0.069, abs=5e-4)
    assert "E-test" in six_two.method


def test_the_stoke_on_trent_street_lighting_odds_ratio() -> None:
    # Painter & Farrington (1999): incidence of crime -43% in the experimental area, -2% in the control;
    # Welsh & Farrington's OR = (1 - 0.02) / (1 - 0.43) = 1.72. Per 100 crimes before in each area:
    odds = s.odds_ratio(100, 57, 100, 98)
    assert round(odds.value, 2) == 1.72


def test_dersimonian_laird_on_the_bcg_vaccine_trials() -> None:
    # Colditz et al. (1994), 13 trials, log relative risks; metafor's rma(method = "DL") gives
    # tau^2 = 0.3088, Q(df = 12) = 152.2330, I^2 = 92.12%, estimate -0.7141 (SE 0.1787); fixed effect -0.4303 (0.0405).
    trials = [
        (4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619), (33, 5036, 47, 5761),
        (180, 1361, 372, 1079), (8, 2537, 10, 619), (505, 87886, 499, 87892), (29, 7470, 45, 7232),
        (17, 1699, 65, 1600), (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825),
    ]  # fmt: skip
    estimates = [
        (math.log(a / (a + b) / (c / (c + d))), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)) for a, b, c, d in trials
    ]
    pooled = s.pool(estimates)
    assert pooled is not None
    assert (round(pooled.tau2, 4), round(pooled.q, 4), round(pooled.i2_percent, 2)) == (0.3088, 152.2330, 92.12)
    assert (round(pooled.random.log, 4), round(pooled.random.se, 4)) == (-0.7141, 0.1787)
    assert (round(pooled.fixed.log, 4), round(pooled.fixed.se, 4)) == (-0.4303, 0.0405)
    assert pooled.df == 12


def test_the_exact_conditional_test_of_the_odds_ratio() -> None:
    # The two-sided Fisher p of scipy, and the mid-p: 2 * min(P(X < a) + P(X = a)/2, P(X > a) + P(X = a)/2).
    exact = s.exact_odds_ratio(8, 2, 30, 30)
    assert exact is not None
    assert exact.p_value == pytest.approx(fisher_exact([[8, 2], [30, 30]]).pvalue)
    assert exact.mid_p < exact.p_value and exact.ci95[0] < exact.estimate < exact.ci95[1]
    assert s.exact_odds_ratio(0, 0, 30, 30) is None


def test_the_dispersion_of_negative_binomial_months_is_found_and_poisson_is_floored_at_one() -> None:
    rng = np.random.default_rng(11)
    calendar = [(m % 12) + 1 for m in range(36)]
    # Variance 3 times the mean (size n, p = 1/3): the Pearson estimate lands near 3.
    spread = s.dispersion(calendar, [rng.negative_binomial(10, 1 / 3, 36), rng.negative_binomial(50, 1 / 3, 36)])
    assert 2.2 < spread.phi < 3.8 and spread.estimate == spread.phi and spread.df == 72 - 15
    poisson = s.dispersion(calendar, [rng.poisson(20, 36), rng.poisson(100, 36)])
    assert poisson.phi == 1.0 and poisson.estimate is not None and poisson.reason is None
    assert s.dispersion(calendar[:6], [[1] * 6, [2] * 6]).reason  # too few months to estimate
