"""The running totals answer, assembled from summed counters: overall, or one per partnership or neighbourhood."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field
from pydantic.config import JsonDict

from services.metrics.totals.domain.contributions import BY_CATEGORY, BY_STATUS
from shared.contracts.vocabulary import RecommendationCategory, RecommendationStatus


def _every_key(vocabulary: type[StrEnum]) -> JsonDict:
    """Names each key of a map that has them all, so generated clients (openapi-typescript reads no propertyNames) type
    it by the vocabulary, not by any string."""
    return {"properties": {v.value: {"type": "integer"} for v in vocabulary}, "required": [v.value for v in vocabulary]}


class Totals(BaseModel):
    partnerships: int = 0
    audits: int = 0
    audits_completed: int = 0
    recommendations: int = 0
    recommendations_implemented: int = 0
    recommendations_by_status: dict[RecommendationStatus, int] = Field(
        description="every status, zero if none", json_schema_extra=_every_key(RecommendationStatus)
    )
    recommendations_by_category: dict[RecommendationCategory, int] = Field(
        description="every category, zero if none", json_schema_extra=_every_key(RecommendationCategory)
    )
    events: int = 0
    special_events: int = 0
    officers_attending: int = 0
    materials: int = 0
    translations: int = 0
    copies_distributed: int = 0
    trainings: int = 0
    trainees: int = 0
    stakeholders: int = 0
    new_connections: int = 0
    audit_requests: int = 0
    audit_requests_open: int = 0
    as_of: datetime | None
    lag_events: int


class GroupTotals(Totals):
    id: str


SCALARS = frozenset(Totals.model_fields) - {
    "recommendations_by_status",
    "recommendations_by_category",
    "as_of",
    "lag_events",
}


def assemble(
    sums: Iterable[tuple[str, int]], *, partnerships: int, as_of: datetime | None, lag_events: int
) -> dict[str, object]:
    """Totals from ``(metric, value)`` sums; every status and category is present, zero if none."""
    answer: dict[str, object] = {
        "partnerships": partnerships,
        "recommendations_by_status": {s.value: 0 for s in RecommendationStatus},
        "recommendations_by_category": {c.value: 0 for c in RecommendationCategory},
        "as_of": as_of,
        "lag_events": lag_events,
    }
    for metric, value in sums:
        if metric.startswith(BY_STATUS):
            answer["recommendations_by_status"][metric.removeprefix(BY_STATUS)] = int(value)  # type: ignore[index]
        elif metric.startswith(BY_CATEGORY):
            answer["recommendations_by_category"][metric.removeprefix(BY_CATEGORY)] = int(value)  # type: ignore[index]
        elif metric in SCALARS:
            answer[metric] = int(value)
    return answer


def grouped(
    sums: Iterable[tuple[object, str, int]],
    partnerships: Iterable[tuple[uuid.UUID, list[str]]],
    group_by: str,
    *,
    as_of: datetime | None,
    lag_events: int,
) -> dict[str, dict[str, object]]:
    """Totals per group (``partnership_id`` or ``neighbourhood_id``) from ``(group, metric, value)`` sums, by id.

    Every known partnership has a row, counters or not; a neighbourhood's ``partnerships`` are those working in it.
    """
    by_group: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for group_id, metric, value in sums:
        by_group[str(group_id)].append((metric, value))
    partnerships_of: dict[str, int] = defaultdict(int)
    for pid, neighbourhoods in partnerships:
        if group_by == "partnership_id":
            partnerships_of[str(pid)] = 1
            by_group.setdefault(str(pid), [])
        else:
            for nid in neighbourhoods:
                partnerships_of[str(nid)] += 1
    return {
        gid: {"id": gid, **assemble(rows, partnerships=partnerships_of[gid], as_of=as_of, lag_events=lag_events)}
        for gid, rows in sorted(by_group.items())
    }
