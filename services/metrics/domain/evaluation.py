"""One audit's before/after evaluation, assembled from its counts (``before-after.md``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.metrics.domain import statistics
from services.metrics.domain.windows import Windows


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


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _method(counts: AreaCounts, odds: statistics.OddsRatio, zone: str, crs: str | None, control: str) -> str:
    parts = [
        f"Windows in {zone} local days; incidents on the intervention date are in neither window.",
        f"Control: {control}.",
        "Odds ratio (Welsh & Farrington) OR = (a*d)/(b*c), V = 1/a+1/b+1/c+1/d, "
        f"95% CI exp(ln OR +/- z*sqrt(V)) with z = {statistics.Z:.6f} (normal quantile); "
        "significant when the CI excludes 1; relative effect 100*(1/OR - 1).",
    ]
    if odds.corrected:
        parts.append("A count is zero: Haldane-Anscombe correction, 0.5 added to all four cells of the odds ratio.")
    parts.append("WDD (Wheeler & Ratcliffe 2018): Var = sum of the counts used, Z = WDD/sqrt(Var).")
    if counts.buffer is not None:
        parts.append(f"WDQ (Bowers & Johnson 2003); buffer rings computed in metres in {crs}.")
    return " ".join(parts)


def evaluate(
    audit_id: uuid.UUID, window: Windows, counts: AreaCounts, *, zone: str, crs: str | None, control: str
) -> dict[str, Any]:
    t, c, b, bc = counts.target, counts.control, counts.buffer, counts.buffer_control
    odds = statistics.odds_ratio(t.before, t.after, c.before, c.after)
    bb, ba = (b.before, b.after) if b else (None, None)
    bcb, bca = (bc.before, bc.after) if bc else (None, None)
    quotient = statistics.wdq(t.before, t.after, c.before, c.after, bb, ba)
    diff = statistics.wdd(t.before, t.after, c.before, c.after, bb, ba, bcb, bca)
    change = statistics.percent_change(t.before, t.after)
    return {
        "audit_id": audit_id,
        "intervention_date": window.intervention,
        "window_days": window.before.days,
        "target": t.as_dict(),
        "control": c.as_dict(),
        "buffer": b.as_dict() if b else None,
        "buffer_control": bc.as_dict() if bc else None,
        "percent_change": _round(change, 2),
        "percent_change_reason": None if change is not None else "the target had no incidents before",
        "odds_ratio": _round(odds.value, 4),
        "odds_ratio_ci95": [_round(x, 4) for x in odds.ci95],
        "odds_ratio_p": _round(odds.p_value, 4),
        "relative_effect_percent": _round(odds.relative_effect_percent, 2),
        "zero_cell_correction": odds.corrected,
        "wdq": _round(quotient.value, 4),
        "wdq_reason": quotient.reason,
        "wdq_interpretation": quotient.interpretation,
        "wdd": diff.value,
        "wdd_variance": diff.variance,
        "wdd_z": _round(diff.z, 4),
        "wdd_ci95": [round(x, 2) for x in diff.ci95],
        "wdd_p": _round(diff.p_value, 4),
        "wdd_significant": diff.significant,
        "significant": odds.significant,
        "before_window": window.before.as_list(),
        "after_window": window.after.as_list(),
        "complete": window.complete,
        "after_days_observed": window.after_days_observed,
        "method": _method(counts, odds, zone, crs, control),
    }
