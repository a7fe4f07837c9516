"""The indicators of the CSWB feed, each tagged with its area of Ontario's CSWB framework.

The Community Safety and Well-Being Planning Framework has four areas:
social development (root causes, connected communities), prevention (reducing
identified risks: CPTED is situational prevention), risk intervention
(situations of elevated risk: diversion, treatment options for people at risk
or charged) and incident response (frontline responders).

``CATALOGUE`` is the single source of each indicator's area and unit; the
published JSON Schema is generated from it. A *family* is one small function
from a scope's data to its indicators; to add indicators, add their entries
to the catalogue and a family to ``FAMILIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.metrics.totals.domain import contributions as c
from shared.contracts.vocabulary import RecommendationCategory, RecommendationStatus

PERIODS = ("day", "year_to_date", "to_date")
"""The feed's date alone; 1 January of its year to the date; everything up to the date. Local days, inclusive."""

Value = int | float | None


class Area(StrEnum):
    social_development = "social_development"
    prevention = "prevention"
    risk_intervention = "risk_intervention"
    incident_response = "incident_response"


@dataclass(frozen=True)
class Spec:
    area: Area
    text: str
    unit: str = "count"
    breakdown: str | None = None
    total: str | None = None
    """The indicator its breakdown adds up to, if any (its cells can be derived from it)."""


P, SD, RI, IR = Area.prevention, Area.social_development, Area.risk_intervention, Area.incident_response
CATALOGUE: dict[str, Spec] = {
    "audits": Spec(P, "CPTED audits conducted"),
    "audits_completed": Spec(P, "CPTED audits completed"),
    "recommendations": Spec(P, "recommendations of the audits conducted"),
    "recommendations_implemented": Spec(P, "recommendations implemented (by implementation date)"),
    "recommendations_by_status": Spec(
        P, "recommendations of the audits conducted, by status now", breakdown="status", total="recommendations"
    ),
    "recommendations_by_category": Spec(
        P, "recommendations of the audits conducted, by category", breakdown="category", total="recommendations"
    ),
    "audit_requests": Spec(P, "requests for an audit received from residents or 311"),
    "audit_requests_open": Spec(P, "requests received that are still open"),
    "events": Spec(SD, "community events held or scheduled (not cancelled)"),
    "special_events": Spec(SD, "special events within the formalized partnerships"),
    "officers_attending": Spec(SD, "officer attendances at community events"),
    "stakeholders": Spec(SD, "community connections of the partnerships"),
    "new_connections": Spec(SD, "community connections made"),
    "materials": Spec(RI, "outreach materials published (diversion, treatment options, ...)"),
    "translations": Spec(RI, "translations of outreach materials"),
    "copies_distributed": Spec(RI, "copies of outreach materials distributed"),
    "trainings": Spec(IR, "training sessions for recruits and frontline officers"),
    "trainees": Spec(IR, "officers trained"),
    "incidents": Spec(IR, "crime incidents reported"),
    "incidents_by_category": Spec(IR, "crime incidents reported, by category", breakdown="category", total="incidents"),
    "pooled_audits": Spec(P, "audits in the pooled before/after evaluation"),
    "pooled_odds_ratio": Spec(P, "pooled odds ratio, fixed effect (above 1: fewer crimes than control)", "ratio"),
    "pooled_odds_ratio_ci95_low": Spec(P, "lower bound of its 95% confidence interval", "ratio"),
    "pooled_odds_ratio_ci95_high": Spec(P, "upper bound of its 95% confidence interval", "ratio"),
    "pooled_relative_effect_percent": Spec(P, "relative effect, 100*(1/OR - 1) (negative: a reduction)", "percent"),
    "pooled_random_effects_odds_ratio": Spec(P, "pooled odds ratio, DerSimonian-Laird random effects", "ratio"),
    "pooled_i2_percent": Spec(P, "heterogeneity between audits (I squared)", "percent"),
    "pooled_primary_odds_ratio": Spec(
        P,
        "the primary outcome: pooled odds ratio, random effects with each audit's variance widened by the "
        "over-dispersion of its monthly counts (see evaluation.method at the root)",
        "ratio",
    ),
    "pooled_primary_odds_ratio_ci95_low": Spec(P, "lower bound of the primary outcome's 95% CI", "ratio"),
    "pooled_primary_odds_ratio_ci95_high": Spec(P, "upper bound of the primary outcome's 95% CI", "ratio"),
    "pooled_audits_excluded": Spec(P, "audits left out of the pooled evaluation (window running, missing data)"),
    "pooled_odds_ratio_by_category": Spec(
        P, "pooled odds ratio, fixed effect, of the audits that implemented a category", "ratio", "category"
    ),
}


@dataclass(frozen=True)
class Indicator:
    indicator: str
    values: Mapping[str, Value]
    key: str | None = None
    suppressed: tuple[str, ...] = ()

    @property
    def spec(self) -> Spec:
        return CATALOGUE[self.indicator]

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"indicator": self.indicator, "area": self.spec.area.value, "unit": self.spec.unit}
        if self.key is not None:
            row["key"] = self.key
        row["values"] = dict(self.values)
        if self.suppressed:
            row["suppressed"] = list(self.suppressed)
        return row


ZERO = (0, 0, 0)


@dataclass(frozen=True)
class ScopeData:
    """What one scope (the programme, a neighbourhood, a partnership) counted, one value per period."""

    counters: Mapping[str, Sequence[int]] = field(default_factory=dict)
    incidents: Mapping[str, Sequence[int]] = field(default_factory=dict)
    evaluation: Mapping[str, Any] | None = None
    """The pooled evaluation summary; only the programme as a whole has one."""

    def count(self, name: str, metric: str | None = None, key: str | None = None) -> Indicator:
        values = self.counters.get(metric or name, ZERO)
        return Indicator(name, dict(zip(PERIODS, values, strict=True)), key)

    def breakdown(self, name: str, prefix: str, keys: Sequence[str]) -> list[Indicator]:
        return [self.count(name, prefix + key, key) for key in keys]


def audits(d: ScopeData) -> list[Indicator]:
    return [d.count("audits", c.AUDITS), d.count("audits_completed", c.AUDITS_COMPLETED)]


def recommendations(d: ScopeData) -> list[Indicator]:
    return [
        d.count("recommendations", c.RECOMMENDATIONS),
        d.count("recommendations_implemented", c.IMPLEMENTED),
        *d.breakdown("recommendations_by_status", c.BY_STATUS, [s.value for s in RecommendationStatus]),
        *d.breakdown("recommendations_by_category", c.BY_CATEGORY, [k.value for k in RecommendationCategory]),
    ]


def audit_requests(d: ScopeData) -> list[Indicator]:
    return [d.count("audit_requests", c.AUDIT_REQUESTS), d.count("audit_requests_open", c.AUDIT_REQUESTS_OPEN)]


def engagement(d: ScopeData) -> list[Indicator]:
    names = (c.EVENTS, c.SPECIAL_EVENTS, c.OFFICERS_ATTENDING, c.STAKEHOLDERS, c.NEW_CONNECTIONS)
    return [d.count(name) for name in names]


def outreach(d: ScopeData) -> list[Indicator]:
    return [d.count(name) for name in (c.MATERIALS, c.TRANSLATIONS, c.COPIES_DISTRIBUTED)]


def training(d: ScopeData) -> list[Indicator]:
    return [d.count(name) for name in (c.TRAININGS, c.TRAINEES)]


def crime(d: ScopeData) -> list[Indicator]:
    total = [sum(values[i] for values in d.incidents.values()) for i in range(len(PERIODS))]
    by_category = [
        Indicator("incidents_by_category", dict(zip(PERIODS, d.incidents[k], strict=True)), k)
        for k in sorted(d.incidents)
    ]
    return [Indicator("incidents", dict(zip(PERIODS, total, strict=True))), *by_category]


def _as_of(value: Value) -> dict[str, Value]:
    """The evaluation is as of the feed's date: it has a value for ``to_date`` only."""
    return {"to_date": value}


def evaluation_note(evaluation: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a reader needs to trust the pooled figures: the primary outcome, its method, the corrections."""
    pooled = (evaluation or {}).get("pooled") or {}
    primary = pooled.get("primary") or {}
    return {
        "primary": (evaluation or {}).get("primary"),
        "significant": primary.get("significant"),
        "method": (evaluation or {}).get("method"),
        "corrections": list((evaluation or {}).get("corrections") or []),
        "complete": bool((evaluation or {}).get("complete", True)),
    }


def evaluation(d: ScopeData) -> list[Indicator]:
    if d.evaluation is None:
        return []
    pooled = d.evaluation.get("pooled") or {}
    fixed, random = pooled.get("fixed_effect") or {}, pooled.get("random_effects") or {}
    ci = fixed.get("odds_ratio_ci95") or [None, None]
    primary = pooled.get("primary") or {}
    primary_ci = primary.get("odds_ratio_ci95") or [None, None]
    rows = [
        Indicator("pooled_audits", _as_of(pooled.get("audits", 0))),
        Indicator("pooled_odds_ratio", _as_of(fixed.get("odds_ratio"))),
        Indicator("pooled_odds_ratio_ci95_low", _as_of(ci[0])),
        Indicator("pooled_odds_ratio_ci95_high", _as_of(ci[1])),
        Indicator("pooled_relative_effect_percent", _as_of(fixed.get("relative_effect_percent"))),
        Indicator("pooled_random_effects_odds_ratio", _as_of(random.get("odds_ratio"))),
        Indicator("pooled_i2_percent", _as_of(pooled.get("i2_percent"))),
        Indicator("pooled_primary_odds_ratio", _as_of(primary.get("odds_ratio"))),
        Indicator("pooled_primary_odds_ratio_ci95_low", _as_of(primary_ci[0])),
        Indicator("pooled_primary_odds_ratio_ci95_high", _as_of(primary_ci[1])),
        Indicator("pooled_audits_excluded", _as_of(len(d.evaluation.get("excluded") or []))),
    ]
    by_category = d.evaluation.get("by_recommendation_category") or {}
    for key in sorted(by_category):
        estimate = (by_category[key] or {}).get("fixed_effect") or {}
        rows.append(Indicator("pooled_odds_ratio_by_category", _as_of(estimate.get("odds_ratio")), key))
    return rows


Family = Callable[[ScopeData], list[Indicator]]
FAMILIES: tuple[Family, ...] = (
    audits,
    recommendations,
    audit_requests,
    engagement,
    outreach,
    training,
    crime,
    evaluation,
)


def indicators(data: ScopeData) -> list[Indicator]:
    return [row for family in FAMILIES for row in family(data)]
