"""Evaluating one audit: its implementation period, windows, areas, counts, dispersion and statistics; its chart."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.domain.incidents import utc_bounds
from services.metrics.evaluation.domain import areas, statistics
from services.metrics.evaluation.domain.estimators import outcome_families
from services.metrics.evaluation.domain.evaluation import AreaCounts, Counts, dispersion_of, evaluate
from services.metrics.evaluation.domain.windows import (
    Period,
    Windows,
    history,
    implementation_period,
    intervention_date,
    month_starts,
    windows,
)
from services.metrics.evaluation.handlers import category_maps
from services.metrics.evaluation.store import queries
from services.metrics.totals.store import queries as states
from shared.auth.keys import Principal
from shared.contracts.events.audits import AuditState, NeighbourhoodState, RecommendationState
from shared.contracts.geo import stored_shape
from shared.contracts.vocabulary import RecommendationStatus
from shared.errors import InvalidField, NotFound, Problem


class MissingData(Problem):
    status, type, title = 409, "missing-data", "Not enough data to evaluate"


Implementation = Literal["implemented", "first_implemented", "first_in_progress"]
"""``implemented``: first to last ``implemented_on``; ``first_implemented``: the first day alone;
``first_in_progress``: from the first day a recommendation of the audit went in progress to the last
``implemented_on``."""


@dataclass(frozen=True)
class Params:
    window_days: int = 365
    categories: tuple[str, ...] = ()
    buffer_m: float | None = None
    control_ids: tuple[uuid.UUID, ...] = ()
    implementation: Implementation = "implemented"
    implementation_period: tuple[date, date] | None = None
    """Given dates override what the recommendations say."""
    family: str = outcome_families.ALL
    """Outcome family whose categories (through the category map) are counted; ``categories`` narrows it further."""
    category_map_version: int | None = None
    """The category map version to use; None: the current one. Once resolved, the version used."""


@dataclass(frozen=True)
class Subject:
    """An audit with what metrics knows of it: recommendations and every neighbourhood."""

    audit: AuditState
    recommendations: list[RecommendationState]
    neighbourhoods: dict[uuid.UUID, NeighbourhoodState]
    in_progress_on: date | None = None
    """The first day one of its recommendations was recorded in progress, if any was."""

    @property
    def implemented(self) -> list[RecommendationState]:
        return [r for r in self.recommendations if r.status is RecommendationStatus.implemented and r.implemented_on]

    def intervention(self) -> tuple[date, str]:
        day = intervention_date(self.audit.conducted_on, [r.implemented_on for r in self.implemented])
        return day, "implemented_on" if self.implemented else "conducted_on"

    def implementation(self, params: Params) -> tuple[date, date, str]:
        """The implementation period left out of both windows, and where its dates come from."""
        if params.implementation_period is not None:
            return (*params.implementation_period, "given")
        first, last = implementation_period(self.audit.conducted_on, [r.implemented_on for r in self.implemented])
        source = "implemented_on" if self.implemented else "conducted_on"
        if params.implementation == "first_implemented":
            return first, first, source
        if params.implementation == "first_in_progress":
            if self.in_progress_on is None:
                return first, last, f"{source}: no recommendation was recorded in progress"
            if self.in_progress_on < first:
                return self.in_progress_on, last, f"in_progress to {source}"
        return first, last, source


async def resolve(session: AsyncSession, params: Params) -> Params:
    """``params`` with the category map version it uses and ``categories`` set to every category the map places in
    its family (narrowed by the categories given). Categories the data lacks count zero, so a family without data
    is reported as missing data by the evaluation itself, never as a family without categories."""
    chosen_map = await category_maps.in_use(session, params.category_map_version)
    params = replace(params, category_map_version=chosen_map.version)
    if params.family == outcome_families.ALL:
        return params
    if params.family not in chosen_map.families:
        known = ", ".join([outcome_families.ALL, *sorted(chosen_map.families)])
        raise InvalidField(
            f"unknown outcome family in category map version {chosen_map.version}; one of {known}",
            field="query.family",
        )
    chosen = outcome_families.select(chosen_map, params.family, chosen_map.categories).categories
    if params.categories:
        chosen = tuple(c for c in chosen if c in params.categories)
        if not chosen:
            raise InvalidField(f"none of the given categories belongs to '{params.family}'", field="query.family")
    return replace(params, categories=chosen)


async def load_subject(session: AsyncSession, audit_id: uuid.UUID, principal: Principal) -> Subject:
    found = await states.live_states(session, "audit", [audit_id])
    if not found:
        raise NotFound(f"audit {audit_id} not found")
    audit = AuditState.model_validate(found[0])
    principal.ensure_visible([audit.partnership_id], f"audit {audit_id}")
    recommendations = [RecommendationState.model_validate(r) for r in await states.children(session, [audit_id])]
    started = await states.first_in_progress(session, [audit_id])
    return Subject(audit, recommendations, await neighbourhoods(session), started.get(audit_id))


async def neighbourhoods(session: AsyncSession) -> dict[uuid.UUID, NeighbourhoodState]:
    found = [NeighbourhoodState.model_validate(s) for s in await states.live_states(session, "neighbourhood")]
    return {n.id: n for n in found}


def target_of(subject: Subject) -> NeighbourhoodState:
    target = subject.neighbourhoods.get(subject.audit.neighbourhood_id)
    if target is None or not target.boundary:
        raise MissingData(
            f"neighbourhood {subject.audit.neighbourhood_id} of audit {subject.audit.id} has no boundary known to "
            "metrics: the audits service has not published it yet, or the consumer is behind",
            missing="neighbourhood_boundary",
            neighbourhood_id=str(subject.audit.neighbourhood_id),
        )
    return target


def control_of(
    subject: Subject,
    target: NeighbourhoodState,
    given: Sequence[uuid.UUID],
    window: Windows,
    implemented: Mapping[uuid.UUID, Sequence[date]],
) -> tuple[list[uuid.UUID], str]:
    """The control neighbourhoods: those given, else every other one of the target's municipality in which no
    recommendation was implemented between the first day of the before window and the last of the after one."""
    field = "query.control_neighbourhood_ids"
    if given:
        if target.id in given:
            raise InvalidField("the control may not include the audited neighbourhood", field=field)
        unknown = [str(i) for i in given if i not in subject.neighbourhoods]
        if unknown:
            raise InvalidField(f"unknown neighbourhoods: {', '.join(unknown)}", field=field)
        return sorted(set(given)), f"the {len(set(given))} neighbourhoods given"
    others = [n.id for n in subject.neighbourhoods.values() if n.municipality == target.municipality]
    others = [i for i in others if i != target.id]
    first, last = window.before.first, window.after.last
    treated = {i for i in others if any(first <= day <= last for day in implemented.get(i, ()))}
    ids = sorted(i for i in others if i not in treated)
    if not ids:
        raise MissingData(
            f"no control area: {target.municipality} has no other neighbourhood without a recommendation "
            "implemented inside the windows; give control_neighbourhood_ids",
            missing="control_area",
        )
    left_out = f" ({len(treated)} left out: a recommendation was implemented there inside the windows)"
    return ids, (
        f"the {len(ids)} other neighbourhoods of {target.municipality} with no recommendation implemented inside "
        f"either window{left_out if treated else ''}, minus the buffer ring"
    )


async def buffer_counts(
    session: AsyncSession,
    rings: areas.Rings,
    outside: Sequence[uuid.UUID],
    control: Sequence[uuid.UUID],
    window: Windows,
    params: Params,
    zone: str,
) -> tuple[Counts, Counts, Counts]:
    """Buffer and buffer-control counts, and the control's incidents that lie in the buffer (carved out of it)."""
    before = utc_bounds(window.before.first, window.before.last, zone)
    after = utc_bounds(window.after.first, window.after.last, zone)
    boxes = rings.bounds_degrees(), rings.buffer_bounds_degrees()
    lon, lat, is_after, in_control = await queries.ring_candidates(
        session, boxes[0], outside, control, boxes[1], before, after, params.categories
    )
    in_buffer, in_buffer_control = rings.count(lon, lat)
    in_buffer_control &= ~in_control

    def split(mask: np.ndarray) -> Counts:
        return Counts(int(np.sum(mask & ~is_after)), int(np.sum(mask & is_after)))

    return split(in_buffer), split(in_buffer_control), split(in_buffer & in_control)


@dataclass(frozen=True)
class Assembled:
    """What an evaluation is computed from: windows, areas, their counts and the dispersion."""

    window: Windows
    source: str
    control_ids: list[uuid.UUID]
    control_text: str
    counts: AreaCounts
    dispersion: statistics.Dispersion
    found: queries.CategoryHistory
    """The counts read: per neighbourhood and category in each window, and monthly over the history and after."""


def _sum(found: dict[uuid.UUID, Counts], ids: Sequence[uuid.UUID]) -> Counts:
    return Counts(
        sum(found[i].before for i in ids if i in found),
        sum(found[i].after for i in ids if i in found),
    )


async def assemble(session: AsyncSession, subject: Subject, params: Params, *, today: date) -> Assembled:
    """Windows, default control, the counts of target, control and municipality, and the dispersion."""
    target = target_of(subject)
    first, last, source = subject.implementation(params)
    window = windows(first, params.window_days, today, implemented_until=last)
    given = params.control_ids
    implemented = {} if given else await queries.implemented_days(session)
    control_ids, control_text = control_of(subject, target, given, window, implemented)
    municipality = [n.id for n in subject.neighbourhoods.values() if n.municipality == target.municipality]
    past = history(window)
    ids = sorted({target.id, *control_ids, *municipality})
    span = Period(past.first, max(window.after.last, past.last))
    found = await queries.category_windows_and_months(
        session, ids, window.before, window.after, span, params.categories
    )
    spread = dispersion_of(found.monthly, [[target.id], control_ids], municipality, month_starts(past))
    totals = found.totals()
    counts = AreaCounts(_sum(totals, [target.id]), _sum(totals, control_ids), municipality=_sum(totals, municipality))
    return Assembled(window, source, control_ids, control_text, counts, spread, found)


async def evaluate_audit(
    session: AsyncSession, subject: Subject, params: Params, *, zone: str, today: date
) -> dict[str, Any]:
    answer, _ = await evaluate_with_parts(session, subject, await resolve(session, params), zone=zone, today=today)
    return answer


async def audit_evaluation(
    session: AsyncSession, principal: Principal, audit_id: uuid.UUID, params: Params, *, zone: str, today: date
) -> dict[str, Any]:
    """The evaluation of an audit the key may read."""
    subject = await load_subject(session, audit_id, principal)
    return await evaluate_audit(session, subject, params, zone=zone, today=today)


async def evaluate_with_parts(
    session: AsyncSession, subject: Subject, params: Params, *, zone: str, today: date
) -> tuple[dict[str, Any], Assembled]:
    """The evaluation and what it was computed from; ``params`` are resolved already (``resolve``)."""
    target = target_of(subject)
    parts = await assemble(session, subject, params, today=today)
    counts, control_ids = parts.counts, parts.control_ids
    rings = None
    if params.buffer_m:
        control_shapes = [stored_shape(subject.neighbourhoods[i].boundary.model_dump()) for i in control_ids]
        rings = areas.rings(stored_shape(target.boundary.model_dump()), control_shapes, params.buffer_m)
        outside = [i for i in subject.neighbourhoods if i != target.id and i not in control_ids]
        buffer, buffer_control, carved = await buffer_counts(
            session, rings, outside, control_ids, parts.window, params, zone
        )
        control = Counts(counts.control.before - carved.before, counts.control.after - carved.after)
        counts = AreaCounts(counts.target, control, buffer, buffer_control, counts.municipality)
    answer = evaluate(
        subject.audit.id,
        parts.window,
        counts,
        zone=zone,
        crs=rings.projection.crs if rings else None,
        control=parts.control_text,
        dispersion=parts.dispersion,
    )
    return answer | {
        "neighbourhood_id": target.id,
        "intervention_source": parts.source,
        "categories": list(params.categories),
        "family": params.family,
        "category_map_version": params.category_map_version,
        "control_neighbourhood_ids": control_ids,
        "buffer_m": params.buffer_m,
        "areas": rings.geojson() if rings else None,
    }, parts
