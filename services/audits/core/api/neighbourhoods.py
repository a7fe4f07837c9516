"""Neighbourhoods under ``/v1/neighbourhoods``: admin keys write them, every key reads them."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.audits.core.handlers import neighbourhoods
from services.audits.core.schemas import NeighbourhoodCreate, NeighbourhoodRead, NeighbourhoodUpdate
from services.audits.deps import UowDep
from services.audits.tables import Neighbourhood
from shared.auth.keys import ReaderKey
from shared.web.http import IfMatch, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/neighbourhoods", tags=["neighbourhoods"])


@router.post("", status_code=201, response_model=NeighbourhoodRead)
async def create_neighbourhood(
    body: NeighbourhoodCreate, uow: UowDep, principal: ReaderKey, response: Response
) -> Neighbourhood:
    row, was_created = await neighbourhoods.create(uow, principal, body)
    created(response, f"/v1/neighbourhoods/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[NeighbourhoodRead])
async def list_neighbourhoods(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    municipality: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
) -> dict[str, object]:
    rows, cursor = await neighbourhoods.page(uow, page, municipality=municipality, name=name)
    return {"items": rows, "next_cursor": cursor}


@router.get("/{neighbourhood_id}", response_model=NeighbourhoodRead)
async def get_neighbourhood(
    neighbourhood_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response
) -> Neighbourhood:
    row = await neighbourhoods.get(uow, neighbourhood_id)
    set_etag(response, row.version)
    return row


@router.patch("/{neighbourhood_id}", response_model=NeighbourhoodRead)
async def update_neighbourhood(
    neighbourhood_id: uuid.UUID,
    body: NeighbourhoodUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
) -> Neighbourhood:
    row = await neighbourhoods.update(uow, principal, neighbourhood_id, body, if_match)
    set_etag(response, row.version)
    return row
