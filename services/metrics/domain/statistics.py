"""Before/after statistics of crime-prevention research, exactly as ``before-after.md`` defines them.

Pure functions of counts: the odds ratio of Welsh & Farrington with its
log-variance and Haldane-Anscombe correction, the Weighted Displacement
Quotient (Bowers & Johnson 2003), the Weighted Displacement Difference
(Wheeler & Ratcliffe 2018), and fixed-effect / DerSimonian-Laird pooling.
The normal quantile comes from scipy, not a typed-in 1.96.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import chi2, norm

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


def interpret_wdq(value: float) -> str:
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
    """``(Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb)``; None with a reason wherever it is undefined."""
    if bb is None or ba is None:
        return Wdq(None, "no buffer: give buffer_m to measure displacement", None)
    if ca == 0 or cb == 0:
        return Wdq(None, "the control area had no incidents in a window, so the quotient divides by zero", None)
    denominator = ra / ca - rb / cb
    if denominator >= 0:
        return Wdq(None, "the target did not improve relative to the control (Ra/Ca - Rb/Cb >= 0)", None)
    value = (ba / ca - bb / cb) / denominator + 0.0  # + 0.0: no "-0.0" when the buffer did not change
    return Wdq(value, None, interpret_wdq(value))


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
    i2_percent: float | None


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
        i2_percent=max(0.0, (q - df) / q) * 100 if q > 0 else None,
    )
