"""Random-effects pooling a reviewer accepts with few audits, and multiplicity across outcomes.

Beside the DerSimonian-Laird summary of ``statistics.pool`` (its ``τ²`` and weights are reused, not
recomputed):

- Hartung-Knapp-Sidik-Jonkman CI (Hartung & Knapp 2001; Sidik & Jonkman 2002):
  ``q = Σ w*_i (y_i - μ)² / (k - 1)`` with ``w*_i = 1/(v_i + τ²)``, ``SE = √(q / Σw*)``,
  ``μ ± t(k-1, 0.975)·SE``. IntHout, Ioannidis & Borm (2014) show the plain DL interval is too narrow
  when there are few studies; this one keeps its level.
- Prediction interval for the effect in a new neighbourhood (Higgins, Thompson & Spiegelhalter 2009):
  ``μ ± t(k-2, 0.975)·√(τ² + SE_DL²)``, from three studies on.
- Holm and Benjamini-Hochberg adjustment of p-values across categories and outcome families.
  Benjamini-Hochberg is statsmodels' ``multipletests``; Holm's step-down is the three lines below, because
  statsmodels' Holm branch runs a full ``gc.collect()`` on every call (0.5-0.9 s in a server's heap).
  The tests hold both to statsmodels' answers.
Fewer than ``FEW_STUDIES`` audits raise ``few_studies``: τ² is then barely estimable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import t as student_t
from statsmodels.stats.multitest import multipletests

from services.metrics.evaluation.domain.statistics import CONFIDENCE, pool

FEW_STUDIES = 5
QUANTILE = 1 - (1 - CONFIDENCE) / 2


@dataclass(frozen=True)
class RandomEffects:
    method: str
    reason: str | None
    k: int
    few_studies: bool
    """True below ``FEW_STUDIES`` pooled audits: show the warning with the figures."""
    log: float | None = None
    tau2: float | None = None
    hksj_se: float | None = None
    hksj_ci95: tuple[float, float] | None = None
    """On the odds-ratio scale."""
    hksj_p_value: float | None = None
    prediction_interval95: tuple[float, float] | None = None
    """On the odds-ratio scale; ``None`` below three audits (its t has ``k - 2`` degrees of freedom)."""

    @property
    def odds_ratio(self) -> float | None:
        return None if self.log is None else math.exp(self.log)


def _exp_interval(centre: float, half: float) -> tuple[float, float]:
    return (math.exp(centre - half), math.exp(centre + half))


def random_effects(estimates: Sequence[tuple[float, float]]) -> RandomEffects:
    """HKSJ CI and prediction interval of the DL summary of ``(ln OR, V)`` pairs."""
    k = len(estimates)
    method = "DerSimonian-Laird random effects, Hartung-Knapp-Sidik-Jonkman CI, Higgins prediction interval"
    pooled = pool(estimates)
    if pooled is None or k < 2:
        return RandomEffects(method, "at least two audits are needed to pool", k, True)
    weights = [1 / (v + pooled.tau2) for _, v in estimates]
    mu = pooled.random.log
    q = sum(w * (y - mu) ** 2 for w, (y, _) in zip(weights, estimates, strict=True)) / (k - 1)
    se = math.sqrt(q / sum(weights))
    t_hk = float(student_t.ppf(QUANTILE, k - 1))
    p_value = float(2 * student_t.sf(abs(mu / se), k - 1)) if se > 0 else None
    prediction = None
    if k >= 3:
        half = float(student_t.ppf(QUANTILE, k - 2)) * math.sqrt(pooled.tau2 + pooled.random.se**2)
        prediction = _exp_interval(mu, half)
    return RandomEffects(
        method=method,
        reason=None,
        k=k,
        few_studies=k < FEW_STUDIES,
        log=mu,
        tau2=pooled.tau2,
        hksj_se=se,
        hksj_ci95=_exp_interval(mu, t_hk * se),
        hksj_p_value=p_value,
        prediction_interval95=prediction,
    )


@dataclass(frozen=True)
class Adjusted:
    method: str
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]


def adjust(p_values: Sequence[float], how: Literal["holm", "fdr_bh"] = "holm", alpha: float = 0.05) -> Adjusted:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) over one family of tests."""
    names = {"holm": "Holm step-down (family-wise error)", "fdr_bh": "Benjamini-Hochberg (false discovery rate)"}
    if not p_values:
        return Adjusted(names[how], (), (), ())
    if how == "holm":
        adjusted = _holm(p_values)
    else:
        adjusted = tuple(float(p) for p in multipletests(list(p_values), alpha=alpha, method=how)[1])
    return Adjusted(f"{names[how]} at {alpha:g}", tuple(p_values), adjusted, tuple(p <= alpha for p in adjusted))


def _holm(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm (1979): the i-th smallest p times ``m - i + 1``, made non-decreasing, capped at 1."""
    order = np.argsort(p_values, kind="stable")
    scaled = np.asarray(p_values, dtype=float)[order] * np.arange(len(p_values), 0, -1)
    adjusted = np.empty(len(p_values))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return tuple(float(p) for p in adjusted)
