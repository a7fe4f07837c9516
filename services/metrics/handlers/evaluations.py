"""Evaluating one audit: its intervention date, windows, areas, counts and statistics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.domain import areas
from services.metrics.domain.evaluation import AreaCounts, Counts, evaluate
from services.metrics.domain.windows import Windows, intervention_date, utc_bounds, windows
from services.metrics.store import crime_queries as queries
from shared.auth import Principal
from shared.errors import InvalidField, NotFound, Problem
from shared.events.audits import AuditState, NeighbourhoodState, RecommendationState
from shared.geo import stored_shape
from shared.vocabulary import RecommendationStatus


class MissingData(Problem):
    status, type, title = 409, "missing-data", "Not enough data to evaluate"


@dataclass(frozen=True)
class Params:
    window_days: int = 365
    categories: tuple[str, ...] = ()
    buffer_m: float | None = None
    control_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class Subject:
    """An audit with what metrics knows of it: recommendations and every neighbourhood."""

    audit: AuditState
    recommendations: list[RecommendationState]
    neighbourhoods: dict[uuid.UUID, NeighbourhoodState]

    @property
    def implemented(self) -> list[RecommendationState]:
        return [r for r in self.recommendations if r.status is RecommendationStatus.implemented and r.implemented_on]

    def intervention(self) -> tuple[date, str]:
        day = intervention_date(self.audit.conducted_on, [r.implemented_on for r in self.implemented])
        return day, "implemented_on" if self.implemented else "conducted_on"


async def load_subject(session: AsyncSession, audit_id: uuid.UUID, principal: Principal) -> Subject:
    found = await queries.live_states(session, "audit", [audit_id])
    if not found:
        raise NotFound(f"audit {audit_id} not found")
    audit = AuditState.model_validate(found[0])
    principal.ensure_visible([audit.partnership_id], f"audit {audit_id}")
    recommendations = [RecommendationState.model_validate(r) for r in await queries.children(session, [audit_id])]
    return Subject(audit, recommendations, await neighbourhoods(session))


async def neighbourhoods(session: AsyncSession) -> dict[uuid.UUID, NeighbourhoodState]:
    states = [NeighbourhoodState.model_validate(s) for s in await queries.live_states(session, "neighbourhood")]
    return {n.id: n for n in states}


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


def control_of(subject: Subject, target: NeighbourhoodState, given: Sequence[uuid.UUID]) -> tuple[list[uuid.UUID], str]:
    """The control neighbourhoods: those given, else every other one of the target's municipality."""
    field = "query.control_neighbourhood_ids"
    if given:
        if target.id in given:
            raise InvalidField("the control may not include the audited neighbourhood", field=field)
        unknown = [str(i) for i in given if i not in subject.neighbourhoods]
        if unknown:
            raise InvalidField(f"unknown neighbourhoods: {', '.join(unknown)}", field=field)
        return sorted(set(given)), f"the {len(set(given))} neighbourhoods given"
    ids = sorted(
        n.id for n in subject.neighbourhoods.values() if n.municipality == target.municipality and n.id != target.id
    )
    if not ids:
        raise MissingData(
            f"no control area: {target.municipality} has no other neighbourhood; give control_neighbourhood_ids",
            missing="control_area",
        )
    return ids, f"the {len(ids)} other neighbourhoods of {target.municipality}"


async def buffer_counts(
    session: AsyncSession, rings: areas.Rings, outside: Sequence[uuid.UUID], window: Windows, params: Params, zone: str
) -> tuple[Counts, Counts]:
    before = utc_bounds(window.before.first, window.before.last, zone)
    after = utc_bounds(window.after.first, window.after.last, zone)
    box = rings.bounds_degrees()
    lon, lat, is_after = await queries.ring_candidates(session, box, outside, before, after, params.categories)
    in_buffer, in_control = rings.count(lon, lat)

    def split(mask: np.ndarray) -> Counts:
        return Counts(int(np.sum(mask & ~is_after)), int(np.sum(mask & is_after)))

    return split(in_buffer), split(in_control)


async def evaluate_audit(
    session: AsyncSession, subject: Subject, params: Params, *, zone: str, today: date
) -> dict[str, Any]:
    target = target_of(subject)
    control_ids, control_text = control_of(subject, target, params.control_ids)
    day, source = subject.intervention()
    window = windows(day, params.window_days, today)
    cats = params.categories
    counts = AreaCounts(
        await queries.area_counts(session, [target.id], window.before, window.after, cats),
        await queries.area_counts(session, control_ids, window.before, window.after, cats),
    )
    rings = None
    if params.buffer_m:
        control_shapes = [stored_shape(subject.neighbourhoods[i].boundary) for i in control_ids]
        rings = areas.rings(stored_shape(target.boundary), control_shapes, params.buffer_m)
        outside = [i for i in subject.neighbourhoods if i != target.id and i not in control_ids]
        buffer, buffer_control = await buffer_counts(session, rings, outside, window, params, zone)
        counts = AreaCounts(counts.target, counts.control, buffer, buffer_control)
    answer = evaluate(
        subject.audit.id, window, counts, zone=zone, crs=rings.projection.crs if rings else None, control=control_text
    )
    return answer | {
        "neighbourhood_id": target.id,
        "intervention_source": source,
        "categories": list(cats),
        "control_neighbourhood_ids": control_ids,
        "buffer_m": params.buffer_m,
        "areas": rings.geojson() if rings else None,
    }
