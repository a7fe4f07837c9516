"""Power of the odds ratio: the smallest reduction the windows can detect, and the after months a 20 % fall needs.

For target/control before counts ``a``/``c`` over ``m_b`` months and an after window of ``m_a`` months,
a true rate ratio ``R`` in the target (``R < 1`` a reduction, the control unchanged) gives expected after
counts ``b = a·t·R`` and ``d = c·t`` with ``t = m_a/m_b``. The log odds ratio then has variance
``V(R) = φ·(1/a + 1/b + 1/c + 1/d)`` (the Welsh & Farrington variance, inflated by the dispersion ``φ``)
and a two-sided test at ``alpha`` has power ``Φ(|ln R|/√V - z) + Φ(-|ln R|/√V - z)``, ``z = z(1 - alpha/2)``.

- Minimum detectable effect: the ``R`` closest to 1 with ``|ln R| = (z + z_power)·√V(R)`` (scipy ``brentq``).
- Months for a given reduction: the smallest ``m_a`` with ``(z + z_power)·√V ≤ |ln R|``, solved in closed form:
  ``m_a ≥ m_b·(1/(a·R) + 1/c) / K`` with ``K = (ln R / (z + z_power))²/φ - 1/a - 1/c``; when ``K ≤ 0`` no after
  window is long enough, because the before counts alone are too uncertain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import brentq, minimize_scalar
from scipy.stats import norm

ALPHA = 0.05
POWER = 0.80
PLANNING_REDUCTION = 0.20


@dataclass(frozen=True)
class Power:
    method: str
    reason: str | None
    minimum_detectable_reduction_percent: float | None = None
    """``100·(1 - R)`` at the stated power; ``None`` with a reason when no reduction is detectable."""
    power_at_planning_reduction: float | None = None
    after_months_needed: int | None = None
    """After months for ``PLANNING_REDUCTION`` at the stated power; ``None`` with a reason when none suffice."""
    more_after_months_needed: int | None = None
    months_reason: str | None = None


def _variance(a: float, c: float, ratio: float, t: float, dispersion: float) -> float:
    return dispersion * (1 / a + 1 / (a * t * ratio) + 1 / c + 1 / (c * t))


def power_of(a: float, c: float, ratio: float, t: float, dispersion: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided OR test when the target's rate is multiplied by ``ratio``."""
    z = float(norm.ppf(1 - alpha / 2))
    shift = abs(math.log(ratio)) / math.sqrt(_variance(a, c, ratio, t, dispersion))
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def _minimum_detectable(a: float, c: float, t: float, dispersion: float, k: float) -> float | None:
    def gap(log_ratio: float) -> float:
        return -log_ratio - k * math.sqrt(_variance(a, c, math.exp(log_ratio), t, dispersion))

    # gap rises from R = 1 and falls again as b -> 0 inflates 1/b: find its peak, then the root nearer R = 1
    peak = minimize_scalar(lambda x: -gap(x), bounds=(-20.0, 0.0), method="bounded")
    if gap(peak.x) <= 0:
        return None
    return math.exp(brentq(gap, peak.x, 0.0))


def _months_needed(a: float, c: float, months_before: float, dispersion: float, k: float) -> float | None:
    ratio = 1 - PLANNING_REDUCTION
    room = (math.log(ratio) / k) ** 2 / dispersion - 1 / a - 1 / c
    return months_before * (1 / (a * ratio) + 1 / c) / room if room > 0 else None


def power(
    target_before: int, control_before: int, months_before: float, months_after: float, dispersion: float = 1.0,
    alpha: float = ALPHA, power: float = POWER,
) -> Power:  # fmt: skip
    """Minimum detectable reduction for the current windows and the after months a 20 % reduction needs."""
    method = (
        f"normal approximation of ln OR with variance x dispersion {dispersion:g}, two-sided alpha {alpha:g}, "
        f"power {power:g}"
    )
    if target_before <= 0 or control_before <= 0:
        return Power(method, "no incidents before in the target or the control: nothing to detect a fall from")
    if months_before <= 0 or months_after <= 0 or dispersion <= 0:
        return Power(method, "window lengths and dispersion must be positive")
    k = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    a, c, t = float(target_before), float(control_before), months_after / months_before
    detectable = _minimum_detectable(a, c, t, dispersion, k)
    needed = _months_needed(a, c, months_before, dispersion, k)
    return Power(
        method=method,
        reason=None if detectable is not None else "no reduction, however large, reaches that power with these counts",
        minimum_detectable_reduction_percent=None if detectable is None else 100 * (1 - detectable),
        power_at_planning_reduction=power_of(a, c, 1 - PLANNING_REDUCTION, t, dispersion, alpha),
        after_months_needed=None if needed is None else math.ceil(needed),
        more_after_months_needed=None if needed is None else max(0, math.ceil(needed - months_after)),
        months_reason=None if needed is not None else "the before counts are too small for a 20 % reduction",
    )
