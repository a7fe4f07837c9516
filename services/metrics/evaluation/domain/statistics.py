"""Before/after statistics of crime-prevention research, exactly as ``docs/evaluation.md`` defines them.

Pure functions of counts: the odds ratio of Welsh & Farrington with its
log-variance and Haldane-Anscombe correction, the Weighted Displacement
Quotient (Bowers & Johnson 2003), the Weighted Displacement Difference
(Wheeler & Ratcliffe 2018), and fixed-effect / DerSimonian-Laird pooling;
and what keeps them honest: the WDD scaled to the target, exact conditional
inference and Poisson rate tests for small counts, and the quasi-Poisson
dispersion of monthly counts. Distributions and models come from scipy and
statsmodels, not typed-in constants or hand-written optimisers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.stats import binomtest, chi2, contingency, fisher_exact, hypergeom, norm

CONFIDENCE = 0.95
Z = float(norm.ppf(1 - (1 - CONFIDENCE) / 2))
"""The two-sided 95% normal quantile, 1.959963984540054."""
HALDANE_ANSCOMBE = 0.5


def percent_change(before: int, after: int) -> float | None:
    """``100 * (after - before) / before``; undefined (None) when there was nothing before."""
    if before == 0:
        return None
    return 100 * (after - before) / before


def two_sided_p(z: float) -> float:
    return float(2 * norm.sf(abs(z)))


@dataclass(frozen=True)
class OddsRatio:
    value: float
    ci95: tuple[float, float]
    log: float
    variance: float
    corrected: bool
    """True when a zero cell made us add 0.5 to all four counts (Haldane-Anscombe)."""
    p_value: float

    @property
    def significant(self) -> bool:
        return self.ci95[0] > 1 or self.ci95[1] < 1

    @property
    def relative_effect_percent(self) -> float:
        """``100 * (1/OR - 1)``: negative is a reduction in the target relative to the control."""
        return 100 * (1 / self.value - 1)


def odds_ratio(a: int, b: int, c: int, d: int) -> OddsRatio:
    """``OR = (a*d)/(b*c)`` for target before/after ``a``/``b`` and control before/after ``c``/``d``."""
    corrected = 0 in (a, b, c, d)
    cells = [x + HALDANE_ANSCOMBE if corrected else float(x) for x in (a, b, c, d)]
    ca, cb, cc, cd = cells
    log_or = math.log(ca * cd / (cb * cc))
    variance = sum(1 / x for x in cells)
    half_width = Z * math.sqrt(variance)
    return OddsRatio(
        value=math.exp(log_or),
        ci95=(math.exp(log_or - half_width), math.exp(log_or + half_width)),
        log=log_or,
        variance=variance,
        corrected=corrected,
        p_value=two_sided_p(log_or / math.sqrt(variance)),
    )


@dataclass(frozen=True)
class Wdq:
    value: float | None
    reason: str | None
    interpretation: str | None


def interpret_wdq(value: Fraction | float) -> str:
    if value > 1:
        return "diffusion of benefits larger than the direct effect"
    if value > 0:
        return "diffusion of benefits"
    if value == 0:
        return "no change in the buffer"
    if value >= -1:
        return "some displacement, less than the direct effect"
    return "displacement larger than the direct effect"


def wdq(rb: int, ra: int, cb: int, ca: int, bb: int | None, ba: int | None) -> Wdq:
    """``(Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb)``; None with a reason wherever it is undefined.

    Multiplying both terms by ``Ca*Cb`` (positive) gives ``(Ba*Cb - Bb*Ca) / (Ra*Cb - Rb*Ca)``, a
    quotient of integers: the bands are decided on the exact fraction, so a WDQ of exactly -1 or +1
    is never pushed across a band edge by floating-point rounding."""
    if bb is None or ba is None:
        return Wdq(None, "no buffer: give buffer_m to measure displacement", None)
    if ca == 0 or cb == 0:
        return Wdq(None, "the control area had no incidents in a window, so the quotient divides by zero", None)
    denominator = ra * cb - rb * ca
    if denominator >= 0:
        return Wdq(None, "the target did not improve relative to the control (Ra/Ca - Rb/Cb >= 0)", None)
    exact = Fraction(ba * cb - bb * ca, denominator)
    return Wdq(float(exact), None, interpret_wdq(exact))


@dataclass(frozen=True)
class Wdd:
    value: int
    variance: int
    z: float | None
    ci95: tuple[float, float]
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.z is not None and abs(self.z) > Z


def wdd(
    rb: int, ra: int, cb: int, ca: int, bb: int | None = None, ba: int | None = None,
    bcb: int | None = None, bca: int | None = None,
) -> Wdd:  # fmt: skip
    """``(Ra-Rb) - (Ca-Cb) + (Ba-Bb) - (BCa-BCb)``, variance the sum of the counts used; buffers optional."""
    value = (ra - rb) - (ca - cb)
    variance = ra + rb + ca + cb
    if bb is not None and ba is not None and bcb is not None and bca is not None:
        value += (ba - bb) - (bca - bcb)
        variance += ba + bb + bca + bcb
    sd = math.sqrt(variance)
    z = value / sd if variance else None
    return Wdd(value, variance, z, (value - Z * sd, value + Z * sd), two_sided_p(z) if z is not None else None)


@dataclass(frozen=True)
class PooledEstimate:
    log: float
    se: float

    @property
    def odds_ratio(self) -> float:
        return math.exp(self.log)

    @property
    def ci95(self) -> tuple[float, float]:
        return (math.exp(self.log - Z * self.se), math.exp(self.log + Z * self.se))

    @property
    def p_value(self) -> float:
        return two_sided_p(self.log / self.se)


@dataclass(frozen=True)
class Pooled:
    k: int
    fixed: PooledEstimate
    random: PooledEstimate
    q: float
    df: int
    q_p_value: float | None
    tau2: float
    i2_percent: float


def _weighted(logs: Sequence[float], weights: Sequence[float]) -> PooledEstimate:
    total = sum(weights)
    return PooledEstimate(sum(w * y for w, y in zip(weights, logs, strict=True)) / total, math.sqrt(1 / total))


def pool(estimates: Sequence[tuple[float, float]]) -> Pooled | None:
    """Fixed-effect (weights ``1/V``) and DerSimonian-Laird pooling of ``(ln OR, V)`` pairs."""
    if not estimates:
        return None
    logs = [y for y, _ in estimates]
    weights = [1 / v for _, v in estimates]
    fixed = _weighted(logs, weights)
    q = sum(w * (y - fixed.log) ** 2 for w, y in zip(weights, logs, strict=True))
    df = len(estimates) - 1
    scale = sum(weights) - sum(w * w for w in weights) / sum(weights)
    tau2 = max(0.0, (q - df) / scale) if scale > 0 else 0.0
    random = _weighted(logs, [1 / (v + tau2) for _, v in estimates])
    return Pooled(
        k=len(estimates),
        fixed=fixed,
        random=random,
        q=q,
        df=df,
        q_p_value=float(chi2.sf(q, df)) if df > 0 else None,
        tau2=tau2,
        i2_percent=max(0.0, (q - df) / q) * 100 if q > 0 else 0.0,
    )


COMPARABLE_FACTOR = 2
"""The WDD's significance test assumes a control of the target's size: within this factor of its before-count."""


def wdd_comparable(target_before: int, control_before: int) -> str | None:
    """None when the control is of comparable size for the WDD, else why it is not."""
    if target_before == 0:
        return "the target had no incidents before, so the control's size cannot be compared with it"
    ratio = control_before / target_before
    if 1 / COMPARABLE_FACTOR <= ratio <= COMPARABLE_FACTOR:
        return None
    return (
        f"the control's before-count ({control_before}) is {ratio:.3g} times the target's ({target_before}), "
        f"outside a factor of {COMPARABLE_FACTOR}: an unequal control manufactures a difference; see wdd_weighted"
    )


@dataclass(frozen=True)
class WeightedWdd:
    """The WDD with control and buffer-control counts scaled to the before-counts of target and buffer."""

    value: float
    variance: float
    control_weight: float
    buffer_control_weight: float | None

    def z(self, dispersion: float = 1.0) -> float | None:
        return self.value / math.sqrt(dispersion * self.variance) if self.variance > 0 else None

    def ci95(self, dispersion: float = 1.0) -> tuple[float, float]:
        half = Z * math.sqrt(dispersion * self.variance)
        return (self.value - half, self.value + half)


def wdd_weighted(
    rb: int, ra: int, cb: int, ca: int, bb: int | None = None, ba: int | None = None,
    bcb: int | None = None, bca: int | None = None,
) -> WeightedWdd | None:  # fmt: skip
    """``(Ra-Rb) - w(Ca-Cb) + (Ba-Bb) - wb(BCa-BCb)`` with ``w = Rb/Cb`` and ``wb = Bb/BCb``.

    Scaling the control to the target's before-count (the idea of ptools' weights) makes
    ``w*Ca`` the target's expected after-count, so a control of any size contributes the trend
    and not its volume. The weights are treated as fixed: ``Var = Ra + Rb + w²(Ca+Cb) + ...``,
    the variance of the scaled Poisson counts. None when the control had nothing before."""
    if cb == 0:
        return None
    w = rb / cb
    value = (ra - rb) - w * (ca - cb)
    variance = ra + rb + w * w * (ca + cb)
    wb = None
    if bb is not None and ba is not None and bcb is not None and bca is not None and bcb > 0:
        wb = bb / bcb
        value += (ba - bb) - wb * (bca - bcb)
        variance += ba + bb + wb * wb * (bca + bcb)
    return WeightedWdd(value, variance, w, wb)


SMALL_COUNT = 10
"""Below this in any cell the normal approximation of ln OR is not trusted alone."""


@dataclass(frozen=True)
class ExactOdds:
    """Conditional inference on the 2x2 table (Fisher): exact p, mid-p, and the exact conditional CI."""

    estimate: float
    p_value: float
    mid_p: float
    ci95: tuple[float, float]


def small_counts(a: int, b: int, c: int, d: int) -> bool:
    return min(a, b, c, d) < SMALL_COUNT


def exact_odds_ratio(a: int, b: int, c: int, d: int) -> ExactOdds | None:
    """Given both areas' totals and both windows' totals, ``a`` is hypergeometric; None when a margin is zero.

    Its interval is found by root-finding over the non-central hypergeometric distribution, which takes
    seconds with thousands of incidents: callers use it where counts are small, where it matters."""
    if 0 in (a + b, c + d, a + c, b + d):
        return None
    table = [[a, b], [c, d]]
    result = contingency.odds_ratio(table, kind="conditional")
    low, high = result.confidence_interval(CONFIDENCE)
    dist = hypergeom(a + b + c + d, a + b, a + c)
    half_point = 0.5 * float(dist.pmf(a))
    lower, upper = float(dist.cdf(a - 1)) + half_point, float(dist.sf(a)) + half_point
    return ExactOdds(
        estimate=float(result.statistic),
        p_value=float(fisher_exact(table).pvalue),
        mid_p=min(1.0, 2 * min(lower, upper)),
        ci95=(float(low), float(high)),
    )


@dataclass(frozen=True)
class RateTest:
    rate_ratio: float | None
    p_value: float
    method: str


E_TEST_MAX = 200
"""Up to this many incidents in both windows together the E-test is used; above, its sum over the
Poisson grid grows slow and the score test's normal approximation holds."""


def poisson_rate_test(after: int, after_days: int, before: int, before_days: int) -> RateTest | None:
    """Equal Poisson rates per day of exposure (statsmodels): Krishnamoorthy & Thomson's E-test for small
    counts, the score test above ``E_TEST_MAX``."""
    if after + before == 0 or after_days <= 0 or before_days <= 0:
        return None
    from statsmodels.stats.rates import test_poisson_2indep  # statsmodels takes seconds to import: on first use

    method = "etest" if after + before <= E_TEST_MAX else "score"
    with np.errstate(divide="ignore"):  # no incidents before: statsmodels' own ratio divides by zero, its test does not
        result = test_poisson_2indep(after, after_days, before, before_days, method=method)
    ratio = (after / after_days) / (before / before_days) if before else None
    name = "Poisson E-test (Krishnamoorthy & Thomson)" if method == "etest" else "Poisson score test"
    return RateTest(ratio, float(result.pvalue), name)


def binomial_trend_p(now: int, before: int) -> float | None:
    """Exact conditional test of two Poisson counts over equal exposure: ``now`` is Binomial(now+before, 1/2)."""
    if now + before == 0:
        return None
    return float(binomtest(now, now + before, 0.5).pvalue)


@dataclass(frozen=True)
class Dispersion:
    phi: float
    """The factor variances are multiplied by: the estimate, floored at 1 (never narrower than Poisson)."""
    estimate: float | None
    """Pearson chi² / residual degrees of freedom, before the floor; None when not estimable."""
    months: int
    df: int
    reason: str | None

    @classmethod
    def poisson(cls, reason: str) -> Dispersion:
        return cls(1.0, None, 0, 0, reason)


MIN_DISPERSION_DF = 10
SEASONAL_MONTHS = 24


def dispersion(month_of_year: Sequence[int], series: Sequence[Sequence[int]]) -> Dispersion:
    """Quasi-Poisson dispersion of monthly counts (Pearson chi² / df of a Poisson GLM, statsmodels).

    One level and one linear trend per series, plus calendar-month effects when there are at least
    two years, so that seasonality and a slow trend are not mistaken for over-dispersion. Series that
    are zero throughout carry no information and are left out."""
    months = len(month_of_year)
    used = [np.asarray(s, dtype=float) for s in series if len(s) == months and sum(s) > 0]
    if not used or months == 0:
        return Dispersion.poisson("no incidents in the history months, so the dispersion is not estimable")
    t = np.arange(months, dtype=float) / max(1, months - 1)
    blocks = []
    for i in range(len(used)):
        level = np.zeros((months, len(used)))
        level[:, i] = 1
        blocks.append(np.column_stack([level, level * t[:, None]]))
    design = np.vstack(blocks)
    if months >= SEASONAL_MONTHS:
        calendar = np.zeros((months, 11))
        for row, month in enumerate(month_of_year):
            if month > 1:
                calendar[row, month - 2] = 1
        design = np.column_stack([design, np.vstack([calendar] * len(used))])
    y = np.concatenate(used)
    df = len(y) - design.shape[1]
    if df < MIN_DISPERSION_DF:
        return Dispersion(1.0, None, months, max(df, 0), f"{months} months of history leave too few degrees of freedom")
    from statsmodels.genmod.families import Poisson  # statsmodels takes seconds to import: on first use
    from statsmodels.genmod.generalized_linear_model import GLM

    fit = GLM(y, design, family=Poisson()).fit()
    estimate = float(fit.pearson_chi2 / fit.df_resid)
    return Dispersion(max(1.0, estimate), estimate, months, int(fit.df_resid), None)
