import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.materials.api.params import AgencyQ, FromQ, ToQ, period
from services.events.materials.handlers import distributions
from services.events.materials.handlers.materials import tag
from services.events.materials.schemas import CoverageRead, DistributionCreate, DistributionRead
from services.events.materials.store import queries
from services.events.records import get
from services.events.tables import Distribution
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import Audience, MaterialTopic
from shared.web.http import SessionDep, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/distributions", tags=["distributions"])


@router.post("", status_code=201, response_model=DistributionRead)
async def record_distribution(
    body: DistributionCreate, uow: UowDep, principal: ReaderKey, response: Response
) -> Distribution:
    row, was_created = await distributions.record_distribution(uow, principal, body)
    created(response, f"/v1/distributions/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[DistributionRead])
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
    period(start, end)
    wanted = tag(language, "query.language") if language else None
    rows, cursor = await queries.list_distributions(
        session, page, material_id=material_id, agency=agency, audience=audience, language=wanted, start=start, end=end
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
    expected, rows = await distributions.agency_coverage(uow, audience, agency, topic)
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


@router.get("/{distribution_id}", response_model=DistributionRead)
async def get_distribution(
    distribution_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> Distribution:
    row: Distribution = await get(uow, Distribution, distribution_id)
    set_etag(response, row.version)
    return row
