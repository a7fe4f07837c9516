"""Response bodies of the evaluations API (never the tables)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.fields import Input, Name
from shared.contracts.geo import BoundaryRead


class AreasRead(BaseModel):
    crs: str = Field(description="the metric projection the rings were drawn in (they are given in WGS84)")
    buffer: BoundaryRead
    buffer_control: BoundaryRead


class AreaCountsRead(BaseModel):
    before: int
    after: int


class OutcomeRead(BaseModel):
    outcome: str
    estimate: float | None
    ci95: list[float] | None
    p_value: float | None
    significant: bool | None
    method: str


class PrimaryRead(OutcomeRead):
    relative_effect_percent: float


class SecondaryRead(OutcomeRead):
    role: str = Field(description="secondary: reported, never decides `significant`")


class DispersionRead(BaseModel):
    phi: float = Field(description="the factor every adjusted variance is multiplied by (>= 1)")
    estimate: float | None = Field(description="Pearson chi-square / df before the floor at 1")
    months: int
    df: int
    reason: str | None = Field(description="why it could not be estimated (phi is then 1)")
    method: str


class WeightedWddRead(BaseModel):
    value: float
    variance: float
    z: float | None
    ci95: list[float]
    z_overdispersion: float | None
    ci95_overdispersion: list[float]
    control_weight: float = Field(description="target before-count / control before-count")
    buffer_control_weight: float | None
    significant: bool | None = Field(description="its over-dispersed CI excludes 0; null when the data cannot tell")


class EvaluationRead(BaseModel):
    audit_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    intervention_date: date
    intervention_source: str = Field(
        description="implemented_on (first implemented recommendation), conducted_on, given, or "
        "`in_progress to implemented_on` (implementation=first_in_progress); with a reason after a colon when "
        "the option asked for could not be followed"
    )
    implementation_period: list[date] = Field(description="left out of both windows: first and last day")
    window_days: int
    categories: list[str]
    target: AreaCountsRead
    control: AreaCountsRead
    control_neighbourhood_ids: list[uuid.UUID]
    buffer: AreaCountsRead | None
    buffer_control: AreaCountsRead | None
    buffer_m: float | None
    percent_change: float | None
    percent_change_reason: str | None
    odds_ratio: float
    odds_ratio_ci95: list[float]
    odds_ratio_p: float
    relative_effect_percent: float
    zero_cell_correction: bool
    wdq: float | None
    wdq_reason: str | None
    wdq_interpretation: str | None
    wdd: int
    wdd_variance: int
    wdd_z: float | None
    wdd_ci95: list[float]
    wdd_p: float | None
    wdd_significant: bool | None = Field(
        description="|wdd_z| > 1.96; null when the control is not within a factor 2 of the target's before-count, "
        "the after window is running or data is missing (see wdd_significant_reason)"
    )
    wdd_significant_reason: str | None
    wdd_z_overdispersion: float | None
    wdd_ci95_overdispersion: list[float]
    wdd_weighted: WeightedWddRead | None
    municipality: AreaCountsRead | None
    odds_ratio_ci95_overdispersion: list[float] = Field(description="exp(ln OR +/- z*sqrt(phi*V))")
    odds_ratio_p_overdispersion: float
    dispersion: DispersionRead
    primary: PrimaryRead = Field(description="the one outcome that decides `significant`")
    secondary: list[SecondaryRead]
    significant: bool | None = Field(
        description="the primary outcome's 95% CI excludes no effect; null with significant_reason when the data "
        "cannot tell (after window running, missing data)"
    )
    significant_reason: str | None
    insufficient_data: bool = Field(description="a whole window without incidents in the control or municipality")
    corrections: list[str]
    rates_per_day: dict[str, dict[str, float | None]] = Field(description="incidents per day of exposure")
    percent_change_per_day: float | None
    before_window: list[date]
    after_window: list[date]
    complete: bool = Field(description="false while the after window is still running")
    after_days_observed: int
    areas: AreasRead | None = Field(description="the buffer rings as GeoJSON (WGS84), when buffer_m is given")
    method: str
    family: str = Field(description="outcome family counted: all, or one of the category map's families")
    category_map_version: int = Field(description="version of the category map that chose `categories`")


class EstimatorRead(BaseModel):
    method: str
    reason: str | None = Field(description="why the estimator gave no figures (or what limits them); null when none")


class EmpiricalBayesRead(EstimatorRead):
    observed_before: int
    observed_after: int
    reference_neighbourhoods: int = Field(description="all neighbourhoods of the municipality, the target included")
    exposure: str = Field(description="what a neighbourhood's exposure n is measured in")
    prior_rate: float | None = Field(description="mu: incidents per unit of exposure in the reference population")
    prior_dispersion: float | None = Field(description="k: prior variance of the expected count is k*(mu*n)^2")
    prior_method: str | None
    predicted_before: float | None
    weight: float | None
    expected_before: float | None = Field(description="E(m|K): the before count with regression to the mean removed")
    expected_after: float | None = Field(description="pi: the after count expected had nothing been done")
    expected_after_variance: float | None
    theta: float | None = Field(description="index of effectiveness; < 1 a reduction")
    theta_variance: float | None
    theta_ci95: list[float] | None
    effect_percent: float | None = Field(description="100*(theta - 1): the EB-corrected effect")
    naive_ratio: float | None
    naive_effect_percent: float | None = Field(description="the same comparison without the correction")
    significant: bool | None


class SeasonalGlmRead(EstimatorRead):
    rate_ratio: float | None = Field(description="exp(beta) of target x after; < 1 a reduction")
    ci95: list[float] | None
    p_value: float | None
    effect_percent: float | None
    dispersion: float | None = Field(description="NB2 alpha; 0 when the counts were not over-dispersed")
    pretrend_p_value: float | None = Field(description="joint test that the target moved with its controls before")
    leads: list[float] | None


class SyntheticControlRead(EstimatorRead):
    donor_weights: dict[str, float] | None = Field(description="neighbourhood id -> weight, weights above 1e-6")
    synthetic: list[float] | None = Field(description="the synthetic series over pre and after months")
    pre_rmse: float | None = Field(description="fit: root mean square error over the pre months")
    target_pre_mean: float | None
    gap: list[float] | None = Field(description="target - synthetic for each after month")
    after_gap_total: float | None
    after_gap_percent: float | None
    placebo_p_value: float | None = Field(description="rank of the target's post/pre RMSPE among the placebos")
    placebos: int


class HarmWddRead(EstimatorRead):
    categories: list[str] = Field(description="categories weighted into the figure")
    unmapped: list[str] = Field(description="categories with incidents but no severity weight: left out")
    value: float | None
    variance: float | None
    z: float | None
    ci95: list[float] | None
    p_value: float | None
    weights_source: str
    weights_year: int
    comparable_control: bool = Field(description="the control's before-count is within a factor 2 of the target's")
    caution: str | None


class PowerRead(EstimatorRead):
    minimum_detectable_reduction_percent: float | None = Field(
        description="smallest reduction the current windows detect at 80% power"
    )
    power_at_planning_reduction: float | None = Field(description="power to detect a 20% reduction")
    after_months_needed: int | None = Field(description="after months a 20% reduction needs at 80% power")
    more_after_months_needed: int | None = Field(description="of those, how many beyond the months observed")
    months_reason: str | None


class MonthsUsedRead(BaseModel):
    pre_months: list[date]
    after_months: list[date]
    implementation_months_left_out: int


class EstimatorsRead(BaseModel):
    audit_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    family: str
    category_map_version: int
    categories: list[str]
    before_window: list[date]
    after_window: list[date]
    implementation_period: list[date]
    complete: bool
    target: AreaCountsRead
    control: AreaCountsRead
    control_neighbourhood_ids: list[uuid.UUID]
    dispersion_phi: float
    primary: PrimaryRead = Field(description="the evaluation's primary outcome, unchanged")
    significant: bool | None
    significant_reason: str | None
    monthly: MonthsUsedRead = Field(description="the whole calendar months the monthly models use")
    empirical_bayes: EmpiricalBayesRead
    seasonal_glm: SeasonalGlmRead
    synthetic_control: SyntheticControlRead
    harm_wdd: HarmWddRead
    power: PowerRead


FamilyName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$", max_length=40), Field(description="snake_case")
]
CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class CategoryMapRead(BaseModel):
    version: int
    effective_from: date
    note: str
    families: dict[str, str] = Field(description="family name -> label; 'all' is every category")
    categories: dict[str, list[str]] = Field(description="incident category -> the families it belongs to")
    created_at: datetime | None = Field(description="when an admin stored this version; null for the shipped one")
    created_by: str | None = Field(description="id of the key that stored it; null for the shipped one")


class CategoryMapPage(BaseModel):
    items: list[CategoryMapRead]
    next_cursor: str | None


class CategoryMapCreate(Input):
    """A new version of the whole map: it replaces the current version, which must be ``replaces_version``."""

    replaces_version: int = Field(
        ge=1, le=1_000_000, description="the current version, as read: a map changed since is a 409, not overwritten"
    )
    effective_from: date = Field(description="from when the map describes the data (information for readers)")
    note: str = Field("", max_length=2000, description="why this version: what changed and on whose word")
    families: dict[FamilyName, Name] = Field(
        min_length=1, max_length=50, description="family name -> label shown to people; 'all' is reserved"
    )
    categories: dict[CategoryName, list[FamilyName]] = Field(
        max_length=2000, description="incident category (normalised as incidents are) -> the families it belongs to"
    )


class TargetRead(BaseModel):
    rank: int
    neighbourhood_id: uuid.UUID
    name: str
    municipality: str
    population: int | None
    incidents: int
    rate_per_1000: float | None
    rate_per_1000_per_year: float | None
    previous_incidents: int
    previous_rate_per_1000: float | None
    change_percent: float | None
    trend: Literal["up", "down", "stable"]
    trend_z: float | None
    trend_p: float | None
    last_audit_on: date | None
    days_since_last_audit: int | None


class TargetingRead(BaseModel):
    period: list[date] = Field(description="[first, last] local day")
    previous_period: list[date]
    categories: list[str]
    municipality: str | None
    items: list[TargetRead]
    unassigned_incidents: int = Field(description="Incidents in the period placed in no neighbourhood")
    method: str
    next_cursor: str | None


class _Exact(BaseModel):
    """An answer built as a dict: a key the model does not declare is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PooledEstimateRead(_Exact):
    odds_ratio: float
    odds_ratio_ci95: list[float]
    log_odds_ratio: float
    se: float
    p_value: float
    relative_effect_percent: float
    significant: bool


class HartungKnappRead(_Exact):
    hartung_knapp_ci95: list[float] | None
    hartung_knapp_p_value: float | None
    prediction_interval95: list[float] | None = Field(description="from three audits on")
    hartung_knapp_reason: str | None
    hartung_knapp_method: str


class RandomEffectsRead(PooledEstimateRead, HartungKnappRead):
    tau2: float


class PooledPrimaryRead(RandomEffectsRead):
    outcome: str
    method: str


class PooledRead(_Exact):
    audits: int
    few_audits: bool
    fixed_effect: PooledEstimateRead
    random_effects: RandomEffectsRead
    q: float
    q_df: int
    q_p_value: float | None
    i2_percent: float
    primary: PooledPrimaryRead


class AdjustedRead(_Exact):
    p_value: float
    holm_p_value: float
    benjamini_hochberg_p_value: float
    holm_significant: bool
    benjamini_hochberg_significant: bool


class MultiplicityRead(_Exact):
    outcome: str
    method: str
    by_recommendation_category: dict[str, AdjustedRead]


class PooledAuditRead(_Exact):
    audit_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    intervention_date: date
    recommendation_categories: list[str]
    target: AreaCountsRead
    control: AreaCountsRead
    odds_ratio: float
    odds_ratio_ci95: list[float]
    log_odds_ratio: float
    variance: float
    variance_overdispersion: float
    zero_cell_correction: bool
    dispersion_phi: float
    insufficient_data: list[str] = Field(description="why the counts support no verdict; empty when they do")
    implementation_period: list[date]
    before_window: list[date]
    after_window: list[date]
    complete: bool


class ExcludedAuditRead(_Exact):
    audit_id: uuid.UUID
    reason: str


class SummaryRead(_Exact):
    window_days: int
    categories: list[str]
    family: str
    category_map_version: int
    few_audits: bool
    few_audits_warning: str | None
    multiplicity: MultiplicityRead
    include_incomplete: bool
    complete: bool
    primary: str = Field(description="the pooled outcome that decides: `pooled.primary`")
    corrections: list[str]
    pooled: PooledRead | None = Field(description="null when no audit could be pooled")
    by_recommendation_category: dict[str, PooledRead | None]
    audits: list[PooledAuditRead]
    excluded: list[ExcludedAuditRead]
    method: str


class FamilyPooledRead(BaseModel):
    family: str
    categories: list[str] = Field(description="incident categories counted; empty for 'all' (every category)")
    audits: int = Field(description="audits pooled")
    excluded: int = Field(description="audits left out (see GET /v1/evaluations/summary?family= for the reasons)")
    few_audits: bool
    primary: PooledPrimaryRead | None = Field(description="null when no audit could be pooled")


class FamilyTestRead(BaseModel):
    family: str
    recommendation_category: str | None = Field(description="null: every audit of the family")
    p_value: float
    holm_p_value: float
    benjamini_hochberg_p_value: float
    holm_significant: bool
    benjamini_hochberg_significant: bool


class FamiliesRead(BaseModel):
    window_days: int
    category_map_version: int
    include_incomplete: bool
    outcome: str
    families: list[FamilyPooledRead]
    tests: list[FamilyTestRead] = Field(description="every test of `families`, adjusted together")
    method: str
