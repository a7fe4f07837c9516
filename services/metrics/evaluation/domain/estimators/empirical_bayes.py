"""Empirical Bayes before/after (Hauer 1997), correcting the regression to the mean of targeted neighbourhoods.

The reference population is every neighbourhood of the municipality with its before count ``x_i`` over
exposure ``n_i`` (person-years, km², or simply window length). Their counts give a gamma prior for the
expected count of a neighbourhood like the target: mean ``μ·n`` and variance ``k·(μ·n)²``. Two ways to fit it:

- ``"moments"``: Marshall (1991), ``μ = Σx/Σn``, ``s² = Σ n_i (x_i/n_i - μ)² / Σn``,
  ``σ² = s² - μ/n̄``, ``k = σ²/μ²`` (``k = 0`` when the reference shows no over-dispersion);
- ``"negative binomial"``: an intercept-only NB2 regression with ``log n`` as offset (statsmodels), whose
  ``alpha`` is ``k``.

Then, with the target's predicted before count ``P = μ·n_t`` and observed ``K``
(Highway Safety Manual, Part B, ch. 9, Appendix 9A, steps 1-12; Hauer 1997, ch. 6-8):

- weight ``w = 1 / (1 + k·P)``; ``E(m|K) = w·P + (1 - w)·K``; ``Var(m|K) = (1 - w)·E(m|K)``;
- ``π = r·E(m|K)``, ``Var(π) = r²·Var(m|K)`` where ``r`` turns a before window into the after window
  (ratio of exposures, times the reference trend when the reference's after counts are given);
- index of effectiveness with Hauer's small-sample correction, for ``L`` incidents after:
  ``θ = (L/π) / (1 + Var(π)/π²)``,
  ``Var(θ) = θ²·(1/L + Var(π)/π²) / (1 + Var(π)/π²)²``, 95 % CI ``θ ± 1.96·√Var(θ)``.

``θ < 1`` is a reduction; ``100·(θ - 1)`` is the effect in percent. The naive ratio ``L / (r·K)`` is
given beside it: the difference between the two is the regression to the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import statsmodels.api as sm

from services.metrics.evaluation.domain.statistics import Z

MIN_REFERENCE = 5
"""Fewer neighbourhoods than this cannot say how much neighbourhoods differ."""
Prior = Literal["moments", "negative binomial"]
NOTHING_AFTER = "no incidents after: theta is 0 and its normal-approximation CI has no width; read the counts"


@dataclass(frozen=True)
class GammaPrior:
    rate: float
    """``μ``: incidents per unit of exposure in the reference population."""
    dispersion: float
    """``k``: the prior variance of a neighbourhood's expected count is ``k·(μ·n)²``."""
    method: str


@dataclass(frozen=True)
class EmpiricalBayes:
    method: str
    reason: str | None
    observed_before: int
    observed_after: int
    prior: GammaPrior | None = None
    predicted_before: float | None = None
    weight: float | None = None
    expected_before: float | None = None
    """``E(m|K)``: what the target's before window would show on average, regression to the mean removed."""
    expected_after: float | None = None
    """``π``: the after count expected had nothing been done."""
    expected_after_variance: float | None = None
    theta: float | None = None
    theta_variance: float | None = None
    theta_ci95: tuple[float, float] | None = None
    naive_ratio: float | None = None
    """``L / (r·K)``: the same comparison without the correction, for the reader to see the difference."""

    @property
    def effect_percent(self) -> float | None:
        return None if self.theta is None else 100 * (self.theta - 1)

    @property
    def naive_effect_percent(self) -> float | None:
        return None if self.naive_ratio is None else 100 * (self.naive_ratio - 1)

    @property
    def significant(self) -> bool | None:
        if self.theta_ci95 is None:
            return None
        return self.theta_ci95[1] < 1 or self.theta_ci95[0] > 1


def moments_prior(counts: Sequence[int], exposures: Sequence[float]) -> GammaPrior | str:
    """Marshall's (1991) global moment estimator; a string says why there is no prior."""
    x, n = np.asarray(counts, dtype=float), np.asarray(exposures, dtype=float)
    if x.sum() == 0:
        return "the reference neighbourhoods had no incidents before"
    rate = float(x.sum() / n.sum())
    spread = float(np.sum(n * (x / n - rate) ** 2) / n.sum())
    between = max(0.0, spread - rate / float(n.mean()))
    return GammaPrior(rate, between / rate**2, "method of moments (Marshall 1991)")


def negative_binomial_prior(counts: Sequence[int], exposures: Sequence[float]) -> GammaPrior | str:
    """Maximum likelihood NB2 with an intercept and ``log(exposure)`` offset (statsmodels)."""
    x, n = np.asarray(counts, dtype=float), np.asarray(exposures, dtype=float)
    if x.sum() == 0:
        return "the reference neighbourhoods had no incidents before"
    model = sm.NegativeBinomial(x, np.ones((len(x), 1)), offset=np.log(n), loglike_method="nb2")
    fit = model.fit(disp=0, maxiter=200)
    if not fit.mle_retvals.get("converged", False):
        return "the negative binomial fit of the reference population did not converge"
    log_rate, alpha = fit.params
    return GammaPrior(math.exp(float(log_rate)), max(0.0, float(alpha)), "negative binomial NB2 (maximum likelihood)")


def _refusal(reference_counts: Sequence[int], reference_exposures: Sequence[float], exposure: float) -> str | None:
    if len(reference_counts) != len(reference_exposures):
        return "reference counts and exposures differ in length"
    if len(reference_counts) < MIN_REFERENCE:
        return f"fewer than {MIN_REFERENCE} reference neighbourhoods"
    if exposure <= 0 or any(n <= 0 for n in reference_exposures):
        return "every exposure must be positive"
    return None


@dataclass(frozen=True)
class SiteEstimate:
    """Steps 1-9 of HSM Appendix 9A for one site: its weight, ``E(m|K)``, ``π`` and ``Var(π)``."""

    weight: float
    expected_before: float
    expected_after: float
    expected_after_variance: float


def site_estimate(predicted: float, dispersion: float, before: int, after_ratio: float) -> SiteEstimate:
    """``predicted``: ``P``, the before count a site like this shows on average; ``dispersion``: ``k``."""
    weight = 1 / (1 + dispersion * predicted)
    expected = weight * predicted + (1 - weight) * before
    return SiteEstimate(weight, expected, after_ratio * expected, after_ratio**2 * (1 - weight) * expected)


def index_of_effectiveness(after: int, pi: float, var_pi: float) -> tuple[float, float]:
    """``θ`` and ``Var(θ)`` with Hauer's small-sample correction, for one site or summed over a group."""
    relative = var_pi / pi**2
    theta = (after / pi) / (1 + relative)
    # θ²/L written as L/(π(1+rel))²: the same figure, defined when no incident happened after.
    variance = (after / (pi * (1 + relative)) ** 2 + theta**2 * relative) / (1 + relative) ** 2
    return theta, variance


def empirical_bayes(
    before: int, after: int, exposure: float, after_ratio: float,
    reference_counts: Sequence[int], reference_exposures: Sequence[float], prior: Prior = "moments",
) -> EmpiricalBayes:  # fmt: skip
    """EB estimate for one target: ``before``/``after`` counts, its before ``exposure``, ``r = after_ratio``."""
    refusal = _refusal(reference_counts, reference_exposures, exposure) or (
        "the after window must be longer than zero" if after_ratio <= 0 else None
    )
    method = f"Empirical Bayes before/after (Hauer 1997), {prior} prior"
    if refusal:
        return EmpiricalBayes(method, refusal, before, after)
    fitted = (moments_prior if prior == "moments" else negative_binomial_prior)(reference_counts, reference_exposures)
    if isinstance(fitted, str):
        return EmpiricalBayes(method, fitted, before, after)
    predicted = fitted.rate * exposure
    site = site_estimate(predicted, fitted.dispersion, before, after_ratio)
    pi, var_pi = site.expected_after, site.expected_after_variance
    theta, variance = index_of_effectiveness(after, pi, var_pi)
    half = Z * math.sqrt(variance)
    return EmpiricalBayes(
        method=f"{method}; θ with Hauer's small-sample correction, normal 95% CI",
        reason=None if after else NOTHING_AFTER,
        observed_before=before,
        observed_after=after,
        prior=fitted,
        predicted_before=predicted,
        weight=site.weight,
        expected_before=site.expected_before,
        expected_after=pi,
        expected_after_variance=var_pi,
        theta=theta,
        theta_variance=variance,
        theta_ci95=(max(0.0, theta - half), theta + half) if after else None,
        naive_ratio=after / (after_ratio * before) if before else None,
    )


def trend_ratio(reference_before: Sequence[int], reference_after: Sequence[int], window_ratio: float) -> float:
    """``r`` from the reference population's own change: ``Σafter/Σbefore``, else the ratio of window lengths."""
    total_before = sum(reference_before)
    return sum(reference_after) / total_before if total_before else window_ratio
