"""Use cases behind Open311 GeoReport v2, over the same recommendations and audit requests as ``/v1``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.core.domain.places import centroid, point_of
from services.audits.core.store import repository
from services.audits.open311 import store
from services.audits.open311.domain import georeport
from services.audits.open311.domain.georeport import (
    AUDIT_REQUEST,
    AUDIT_REQUEST_NOTICE,
    Open311Error,
    RequestQuery,
    Site,
    audit_request_request,
    recommendation_request,
)
from services.audits.open311.domain.submission import Form, parse_submission
from services.audits.requests import handlers as audit_requests
from services.audits.requests.schemas import AuditRequestCreate
from services.audits.settings import AuditsSettings
from services.audits.tables import Audit, AuditRequest, Neighbourhood, Recommendation, RecommendationTransition
from shared.auth.keys import Principal
from shared.clock import Clock
from shared.db.uow import UnitOfWork
from shared.errors import Forbidden


def discovery(endpoint_url: str, settings: AuditsSettings) -> dict[str, Any]:
    return georeport.discovery(endpoint_url, settings.open311_contact, settings.open311_key_service)


def services(principal: Principal | None, settings: AuditsSettings) -> list[dict[str, Any]]:
    return georeport.services(settings.visible_categories(principal))


def definition(code: str, principal: Principal | None, settings: AuditsSettings) -> dict[str, Any]:
    return georeport.definition(code, settings.visible_categories(principal))


def site(place: str | None, location: dict[str, Any] | None, neighbourhood: Neighbourhood | None) -> Site:
    """A site's own point, else its neighbourhood's centroid; the address from the most to the least specific."""
    point = point_of(location) or (centroid(neighbourhood.boundary) if neighbourhood else None)
    area = (neighbourhood.name, neighbourhood.municipality) if neighbourhood else ()
    return Site(", ".join(part for part in (place, *area) if part) or None, point)


def _last_note(history: Sequence[RecommendationTransition]) -> str | None:
    return history[-1].note if history else None


async def _recommendations(
    session: AsyncSession, query: RequestQuery, categories: list[str], zone: str
) -> list[tuple[datetime, dict[str, Any]]]:
    rows: list[tuple[Recommendation, Audit]] = await store.recommendations(session, query, categories)
    places = await store.neighbourhoods(session, [a.neighbourhood_id for _, a in rows])
    history = await repository.history(session, [r.id for r, _ in rows])
    return [
        (
            rec.created_at,
            recommendation_request(
                rec, audit, site(audit.site_name, audit.location, places.get(audit.neighbourhood_id)),
                _last_note(history.get(rec.id, [])), zone,
            ),
        )
        for rec, audit in rows
    ]  # fmt: skip


async def _audit_requests(
    session: AsyncSession, query: RequestQuery, agency: str, zone: str
) -> list[tuple[datetime, dict[str, Any]]]:
    rows: list[AuditRequest] = await store.audit_requests(session, query)
    places = await store.neighbourhoods(session, [r.neighbourhood_id for r in rows])
    audits = await repository.audits_by_id(session, {r.audit_id for r in rows if r.audit_id})
    return [
        (
            row.received_at,
            audit_request_request(
                row, audits[row.audit_id].conducted_on if row.audit_id in audits else None,
                site(row.place, row.location, places.get(row.neighbourhood_id)), agency, zone,
            ),
        )
        for row in rows
    ]  # fmt: skip


async def list_requests(
    uow: UnitOfWork, principal: Principal | None, query: RequestQuery, *, settings: AuditsSettings, zone: str
) -> list[dict[str, Any]]:
    """Newest first, at most ``query.limit``: recommendations of the visible categories, then audit requests."""
    codes = query.service_codes
    categories = [c.value for c in settings.visible_categories(principal) if codes is None or c.value in codes]
    async with uow:
        answers = await _recommendations(uow.session, query, categories, zone) if categories else []
        if codes is None or AUDIT_REQUEST in codes:
            answers += await _audit_requests(uow.session, query, settings.open311_agency, zone)
    answers.sort(key=lambda pair: pair[0], reverse=True)
    return [answer for _, answer in answers[: query.limit]]


async def get_request(
    uow: UnitOfWork, principal: Principal | None, raw_id: str, *, settings: AuditsSettings, zone: str
) -> list[dict[str, Any]]:
    try:
        query = RequestQuery(ids=[uuid.UUID(raw_id)])
        found = await list_requests(uow, principal, query, settings=settings, zone=zone)
    except ValueError:
        found = []
    if not found:
        raise Open311Error(404, f"service_request_id {raw_id} not found")
    return found


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


async def submit(uow: UnitOfWork, principal: Principal, form: Form, clock: Clock) -> list[dict[str, Any]]:
    """POST requests: a ``cpted_audit_request`` becomes an audit request, created at once (no token)."""
    try:
        audit_requests.require_triage(principal)
    except Forbidden as refused:
        raise Open311Error(
            403, "this api_key may not create requests -- can't proceed with create_request."
        ) from refused
    given = parse_submission(form)
    try:
        body = AuditRequestCreate.model_validate(
            {
                "place": given.place,
                "description": given.description,
                "location": given.location,
                "media_url": given.media_url,
                "requester": given.requester or None,
            }
        )
    except ValidationError as exc:
        raise Open311Error(400, _first_problem(exc)) from exc
    view, _ = await audit_requests.create(
        uow, principal, body, clock=clock, source="open311", attributes=given.attributes
    )
    return [{"service_request_id": str(view.request.id), "service_notice": AUDIT_REQUEST_NOTICE, "account_id": None}]
