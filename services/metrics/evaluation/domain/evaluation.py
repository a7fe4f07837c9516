"""One audit's before/after evaluation, assembled from its counts (``docs/evaluation.md``).

The published fields (``odds_ratio_ci95``, ``wdd_z``, ...) keep the Poisson
formulas of the literature so that results compare with published
evaluations. ``significant`` follows one named primary outcome only: the
odds ratio with its CI widened by the over-dispersion of the area's monthly
counts (and, with small counts, by the exact conditional interval). Every
other test is reported as secondary. Where the data cannot support a verdict
(after window still running, a whole window without incidents in the
control or the municipality) ``significant`` is null with the reason.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.metrics.evaluation.domain import statistics
from services.metrics.evaluation.domain.windows import Windows

PRIMARY = "odds_ratio_overdispersion"


@dataclass(frozen=True)
class Counts:
    before: int
    after: int

    def as_dict(self) -> dict[str, int]:
        return {"before": self.before, "after": self.after}


@dataclass(frozen=True)
class AreaCounts:
    target: Counts
    control: Counts
    buffer: Counts | None = None
    buffer_control: Counts | None = None
    municipality: Counts | None = None
    """Every neighbourhood of the target's municipality: a window without any incident there is a missing feed."""


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _ci(pair: tuple[float, float] | None, digits: int) -> list[float] | None:
    return None if pair is None else [round(x, digits) for x in pair]


def missing_data(counts: AreaCounts) -> list[str]:
    """Why the counts cannot support a verdict: a whole window without incidents where there must be some."""
    reasons = []
    for name, area in (("control area", counts.control), ("target's municipality", counts.municipality)):
        if area is None:
            continue
        empty = [w for w, n in (("before", area.before), ("after", area.after)) if n == 0]
        if empty:
            reasons.append(
                f"insufficient data: the {name} has no incidents in the {' and '.join(empty)} window, "
                "which almost always means a missing feed rather than an effect"
            )
    return reasons


def _incomplete(window: Windows) -> list[str]:
    if window.complete:
        return []
    return [
        f"the after window is still running ({window.after_days_observed} of {window.after.days} days observed): "
        "see rates_per_day"
    ]


@dataclass(frozen=True)
class Primary:
    """The odds ratio with ``V`` multiplied by the dispersion; with small counts also the exact conditional CI."""

    estimate: float
    ci95: tuple[float, float]
    p_value: float
    exact: bool
    method: str


def primary(odds: statistics.OddsRatio, exact: statistics.ExactOdds | None, phi: float, small: bool) -> Primary:
    se = math.sqrt(phi * odds.variance)
    low, high = math.exp(odds.log - statistics.Z * se), math.exp(odds.log + statistics.Z * se)
    p = statistics.two_sided_p(odds.log / se)
    method = (
        f"odds ratio with Var(ln OR) = phi * (1/a+1/b+1/c+1/d), phi = {phi:.4g} (quasi-Poisson dispersion), "
        "95% CI exp(ln OR +/- z*sqrt(phi*V))"
    )
    if small and exact is not None:
        # Small cells: neither interval is trusted alone, so the answer takes the wider of each bound.
        low, high = min(low, exact.ci95[0]), max(high, exact.ci95[1])
        p = max(p, exact.mid_p)
        method += (
            f"; a cell is below {statistics.SMALL_COUNT}, so the CI is the hull of that interval and the exact "
            "conditional (Fisher) CI, and p the larger of its p and the conditional mid-p"
        )
    elif not small:
        method += f"; every cell is at least {statistics.SMALL_COUNT}, where the normal approximation of ln OR holds"
    return Primary(odds.value, (low, high), p, small and exact is not None, method)


def _secondary(
    odds: statistics.OddsRatio,
    exact: statistics.ExactOdds | None,
    diff: statistics.Wdd,
    weighted: statistics.WeightedWdd | None,
    rate: statistics.RateTest | None,
    phi: float,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "outcome": "odds_ratio",
            "estimate": _round(odds.value, 4),
            "ci95": _ci(odds.ci95, 4),
            "p_value": _round(odds.p_value, 4),
            "method": "Welsh & Farrington odds ratio, Poisson variance (the published formula)",
        },
        {
            "outcome": "wdd",
            "estimate": diff.value,
            "ci95": _ci(diff.ci95, 2),
            "p_value": _round(diff.p_value, 4),
            "method": "Wheeler & Ratcliffe WDD, Var = sum of the counts (the published formula)",
        },
    ]
    if exact is not None:
        rows.append(
            {
                "outcome": "odds_ratio_exact",
                "estimate": _round(exact.estimate, 4),
                "ci95": _ci(exact.ci95, 4),
                "p_value": _round(exact.mid_p, 4),
                "method": "conditional maximum-likelihood odds ratio, exact conditional CI, two-sided mid-p "
                f"(Fisher exact p = {exact.p_value:.4g})",
            }
        )
    if weighted is not None:
        z = weighted.z(phi)
        rows.append(
            {
                "outcome": "wdd_weighted",
                "estimate": round(weighted.value, 2),
                "ci95": _ci(weighted.ci95(phi), 2),
                "p_value": _round(None if z is None else statistics.two_sided_p(z), 4),
                "method": "WDD with the control scaled to the target's before-count, variance times phi",
            }
        )
    if rate is not None:
        rows.append(
            {
                "outcome": "target_rate_change",
                "estimate": _round(rate.rate_ratio, 4),
                "ci95": None,
                "p_value": _round(rate.p_value, 4),
                "method": f"target's incidents per day of exposure, after / before; {rate.method}",
            }
        )
    for row in rows:
        row["role"] = "secondary"
        no_effect = 0 if row["outcome"].startswith("wdd") else 1
        ci, p = row["ci95"], row["p_value"]
        if ci is not None:
            row["significant"] = not ci[0] <= no_effect <= ci[1]
        else:
            row["significant"] = None if p is None else p < 1 - statistics.CONFIDENCE
    return rows


def _per_day(count: int, days: int) -> float | None:
    return None if days <= 0 else round(count / days, 4)


def _rates(counts: AreaCounts, window: Windows) -> dict[str, Any]:
    before_days, after_days = window.before.days, window.after_days_observed
    areas = {"target": counts.target, "control": counts.control, "buffer": counts.buffer}
    rates: dict[str, Any] = {
        name: {"before": _per_day(c.before, before_days), "after": _per_day(c.after, after_days)}
        for name, c in areas.items()
        if c is not None
    }
    return rates


def _wdd_verdict(
    counts: AreaCounts, diff: statistics.Wdd, blocking: list[str]
) -> tuple[bool | None, str | None]:  # fmt: skip
    unequal = statistics.wdd_comparable(counts.target.before, counts.control.before)
    reasons = [*blocking, *([unequal] if unequal else [])]
    if reasons:
        return None, "; ".join(reasons)
    return diff.significant, None


def _weighted_dict(weighted: statistics.WeightedWdd | None, phi: float, blocking: list[str]) -> dict[str, Any] | None:
    if weighted is None:
        return None
    z, z_phi = weighted.z(), weighted.z(phi)
    low, high = weighted.ci95(phi)
    return {
        "value": round(weighted.value, 2),
        "variance": round(weighted.variance, 4),
        "z": _round(z, 4),
        "ci95": _ci(weighted.ci95(), 2),
        "z_overdispersion": _round(z_phi, 4),
        "ci95_overdispersion": _ci((low, high), 2),
        "control_weight": round(weighted.control_weight, 6),
        "buffer_control_weight": _round(weighted.buffer_control_weight, 6),
        "significant": None if blocking else (low > 0 or high < 0),
    }


def evaluate(
    audit_id: uuid.UUID,
    window: Windows,
    counts: AreaCounts,
    *,
    zone: str,
    crs: str | None,
    control: str,
    dispersion: statistics.Dispersion | None = None,
) -> dict[str, Any]:
    t, c, b, bc = counts.target, counts.control, counts.buffer, counts.buffer_control
    spread = dispersion or statistics.Dispersion.poisson("not estimated")
    phi = spread.phi
    odds = statistics.odds_ratio(t.before, t.after, c.before, c.after)
    small = statistics.small_counts(t.before, t.after, c.before, c.after)
    exact = statistics.exact_odds_ratio(t.before, t.after, c.before, c.after) if small else None
    main = primary(odds, exact, phi, small)
    bb, ba = (b.before, b.after) if b else (None, None)
    bcb, bca = (bc.before, bc.after) if bc else (None, None)
    quotient = statistics.wdq(t.before, t.after, c.before, c.after, bb, ba)
    diff = statistics.wdd(t.before, t.after, c.before, c.after, bb, ba, bcb, bca)
    weighted = statistics.wdd_weighted(t.before, t.after, c.before, c.after, bb, ba, bcb, bca)
    rate = statistics.poisson_rate_test(t.after, window.after_days_observed, t.before, window.before.days)
    change = statistics.percent_change(t.before, t.after)
    missing = missing_data(counts)
    blocking = _incomplete(window) + missing
    verdict = None if blocking else (main.ci95[0] > 1 or main.ci95[1] < 1)
    wdd_verdict, wdd_reason = _wdd_verdict(counts, diff, blocking)
    rates = _rates(counts, window)
    t_rates = rates["target"]
    per_day_change = (
        None
        if not t_rates["before"] or t_rates["after"] is None
        else round(100 * (t_rates["after"] - t_rates["before"]) / t_rates["before"], 2)
    )
    se_phi = math.sqrt(phi * diff.variance)
    corrections = []
    if odds.corrected:
        corrections.append("Haldane-Anscombe: 0.5 added to all four cells because a count is zero")
    if phi > 1:
        corrections.append(f"over-dispersion: variances multiplied by phi = {phi:.4g}")
    if main.exact:
        corrections.append("small counts: the exact conditional CI and mid-p widen the primary outcome")
    if window.implementation_period.days > 1:
        corrections.append(f"implementation period of {window.implementation_period.days} days left out")
    return {
        "audit_id": audit_id,
        "intervention_date": window.intervention,
        "implementation_period": window.implementation_period.as_list(),
        "window_days": window.before.days,
        "target": t.as_dict(),
        "control": c.as_dict(),
        "buffer": b.as_dict() if b else None,
        "buffer_control": bc.as_dict() if bc else None,
        "municipality": counts.municipality.as_dict() if counts.municipality else None,
        "percent_change": _round(change, 2),
        "percent_change_reason": None if change is not None else "the target had no incidents before",
        "odds_ratio": _round(odds.value, 4),
        "odds_ratio_ci95": [_round(x, 4) for x in odds.ci95],
        "odds_ratio_p": _round(odds.p_value, 4),
        "relative_effect_percent": _round(odds.relative_effect_percent, 2),
        "zero_cell_correction": odds.corrected,
        "odds_ratio_ci95_overdispersion": _ci(_phi_ci(odds, phi), 4),
        "odds_ratio_p_overdispersion": _round(statistics.two_sided_p(odds.log / math.sqrt(phi * odds.variance)), 4),
        "dispersion": {
            "phi": round(phi, 4),
            "estimate": _round(spread.estimate, 4),
            "months": spread.months,
            "df": spread.df,
            "reason": spread.reason,
            "method": "quasi-Poisson: Pearson chi-square / residual df of a Poisson GLM (statsmodels) on the "
            "monthly counts of target and control in the whole months before the implementation period (up to "
            "36, from the first month with any incident in the municipality), one level and trend per area and "
            "calendar-month effects from 24 months on; floored at 1",
        },
        "wdq": _round(quotient.value, 4),
        "wdq_reason": quotient.reason,
        "wdq_interpretation": quotient.interpretation,
        "wdd": diff.value,
        "wdd_variance": diff.variance,
        "wdd_z": _round(diff.z, 4),
        "wdd_ci95": [round(x, 2) for x in diff.ci95],
        "wdd_p": _round(diff.p_value, 4),
        "wdd_significant": wdd_verdict,
        "wdd_significant_reason": wdd_reason,
        "wdd_z_overdispersion": _round(diff.value / se_phi if se_phi else None, 4),
        "wdd_ci95_overdispersion": [
            round(diff.value - statistics.Z * se_phi, 2),
            round(diff.value + statistics.Z * se_phi, 2),
        ],
        "wdd_weighted": _weighted_dict(weighted, phi, blocking),
        "primary": {
            "outcome": PRIMARY,
            "estimate": round(main.estimate, 4),
            "ci95": _ci(main.ci95, 4),
            "p_value": round(main.p_value, 4),
            "relative_effect_percent": round(100 * (1 / main.estimate - 1), 2),
            "significant": verdict,
            "method": main.method,
        },
        "secondary": _secondary(odds, exact, diff, weighted, rate, phi),
        "significant": verdict,
        "significant_reason": "; ".join(blocking) or None,
        "insufficient_data": bool(missing),
        "corrections": corrections,
        "rates_per_day": rates,
        "percent_change_per_day": per_day_change,
        "before_window": window.before.as_list(),
        "after_window": window.after.as_list(),
        "complete": window.complete,
        "after_days_observed": window.after_days_observed,
        "method": _method(counts, odds, zone, crs, control),
    }


def _phi_ci(odds: statistics.OddsRatio, phi: float) -> tuple[float, float]:
    half = statistics.Z * math.sqrt(phi * odds.variance)
    return (math.exp(odds.log - half), math.exp(odds.log + half))


def _method(counts: AreaCounts, odds: statistics.OddsRatio, zone: str, crs: str | None, control: str) -> str:
    parts = [
        f"Windows in {zone} local days; incidents inside the implementation period are in neither window.",
        f"Control: {control}.",
        f"Primary outcome: {PRIMARY} (the odds ratio with its CI widened by the over-dispersion; with small "
        "counts also by the exact conditional CI); it alone decides `significant`. Every other test is secondary.",
        "Odds ratio (Welsh & Farrington) OR = (a*d)/(b*c), V = 1/a+1/b+1/c+1/d, "
        f"95% CI exp(ln OR +/- z*sqrt(V)) with z = {statistics.Z:.6f} (normal quantile); "
        "relative effect 100*(1/OR - 1).",
    ]
    if odds.corrected:
        parts.append("A count is zero: Haldane-Anscombe correction, 0.5 added to all four cells of the odds ratio.")
    parts.append(
        "WDD (Wheeler & Ratcliffe 2018): Var = sum of the counts used, Z = WDD/sqrt(Var); its significance is "
        f"given only for a control within a factor {statistics.COMPARABLE_FACTOR} of the target's before-count; "
        "wdd_weighted scales the control to the target."
    )
    if counts.buffer is not None:
        parts.append(f"WDQ (Bowers & Johnson 2003) in exact integer arithmetic; buffer rings in metres in {crs}.")
    return " ".join(parts)


def dispersion_of(
    monthly: Mapping[uuid.UUID, Mapping[date, int]],
    areas: Sequence[Sequence[uuid.UUID]],
    reference: Sequence[uuid.UUID],
    months: Sequence[date],
) -> statistics.Dispersion:
    """The dispersion of the areas' monthly series, from the first month the reference area had any incident.

    Months before a feed started are zeros that are not data, so leading months in which the whole
    reference area (the municipality) had nothing are left out."""

    def total(ids: Sequence[uuid.UUID], month: date) -> int:
        return sum(monthly.get(i, {}).get(month, 0) for i in ids)

    started = [m for m in months if total(reference, m) > 0]
    if not started:
        return statistics.Dispersion.poisson("no incidents stored in the months before the implementation")
    used = [m for m in months if m >= started[0]]
    return statistics.dispersion([m.month for m in used], [[total(ids, m) for m in used] for ids in areas])
