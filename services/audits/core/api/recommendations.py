"""Recommendations of audits and their lifecycle: ``/v1/audits/{id}/recommendations``, ``/v1/recommendations``
(with ``/transitions``, one step at a time)."""

import uuid

from fastapi import APIRouter, Response

from services.audits.core.api.filters import RecommendationFiltersDep
from services.audits.core.handlers import recommendations
from services.audits.core.handlers.recommendations import RecommendationView
from services.audits.core.schemas import (
    RecommendationCreate,
    RecommendationRead,
    RecommendationUpdate,
    TransitionCreate,
    TransitionRead,
)
from services.audits.core.store.repository import PARENT_AUDIT
from services.audits.deps import ParentAuditRow, UowDep
from shared.auth.keys import ReaderKey
from shared.web.http import ClockDep, IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(tags=["recommendations"])


def _read(view: RecommendationView) -> RecommendationRead:
    row = view.recommendation
    return RecommendationRead(
        **row.model_dump(),
        partnership_id=view.audit.partnership_id,
        neighbourhood_id=view.audit.neighbourhood_id,
        history=[
            TransitionRead(
                from_=t.from_status,
                to=t.to_status,
                on=t.on,
                note=t.note,
                actor=t.actor,
                recorded_at=t.recorded_at,
            )
            for t in view.history
        ],
    )


@router.post("/v1/audits/{audit_id}/recommendations", status_code=201, response_model=RecommendationRead)
@PARENT_AUDIT.with_key
async def create_recommendation(
    audit_id: uuid.UUID,
    body: RecommendationCreate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    audit: ParentAuditRow,
) -> RecommendationRead:
    view, was_created = await recommendations.create(uow, principal, audit_id, body, audit)
    row = view.recommendation
    created(response, f"/v1/recommendations/{row.id}", row.version, was_created)
    return _read(view)


@router.get("/v1/recommendations", response_model=Page[RecommendationRead])
async def list_recommendations(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    filters: RecommendationFiltersDep,
) -> dict[str, object]:
    views, cursor = await recommendations.page(uow, principal, page, **filters.as_kwargs())
    return {"items": [_read(v) for v in views], "next_cursor": cursor}


@router.get("/v1/recommendations/{recommendation_id}", response_model=RecommendationRead)
async def get_recommendation(
    recommendation_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> RecommendationRead:
    view = await recommendations.get(uow, principal, recommendation_id)
    set_etag(response, view.recommendation.version)
    return _read(view)


@router.patch("/v1/recommendations/{recommendation_id}", response_model=RecommendationRead)
async def update_recommendation(
    recommendation_id: uuid.UUID,
    body: RecommendationUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
) -> RecommendationRead:
    view = await recommendations.update(uow, principal, recommendation_id, body, if_match)
    set_etag(response, view.recommendation.version)
    return _read(view)


@router.post("/v1/recommendations/{recommendation_id}/transitions", response_model=RecommendationRead)
async def transition_recommendation(
    recommendation_id: uuid.UUID,
    body: TransitionCreate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> RecommendationRead:
    view = await recommendations.transition(uow, principal, recommendation_id, body, if_match, today=clock.today())
    set_etag(response, view.recommendation.version)
    return _read(view)
