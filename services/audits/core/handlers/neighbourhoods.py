"""Use cases for neighbourhoods."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.audits.core.handlers.records import load
from services.audits.core.schemas import NeighbourhoodCreate, NeighbourhoodUpdate
from services.audits.core.store import repository
from services.audits.tables import Neighbourhood
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.contracts.events.audits import NeighbourhoodCreated, NeighbourhoodUpdated
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


def _emit(uow: UnitOfWork, event: type, row: Neighbourhood) -> None:
    uow.emit(event, subject_id=row.id, subject_version=row.version, neighbourhood_id=row.id, payload=state(row))


async def page(
    uow: UnitOfWork, params: PageParams, *, municipality: str | None, name: str | None
) -> tuple[Sequence[Neighbourhood], str | None]:
    """Every key reads every neighbourhood: they are public geography."""
    async with uow:
        return await repository.list_neighbourhoods(uow.session, params, municipality=municipality, name=name)


async def get(uow: UnitOfWork, id_: uuid.UUID) -> Neighbourhood:
    async with uow:
        row: Neighbourhood = await load(uow, Neighbourhood, id_)
    return row


async def create(uow: UnitOfWork, principal: Principal, body: NeighbourhoodCreate) -> tuple[Neighbourhood, bool]:
    principal.require_admin()
    async with uow:
        fields = body.model_dump(exclude={"id"})
        if existing := await replayed(uow.session, principal, Neighbourhood, body.id, fields, what="neighbourhood"):
            return existing, False
        row = Neighbourhood(id=body.id or uuid.uuid4(), **fields)
        uow.session.add(row)
        _emit(uow, NeighbourhoodCreated, row)
        await uow.commit()
    return row, True


async def update(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, body: NeighbourhoodUpdate, if_match: str | None
) -> Neighbourhood:
    principal.require_admin()
    async with uow:
        row: Neighbourhood = await load(uow, Neighbourhood, id_, for_update=True)
        check_if_match(if_match, row.version)
        if apply_changes(row, body.model_dump(exclude_unset=True)):
            _emit(uow, NeighbourhoodUpdated, row)
            await uow.commit()
    return row
