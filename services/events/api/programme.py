import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.events.api.deps import UowDep
from services.events.domain import language_check
from services.events.handlers import programme
from services.events.handlers.materials import tag
from services.events.schemas import (
    CoverageRead,
    DistributionCreate,
    DistributionRead,
    LanguageCheckRead,
    LanguageCheckRequest,
    TrainingCreate,
    TrainingRead,
)
from services.events.store import repository
from services.events.store.tables import Distribution, Training
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import Audience, Cohort, MaterialTopic
from shared.errors import InvalidField
from shared.web.http import SessionDep, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter()

FromQ = Annotated[date | None, Query(alias="from", description="on or after this day")]
ToQ = Annotated[date | None, Query(alias="to", description="on or before this day")]
AgencyQ = Annotated[str | None, Query(max_length=200, description="agency name (case and spacing ignored)")]


def _period(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")


@router.post("/v1/distributions", status_code=201, response_model=DistributionRead, tags=["distributions"])
async def record_distribution(
    body: DistributionCreate, uow: UowDep, principal: ReaderKey, response: Response
) -> Distribution:
    row, was_created = await programme.record_distribution(uow, principal, body)
    created(response, f"/v1/distributions/{row.id}", row.version, was_created)
    return row


@router.get("/v1/distributions", response_model=Page[DistributionRead], tags=["distributions"])
async def list_distributions(
    session: SessionDep,
    principal: ReaderKey,
    page: PageDep,
    material_id: uuid.UUID | None = None,
    agency: AgencyQ = None,
    audience: Audience | None = None,
    language: Annotated[str | None, Query(max_length=35)] = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    _period(start, end)
    wanted = tag(language, "query.language") if language else None
    rows, cursor = await repository.list_distributions(
        session, page, material_id=material_id, agency=agency, audience=audience, language=wanted, start=start, end=end
    )
    return {"items": rows, "next_cursor": cursor}


@router.get(
    "/v1/distributions/coverage",
    response_model=CoverageRead,
    tags=["distributions"],
    summary="Per agency, which materials reached its staff and which did not",
)
async def distribution_coverage(
    uow: UowDep,
    principal: ReaderKey,
    audience: Audience = Audience.frontline_staff,
    agency: Annotated[list[str], Query(max_length=100, description="also report on these agencies")] = [],  # noqa: B006
    topic: MaterialTopic | None = None,
) -> dict[str, Any]:
    expected, rows = await programme.agency_coverage(uow, audience, agency, topic)
    agencies = [
        {
            "agency": r.agency,
            "complete": r.complete,
            "reached": [vars(x) | {"languages": sorted(x.languages)} for x in r.reached],
            "missing": [{"material_id": mid, "slug": slug} for mid, slug in r.missing],
        }
        for r in rows
    ]
    return {
        "audience": audience,
        "materials": expected,
        "agencies": agencies,
        "all_covered": all(r.complete for r in rows),
    }


@router.get("/v1/distributions/{distribution_id}", response_model=DistributionRead, tags=["distributions"])
async def get_distribution(
    distribution_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> Distribution:
    row: Distribution = await programme.get(uow, Distribution, distribution_id)
    set_etag(response, row.version)
    return row


@router.post("/v1/trainings", status_code=201, response_model=TrainingRead, tags=["trainings"])
async def record_training(body: TrainingCreate, uow: UowDep, principal: ReaderKey, response: Response) -> Training:
    row, was_created = await programme.record_training(uow, principal, body)
    created(response, f"/v1/trainings/{row.id}", row.version, was_created)
    return row


@router.get("/v1/trainings", response_model=Page[TrainingRead], tags=["trainings"])
async def list_trainings(
    session: SessionDep,
    principal: ReaderKey,
    page: PageDep,
    agency: AgencyQ = None,
    topic: Annotated[str | None, Query(max_length=60)] = None,
    cohort: Cohort | None = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    _period(start, end)
    rows, cursor = await repository.list_trainings(
        session, page, agency=agency, topic=topic, cohort=cohort, start=start, end=end
    )
    return {"items": rows, "next_cursor": cursor}


@router.get("/v1/trainings/{training_id}", response_model=TrainingRead, tags=["trainings"])
async def get_training(training_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> Training:
    row: Training = await programme.get(uow, Training, training_id)
    set_etag(response, row.version)
    return row


@router.post(
    "/v1/language-check",
    response_model=LanguageCheckRead,
    tags=["language check"],
    summary="Find stigmatizing terms about substance use in any text, with person-first suggestions",
)
async def check_language(body: LanguageCheckRequest, principal: ReaderKey) -> dict[str, Any]:
    language = tag(body.lang, "body.lang")
    findings = [{"field": "text"} | vars(f) for f in language_check.check(body.text, language)]
    checked = language_check.checked_languages()
    return {
        "lang": language,
        "checked": language.split("-")[0] in checked,
        "checked_languages": checked,
        "findings": findings,
    }
