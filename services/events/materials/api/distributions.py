import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.materials.api.params import AgencyQ, FromQ, ToQ
from services.events.materials.handlers import distributions
from services.events.materials.schemas import CoverageRead, DistributionCreate, DistributionRead
from services.events.tables import Distribution
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import Audience, MaterialTopic
from shared.web.http import ClockDep, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/distributions", tags=["distributions"])


@router.post("", status_code=201, response_model=DistributionRead)
async def record_distribution(
    body: DistributionCreate, uow: UowDep, principal: ReaderKey, response: Response, clock: ClockDep
) -> Distribution:
    row, was_created = await distributions.record_distribution(uow, principal, body, clock)
    created(response, f"/v1/distributions/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[DistributionRead])
async def list_distributions(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    material_id: uuid.UUID | None = None,
    agency: AgencyQ = None,
    audience: Audience | None = None,
    language: Annotated[str | None, Query(max_length=35)] = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    rows, cursor = await distributions.listing(
        uow, page, material_id=material_id, agency=agency, audience=audience, language=language, start=start, end=end
    )
    return {"items": rows, "next_cursor": cursor}


@router.get(
    "/coverage",
    response_model=CoverageRead,
    summary="Per agency, which materials reached its staff and which did not",
)
async def distribution_coverage(
    uow: UowDep,
    principal: ReaderKey,
    audience: Audience = Audience.frontline_staff,
    agency: Annotated[list[str], Query(max_length=100, description="also report on these agencies")] = [],  # noqa: B006
    topic: MaterialTopic | None = None,
) -> dict[str, Any]:
    return await distributions.agency_coverage(uow, audience, agency, topic)


@router.get("/{distribution_id}", response_model=DistributionRead)
async def get_distribution(
    distribution_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> Distribution:
    row = await distributions.read(uow, distribution_id)
    set_etag(response, row.version)
    return row
