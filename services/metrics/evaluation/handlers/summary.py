"""The pooled evaluation over every audit with an implemented recommendation, and by category.

Each audit contributes ``ln OR`` and ``V`` from its own target and default
control (Haldane-Anscombe corrected where a count is zero). Audits whose
after window is still running are left out unless asked for, because a
partial window is not the same evidence; every audit left out is listed
with its reason. An audit counts in every category it implemented.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.evaluation.domain import statistics
from services.metrics.evaluation.domain.estimators import pooling
from services.metrics.evaluation.domain.estimators.outcome_families import ALL
from services.metrics.evaluation.domain.evaluation import missing_data
from services.metrics.evaluation.handlers import category_maps
from services.metrics.evaluation.handlers.evaluations import (
    MissingData,
    Params,
    Subject,
    assemble,
    neighbourhoods,
    resolve,
    target_of,
)
from services.metrics.totals.store import queries as states
from shared.auth.keys import Principal
from shared.contracts.events.audits import AuditState, RecommendationState

PRIMARY = "random_effects_overdispersion"


def _pooled(entries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    pooled = statistics.pool([(e["log_odds_ratio"], e["variance"]) for e in entries])
    widened = statistics.pool([(e["log_odds_ratio"], e["variance_overdispersion"]) for e in entries])
    if pooled is None or widened is None:
        return None

    def estimate(e: statistics.PooledEstimate) -> dict[str, Any]:
        low, high = e.ci95
        return {
            "odds_ratio": round(e.odds_ratio, 4),
            "odds_ratio_ci95": [round(low, 4), round(high, 4)],
            "log_odds_ratio": round(e.log, 6),
            "se": round(e.se, 6),
            "p_value": round(e.p_value, 4),
            "relative_effect_percent": round(100 * (1 / e.odds_ratio - 1), 2),
            "significant": low > 1 or high < 1,
        }

    return {
        "audits": pooled.k,
        "few_audits": pooled.k < pooling.FEW_STUDIES,
        "fixed_effect": estimate(pooled.fixed),
        "random_effects": estimate(pooled.random)
        | {"tau2": round(pooled.tau2, 6)}
        | _hartung_knapp(entries, "variance"),
        "q": round(pooled.q, 4),
        "q_df": pooled.df,
        "q_p_value": None if pooled.q_p_value is None else round(pooled.q_p_value, 4),
        "i2_percent": round(pooled.i2_percent, 2),
        "primary": estimate(widened.random)
        | {
            "outcome": PRIMARY,
            "tau2": round(widened.tau2, 6),
            "method": "DerSimonian-Laird random effects of ln OR with each audit's V multiplied by its dispersion phi",
        }
        | _hartung_knapp(entries, "variance_overdispersion"),
    }


def _hartung_knapp(entries: Sequence[dict[str, Any]], variance: str) -> dict[str, Any]:
    """The Hartung-Knapp-Sidik-Jonkman CI and the prediction interval beside the DerSimonian-Laird figures."""
    found = pooling.random_effects([(e["log_odds_ratio"], e[variance]) for e in entries])

    def interval(pair: tuple[float, float] | None) -> list[float] | None:
        return None if pair is None else [round(x, 4) for x in pair]

    return {
        "hartung_knapp_ci95": interval(found.hksj_ci95),
        "hartung_knapp_p_value": None if found.hksj_p_value is None else round(found.hksj_p_value, 4),
        "prediction_interval95": interval(found.prediction_interval95),
        "hartung_knapp_reason": found.reason
        or (None if found.prediction_interval95 else "a prediction interval needs at least three audits"),
        "hartung_knapp_method": found.method,
    }


def _multiplicity(by_category: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Holm and Benjamini-Hochberg over the primary outcome's p-values of the categories pooled."""
    p_values: dict[str, float] = {}
    for category, entries in by_category.items():
        widened = statistics.pool([(e["log_odds_ratio"], e["variance_overdispersion"]) for e in entries])
        if widened is not None:
            p_values[category] = widened.random.p_value
    names = list(p_values)
    holm = pooling.adjust([p_values[n] for n in names], "holm")
    bh = pooling.adjust([p_values[n] for n in names], "fdr_bh")
    return {
        "outcome": PRIMARY,
        "method": f"across the {len(names)} recommendation categories pooled: {holm.method}; {bh.method}",
        "by_recommendation_category": {
            n: {
                "p_value": round(p_values[n], 4),
                "holm_p_value": round(holm.adjusted[i], 4),
                "benjamini_hochberg_p_value": round(bh.adjusted[i], 4),
                "holm_significant": holm.rejected[i],
                "benjamini_hochberg_significant": bh.rejected[i],
            }
            for i, n in enumerate(names)
        },
    }


def _corrections(entries: Sequence[dict[str, Any]]) -> list[str]:
    done = []
    widened = [e["dispersion_phi"] for e in entries if e["dispersion_phi"] > 1]
    if widened:
        done.append(
            f"over-dispersion: {len(widened)} audits' variances multiplied by phi ({min(widened)}-{max(widened)})"
        )
    corrected = sum(1 for e in entries if e["zero_cell_correction"])
    if corrected:
        done.append(f"Haldane-Anscombe: 0.5 added to the cells of {corrected} audits with a zero count")
    return done


async def _entry(
    session: AsyncSession, subject: Subject, window_days: int, categories: Sequence[str], today: date
) -> dict[str, Any]:
    target = target_of(subject)
    parts = await assemble(session, subject, Params(window_days, tuple(categories)), today=today)
    window, day = parts.window, parts.window.intervention
    t, c = parts.counts.target, parts.counts.control
    odds = statistics.odds_ratio(t.before, t.after, c.before, c.after)
    return {
        "audit_id": subject.audit.id,
        "neighbourhood_id": target.id,
        "intervention_date": day,
        "recommendation_categories": sorted({r.category.value for r in subject.implemented}),
        "target": t.as_dict(),
        "control": c.as_dict(),
        "odds_ratio": round(odds.value, 4),
        "odds_ratio_ci95": [round(x, 4) for x in odds.ci95],
        "log_odds_ratio": odds.log,
        "variance": odds.variance,
        "variance_overdispersion": parts.dispersion.phi * odds.variance,
        "zero_cell_correction": odds.corrected,
        "dispersion_phi": round(parts.dispersion.phi, 4),
        "insufficient_data": missing_data(parts.counts),
        "implementation_period": window.implementation_period.as_list(),
        "before_window": window.before.as_list(),
        "after_window": window.after.as_list(),
        "complete": window.complete,
    }


async def _subjects(session: AsyncSession, principal: Principal) -> list[Subject]:
    audits = [AuditState.model_validate(a) for a in await states.live_states(session, "audit")]
    audits = [a for a in audits if principal.can_read([a.partnership_id])]
    recs = [RecommendationState.model_validate(r) for r in await states.children(session, [a.id for a in audits])]
    by_audit: dict[uuid.UUID, list[RecommendationState]] = {}
    for rec in recs:
        by_audit.setdefault(rec.audit_id, []).append(rec)
    places = await neighbourhoods(session)
    subjects = [
        Subject(a, by_audit.get(a.id, []), places) for a in sorted(audits, key=lambda a: (a.conducted_on, a.id))
    ]
    return [s for s in subjects if s.implemented]


async def _pooled_entries(
    session: AsyncSession,
    subjects: Sequence[Subject],
    *,
    window_days: int,
    categories: Sequence[str],
    include_incomplete: bool,
    today: date,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each audit's entry, and the audits left out with their reasons."""
    included: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for subject in subjects:
        try:
            entry = await _entry(session, subject, window_days, categories, today)
        except MissingData as exc:
            excluded.append({"audit_id": subject.audit.id, "reason": exc.detail})
            continue
        if not entry["complete"] and not include_incomplete:
            excluded.append({"audit_id": subject.audit.id, "reason": "the after window is still running"})
            continue
        if entry["insufficient_data"]:
            excluded.append({"audit_id": subject.audit.id, "reason": "; ".join(entry["insufficient_data"])})
            continue
        included.append(entry)
    return included, excluded


def _by_category(included: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        category: [e for e in included if category in e["recommendation_categories"]]
        for category in sorted({c for e in included for c in e["recommendation_categories"]})
    }


async def summary(
    session: AsyncSession,
    principal: Principal,
    *,
    window_days: int,
    categories: Sequence[str],
    include_incomplete: bool,
    today: date,
    family: str = "all",
    category_map_version: int | None = None,
) -> dict[str, Any]:
    chosen = await resolve(session, Params(window_days, tuple(categories), family=family,
                                           category_map_version=category_map_version))  # fmt: skip
    categories = chosen.categories
    included, excluded = await _pooled_entries(
        session,
        await _subjects(session, principal),
        window_days=window_days,
        categories=categories,
        include_incomplete=include_incomplete,
        today=today,
    )
    grouped = _by_category(included)
    by_category = {category: _pooled(entries) for category, entries in grouped.items()}
    few = len(included) < pooling.FEW_STUDIES
    return {
        "window_days": window_days,
        "categories": list(categories),
        "family": family,
        "category_map_version": chosen.category_map_version,
        "few_audits": few,
        "few_audits_warning": _few_warning(len(included)) if few else None,
        "multiplicity": _multiplicity(grouped),
        "include_incomplete": include_incomplete,
        "complete": all(e["complete"] for e in included),
        "primary": PRIMARY,
        "corrections": _corrections(included),
        "pooled": _pooled(included),
        "by_recommendation_category": by_category,
        "audits": included,
        "excluded": excluded,
        "method": (
            "Per audit: odds ratio of target vs the other neighbourhoods of its municipality with no recommendation "
            "implemented inside the windows (Welsh & Farrington), windows around the implementation period; "
            "Haldane-Anscombe 0.5 added to all cells when one is zero. Pooled: inverse-variance fixed effect "
            f"(weights 1/V) and DerSimonian-Laird random effects, 95% CI with z = {statistics.Z:.6f}; "
            "Q is Cochran's heterogeneity statistic. An audit counts in each category it implemented. "
            f"Primary outcome ({PRIMARY}): the random-effects estimate with each audit's V multiplied by the "
            "over-dispersion phi of its monthly counts; audits without incidents in a whole control or "
            "municipality window (a missing feed) are excluded."
        ),
    }


def _few_warning(pooled: int) -> str:
    return (
        f"{pooled} audits pooled: with fewer than {pooling.FEW_STUDIES} the between-audit variance "
        "is barely estimable; read the Hartung-Knapp CI and the prediction interval, not the DerSimonian-Laird CI"
    )


def _primary_of(entries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    pooled = _pooled(entries)
    return None if pooled is None else pooled["primary"]


async def families(
    session: AsyncSession,
    principal: Principal,
    *,
    window_days: int,
    include_incomplete: bool,
    today: date,
    category_map_version: int | None = None,
) -> dict[str, Any]:
    """The primary outcome pooled for every outcome family, overall and per recommendation category, with
    Holm and Benjamini-Hochberg across all of those tests at once: reading several families side by side is
    several tests, and a family that looks "significant" among many must survive the adjustment."""
    current = await resolve(session, Params(window_days, category_map_version=category_map_version))
    chosen_map = await category_maps.in_use(session, current.category_map_version)
    subjects = await _subjects(session, principal)
    rows: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    for family in [ALL, *sorted(chosen_map.families)]:
        params = await resolve(session, replace(current, family=family))
        included, excluded = await _pooled_entries(
            session,
            subjects,
            window_days=window_days,
            categories=params.categories,
            include_incomplete=include_incomplete,
            today=today,
        )
        primary = _primary_of(included)
        rows.append(
            {
                "family": family,
                "categories": list(params.categories),
                "audits": len(included),
                "excluded": len(excluded),
                "few_audits": len(included) < pooling.FEW_STUDIES,
                "primary": primary,
            }
        )
        cells: list[tuple[str | None, dict[str, Any] | None]] = [(None, primary)]
        cells += [(category, _primary_of(entries)) for category, entries in _by_category(included).items()]
        tests += [
            {"family": family, "recommendation_category": category, "p_value": found["p_value"]}
            for category, found in cells
            if found is not None
        ]
    holm = pooling.adjust([t["p_value"] for t in tests], "holm")
    bh = pooling.adjust([t["p_value"] for t in tests], "fdr_bh")
    for i, test in enumerate(tests):
        test |= {
            "holm_p_value": round(holm.adjusted[i], 4),
            "benjamini_hochberg_p_value": round(bh.adjusted[i], 4),
            "holm_significant": holm.rejected[i],
            "benjamini_hochberg_significant": bh.rejected[i],
        }
    return {
        "window_days": window_days,
        "category_map_version": chosen_map.version,
        "include_incomplete": include_incomplete,
        "outcome": PRIMARY,
        "families": rows,
        "tests": tests,
        "method": (
            f"Each family pooled as GET /v1/evaluations/summary pools it (primary outcome {PRIMARY}), overall and "
            f"per recommendation category; {len(tests)} tests adjusted together: {holm.method}; {bh.method}. "
            "Families overlap ('all' holds the others), so the tests are not independent: Holm holds under any "
            "dependence; Benjamini-Hochberg assumes positive dependence, which overlapping counts give."
        ),
    }
