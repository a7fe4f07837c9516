"""Pooling: the BCG vaccine trials (Colditz et al. 1994; metafor's ``dat.bcg``) and the Benjamini-Hochberg example."""

from __future__ import annotations

import math

import pytest
from scipy.stats import t
from statsmodels.stats.multitest import multipletests

from services.metrics.evaluation.domain.estimators.pooling import adjust, random_effects
from services.metrics.evaluation.domain.statistics import pool

BCG = [
    (4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619), (33, 5036, 47, 5761),
    (180, 1361, 372, 1079), (8, 2537, 10, 619), (505, 87886, 499, 87892), (29, 7470, 45, 7232),
    (17, 1699, 65, 1600), (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825),
]  # fmt: skip
"""``tpos, tneg, cpos, cneg`` of the 13 trials."""


def _log_risk_ratios() -> list[tuple[float, float]]:
    out = []
    for tp, tn, cp, cn in BCG:
        y = math.log(tp / (tp + tn)) - math.log(cp / (cp + cn))
        out.append((y, 1 / tp - 1 / (tp + tn) + 1 / cp - 1 / (cp + cn)))
    return out


def test_dersimonian_laird_reproduces_metafor_on_the_bcg_trials() -> None:
    # metafor: rma(yi, vi, data = escalc("RR", ..., data = dat.bcg), method = "DL")
    # tau^2 = 0.3088, I^2 = 92.12 %, Q(df = 12) = 152.2330, estimate -0.7141, se 0.1787
    pooled = pool(_log_risk_ratios())
    assert pooled is not None
    assert pooled.q == pytest.approx(152.2330, abs=1e-4)
    assert pooled.tau2 == pytest.approx(0.3088, abs=1e-4)
    assert pooled.i2_percent == pytest.approx(92.12, abs=0.01)
    assert pooled.random.log == pytest.approx(-0.7141, abs=1e-4)
    assert pooled.random.se == pytest.approx(0.1787, abs=1e-4)


def test_hartung_knapp_interval_of_the_bcg_trials() -> None:
    # metafor rma(..., method = "DL", test = "knha"): se 0.1807, CI -0.7141 -/+ t(12) * 0.1807 = [-1.1078, -0.3204];
    # the same se as statsmodels combine_effects(..., method_re="dl") "random effect wls" (0.180697)
    summary = random_effects(_log_risk_ratios())
    assert summary.hksj_se == pytest.approx(0.180697, abs=1e-6)
    assert summary.hksj_ci95 is not None
    low, high = (math.log(x) for x in summary.hksj_ci95)
    assert (low, high) == pytest.approx((-1.1078, -0.3204), abs=1e-4)
    assert not summary.few_studies


def test_prediction_interval_is_wider_than_the_ci() -> None:
    # Higgins et al. 2009: -0.7141 -/+ t(11) * sqrt(0.3088 + 0.1787^2) = [-1.9988, 0.5706]: a new place may see harm
    summary = random_effects(_log_risk_ratios())
    assert summary.prediction_interval95 is not None
    low, high = (math.log(x) for x in summary.prediction_interval95)
    half = float(t.ppf(0.975, 11)) * math.sqrt(0.30876026 + 0.17874209**2)
    assert (low, high) == pytest.approx((-0.714117 - half, -0.714117 + half), abs=1e-5)
    assert (low, high) == pytest.approx((-1.9988, 0.5706), abs=1e-4)


def test_few_audits_carry_the_warning_and_a_wider_interval() -> None:
    three = [(-0.5, 0.04), (-0.2, 0.05), (-0.4, 0.03)]
    summary = random_effects(three)
    assert summary.few_studies and summary.k == 3
    assert summary.prediction_interval95 is not None
    pooled = pool(three)
    assert pooled is not None and summary.hksj_ci95 is not None
    assert summary.hksj_ci95[0] < pooled.random.ci95[0]  # t(2) = 4.30 widens it beyond 1.96
    assert random_effects([(-0.5, 0.04)]).reason == "at least two audits are needed to pool"
    assert random_effects(three[:2]).prediction_interval95 is None


BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
           0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip
"""The 15 p-values of Benjamini & Hochberg (1995), section 4: BH rejects 4 at 0.05, the Bonferroni-type rule 3."""


def test_benjamini_hochberg_rejects_four_of_the_published_example() -> None:
    assert sum(adjust(BH_1995, "fdr_bh").rejected) == 4


def test_holm_rejects_three() -> None:
    adjusted = adjust(BH_1995, "holm")
    assert adjusted.rejected[:4] == (True, True, True, False) and sum(adjusted.rejected) == 3
    assert adjusted.adjusted[0] == pytest.approx(0.0015)  # 15 * 0.0001
    assert adjust([]).rejected == ()


@pytest.mark.parametrize("how", ["holm", "fdr_bh"])
def test_adjusted_p_values_are_statsmodels_own(how: str) -> None:
    shuffled = [0.04, 0.2, 0.001, 0.03, 0.5, 0.01, 0.9, 0.03]
    reject, expected, _, _ = multipletests(shuffled, alpha=0.05, method=how)
    adjusted = adjust(shuffled, how)  # type: ignore[arg-type]
    assert adjusted.adjusted == pytest.approx(tuple(expected))
    assert adjusted.rejected == tuple(bool(r) for r in reject)
