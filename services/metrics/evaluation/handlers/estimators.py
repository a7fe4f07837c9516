"""Every estimator of one audit side by side with its primary outcome, from the stored daily and monthly counts.

The windows, control and dispersion are the evaluation's own (``evaluations.evaluate_with_parts``), so each
estimator answers the same question on the same areas. Monthly models use whole calendar months only: the
history before the implementation period, and the months of the after window that are over; the months of
the implementation period are left out, as the windows leave its days out. Leading months in which the whole
municipality had nothing are a feed not yet started, not data, and are dropped as the dispersion drops them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.evaluation.domain.estimators import empirical_bayes, harm, power, seasonal_glm, synthetic_control
from services.metrics.evaluation.domain.evaluation import Counts
from services.metrics.evaluation.domain.windows import Period, Windows, history, month_starts
from services.metrics.evaluation.handlers import evaluations
from services.metrics.evaluation.handlers.evaluations import Params, Subject, target_of
from shared.auth.keys import Principal

DAYS_PER_MONTH = 365.25 / 12
CSI_WEIGHTS = harm.shipped_csi_weights()
WDD_COMPARABLE = 2
"""As the evaluation's WDD: a control more than this factor away from the target's before-count is not comparable."""
NO_CONTROL_AFTER = "no incident in the control after: a missing feed, not a trend to project the target with"


def after_months(window: Windows) -> list[date]:
    """Whole calendar months inside the after window that are over (``today`` is not)."""
    first = window.after.first
    if first.day != 1:
        first = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = min(window.after.last, window.today - timedelta(days=1))
    return [m for m in month_starts(Period(first, max(first, last))) if _month_end(m) <= last]


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _months_between(earlier: date, later: date) -> int:
    """Calendar months strictly between two month starts."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month - 1


def _series(
    monthly: Mapping[uuid.UUID, Mapping[date, int]], ids: Sequence[uuid.UUID], months: Sequence[date]
) -> list[int]:
    return [sum(monthly.get(i, {}).get(m, 0) for i in ids) for m in months]


def _sum(by_category: Mapping[uuid.UUID, Mapping[str, Counts]], ids: Sequence[uuid.UUID]) -> dict[str, Counts]:
    total: dict[str, Counts] = {}
    for i in ids:
        for category, c in by_category.get(i, {}).items():
            was = total.get(category, Counts(0, 0))
            total[category] = Counts(was.before + c.before, was.after + c.after)
    return total


def _rounded(value: Any, digits: int = 6) -> Any:
    """Rounded for reading; a figure that is not finite (an interval without bound) is no figure."""
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        items = [_rounded(v, digits) for v in value]
        return None if any(v is None for v in items) and any(isinstance(v, float) for v in value) else items
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    return value


def monthly_inputs(
    window: Windows, monthly: Mapping[uuid.UUID, Mapping[date, int]], municipality: Sequence[uuid.UUID]
) -> tuple[list[date], list[date]]:
    """The pre and after months the monthly models use (see the module's note)."""
    pre = month_starts(history(window))
    started = [m for m in pre if _series(monthly, municipality, [m])[0] > 0]
    pre = [m for m in pre if started and m >= started[0]]
    return pre, after_months(window)


def _municipality(subject: Subject) -> list[uuid.UUID]:
    target = target_of(subject)
    return sorted(n.id for n in subject.neighbourhoods.values() if n.municipality == target.municipality)


def _series_of(
    parts: evaluations.Assembled, target: uuid.UUID, months: Sequence[date]
) -> tuple[list[int], list[list[int]]]:
    """The target's monthly series and one per control neighbourhood (the synthetic control's donors)."""
    monthly = parts.found.monthly
    return _series(monthly, [target], months), [_series(monthly, [i], months) for i in parts.control_ids]


def synthetic_line(subject: Subject, parts: evaluations.Assembled) -> tuple[dict[date, float], str | None]:
    """The synthetic control's monthly series, for a chart, and the reason when it is refused (no placebos)."""
    pre, after = monthly_inputs(parts.window, parts.found.monthly, _municipality(subject))
    months = pre + after
    target_series, control_series = _series_of(parts, target_of(subject).id, months)
    fit = synthetic_control.synthetic_control(target_series, control_series, len(pre), placebo=False)
    line = dict(zip(months, fit.synthetic, strict=True)) if fit.synthetic and fit.reason is None else {}
    return line, fit.reason


def reference_exposures(subject: Subject, ids: Sequence[uuid.UUID], days: int) -> tuple[list[float], str]:
    """Person-years of the before window when every neighbourhood's population is known; else its days alike,
    which treats neighbourhoods of different sizes as equals and says so."""
    populations = [subject.neighbourhoods[i].population for i in ids]
    if all(p for p in populations):
        return [p * days / 365.25 for p in populations if p], "person-years: population x the before window"
    return [float(days)] * len(ids), "days of the before window, alike for all: a population is unknown"


async def estimators(
    session: AsyncSession, principal: Principal, audit_id: uuid.UUID, params: Params, *, zone: str, today: date
) -> dict[str, Any]:
    """Every estimator of an audit the key may read, beside its primary outcome."""
    subject = await evaluations.load_subject(session, audit_id, principal)
    params = await evaluations.resolve(session, params)
    answer, parts = await evaluations.evaluate_with_parts(session, subject, params, zone=zone, today=today)
    target = target_of(subject)
    window, control_ids, found = parts.window, parts.control_ids, parts.found
    municipality = _municipality(subject)
    pre, after = monthly_inputs(window, found.monthly, municipality)
    months = pre + after
    skipped = _months_between(pre[-1], after[0]) if pre and after else 0
    target_series, control_series = _series_of(parts, target.id, months)

    t, c = parts.counts.target, parts.counts.control
    observed = window.after_days_observed
    reference = [sum(x.before for x in found.windows.get(i, {}).values()) for i in municipality]
    ratio = empirical_bayes.trend_ratio([c.before], [c.after], observed / window.before.days)
    exposures, exposure_unit = reference_exposures(subject, municipality, window.before.days)
    eb = empirical_bayes.empirical_bayes(
        t.before, t.after, exposures[municipality.index(target.id)], ratio, reference, exposures
    )
    if c.before and not c.after:
        eb = empirical_bayes.EmpiricalBayes(eb.method, NO_CONTROL_AFTER, t.before, t.after)
    glm = seasonal_glm.seasonal_glm(
        target_series, control_series, pre[0] if pre else window.before.first, len(pre), skipped_months=skipped
    )
    synthetic = synthetic_control.synthetic_control(target_series, control_series, len(pre))
    target_by_category, control_by_category = _sum(found.windows, [target.id]), _sum(found.windows, control_ids)
    harmed = harm.harm_wdd(
        {k: v.before for k, v in target_by_category.items()},
        {k: v.after for k, v in target_by_category.items()},
        {k: v.before for k, v in control_by_category.items()},
        {k: v.after for k, v in control_by_category.items()},
        CSI_WEIGHTS.weights,
    )
    powered = power.power(
        t.before, c.before, window.before.days / DAYS_PER_MONTH, observed / DAYS_PER_MONTH, parts.dispersion.phi
    )
    comparable = t.before > 0 and t.before / WDD_COMPARABLE <= c.before <= t.before * WDD_COMPARABLE
    return {
        "audit_id": subject.audit.id,
        "neighbourhood_id": target.id,
        "family": params.family,
        "category_map_version": params.category_map_version,
        "categories": list(params.categories),
        "before_window": window.before.as_list(),
        "after_window": window.after.as_list(),
        "implementation_period": window.implementation_period.as_list(),
        "complete": window.complete,
        "target": t.as_dict(),
        "control": c.as_dict(),
        "control_neighbourhood_ids": control_ids,
        "dispersion_phi": parts.dispersion.phi,
        "primary": answer["primary"],
        "significant": answer["significant"],
        "significant_reason": answer["significant_reason"],
        "monthly": {
            "pre_months": [m.isoformat() for m in pre],
            "after_months": [m.isoformat() for m in after],
            "implementation_months_left_out": skipped,
        },
        "empirical_bayes": _empirical_bayes(eb, len(municipality)) | {"exposure": exposure_unit},
        "seasonal_glm": _rounded(asdict(glm) | {"effect_percent": glm.effect_percent}),
        "synthetic_control": _synthetic(synthetic, control_ids),
        "harm_wdd": _rounded(asdict(harmed))
        | {
            "weights_source": CSI_WEIGHTS.source,
            "weights_year": CSI_WEIGHTS.year,
            "comparable_control": comparable,
            "caution": None
            if comparable
            else f"the control's before-count is not within a factor {WDD_COMPARABLE} of the target's: "
            "a WDD on counts of unequal areas is not an effect",
        },
        "power": _rounded(asdict(powered)),
    }


def _empirical_bayes(eb: empirical_bayes.EmpiricalBayes, reference: int) -> dict[str, Any]:
    figures = asdict(eb)
    prior = figures.pop("prior")
    return _rounded(
        figures
        | {
            "reference_neighbourhoods": reference,
            "prior_rate": None if prior is None else prior["rate"],
            "prior_dispersion": None if prior is None else prior["dispersion"],
            "prior_method": None if prior is None else prior["method"],
            "effect_percent": eb.effect_percent,
            "naive_effect_percent": eb.naive_effect_percent,
            "significant": eb.significant,
        }
    )


def _synthetic(fit: synthetic_control.SyntheticControl, donors: Sequence[uuid.UUID]) -> dict[str, Any]:
    figures = _rounded(asdict(fit))
    weights = figures.pop("weights")
    figures["donor_weights"] = (
        None if weights is None else {str(i): w for i, w in zip(donors, weights, strict=True) if w > 1e-6}
    )
    return dict(figures)
