"""The filters of the audit and recommendation lists, declared once: the lists and their exports take the same."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query

from shared.contracts.vocabulary import (
    AuditStatus,
    AuditTrigger,
    Priority,
    RecommendationCategory,
    RecommendationStatus,
)


@dataclass(frozen=True)
class AuditFilters:
    partnership_id: uuid.UUID | None = None
    neighbourhood_id: uuid.UUID | None = None
    status: AuditStatus | None = None
    trigger: AuditTrigger | None = None
    conducted_from: date | None = None
    conducted_to: date | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecommendationFilters:
    audit_id: uuid.UUID | None = None
    partnership_id: uuid.UUID | None = None
    neighbourhood_id: uuid.UUID | None = None
    category: RecommendationCategory | None = None
    status: RecommendationStatus | None = None
    priority: Priority | None = None
    conducted_from: date | None = None
    conducted_to: date | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


async def audit_filters(
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    status: AuditStatus | None = None,
    trigger: AuditTrigger | None = None,
    conducted_from: Annotated[date | None, Query(description="conducted on or after")] = None,
    conducted_to: Annotated[date | None, Query(description="conducted on or before")] = None,
) -> AuditFilters:
    return AuditFilters(partnership_id, neighbourhood_id, status, trigger, conducted_from, conducted_to)


async def recommendation_filters(
    audit_id: uuid.UUID | None = None,
    partnership_id: uuid.UUID | None = None,
    neighbourhood_id: uuid.UUID | None = None,
    category: RecommendationCategory | None = None,
    status: RecommendationStatus | None = None,
    priority: Priority | None = None,
    conducted_from: Annotated[date | None, Query(description="audit conducted on or after")] = None,
    conducted_to: Annotated[date | None, Query(description="audit conducted on or before")] = None,
) -> RecommendationFilters:
    return RecommendationFilters(
        audit_id, partnership_id, neighbourhood_id, category, status, priority, conducted_from, conducted_to
    )


AuditFiltersDep = Annotated[AuditFilters, Depends(audit_filters)]
RecommendationFiltersDep = Annotated[RecommendationFilters, Depends(recommendation_filters)]
