"""Use cases for a partnership's community connections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from services.events.programme.directory import Directory
from services.events.programme.handlers.places import check_places
from services.events.programme.schemas import StakeholderCreate, StakeholderUpdate
from services.events.programme.store import queries
from services.events.records import check_period, load, not_in_future
from services.events.tables import Stakeholder
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.clock import Clock
from shared.contracts.events.events import StakeholderCreated, StakeholderUpdated
from shared.db.records import emit_state
from shared.db.uow import UnitOfWork
from shared.errors import Conflict
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


async def _name_free(uow: UnitOfWork, partnership_id: uuid.UUID, name: str, except_id: uuid.UUID | None) -> None:
    if await queries.stakeholder_named(uow.session, partnership_id, name, except_id):
        raise Conflict(f"this partnership already has a connection named {name!r}", field="body.name")


async def visible(uow: UnitOfWork, principal: Principal, id_: uuid.UUID, *, for_update: bool = False) -> Stakeholder:
    row: Stakeholder = await load(uow, Stakeholder, id_, for_update=for_update)
    principal.ensure_visible([row.partnership_id], f"stakeholder {id_}")
    return row


async def read(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> Stakeholder:
    async with uow:
        return await visible(uow, principal, id_)


async def listing(
    uow: UnitOfWork, principal: Principal, page: PageParams, *, start: date | None, end: date | None, **filters: Any
) -> tuple[Sequence[Stakeholder], str | None]:
    """Connections of the partnerships the key may see, made within ``start``..``end``."""
    check_period(start, end)
    visible_to = None if principal.sees_all() else principal.partnership_ids
    async with uow:
        return await queries.list_stakeholders(uow.session, page, visible=visible_to, start=start, end=end, **filters)


WHAT = "stakeholder"


async def _owners(row: Stakeholder) -> list[uuid.UUID]:
    return [row.partnership_id]


async def create(
    uow: UnitOfWork, principal: Principal, directory: Directory, body: StakeholderCreate, clock: Clock
) -> tuple[Stakeholder, bool]:
    principal.require_write(body.partnership_id)
    async with uow:
        fields = body.model_dump(exclude={"id"})
        if existing := await replayed(uow.session, principal, Stakeholder, body.id, fields, what=WHAT, owners=_owners):
            return existing, False
        not_in_future(body.connected_on, "connected_on", clock.today())
        await check_places(
            directory, [body.partnership_id], body.neighbourhood_id, partnership_field="body.partnership_id"
        )
        await _name_free(uow, body.partnership_id, body.name, None)
        row = Stakeholder(id=body.id or uuid.uuid4(), **fields)
        uow.session.add(row)
        emit_state(uow, StakeholderCreated, row)
        await uow.commit()
    return row, True


async def update(
    uow: UnitOfWork,
    principal: Principal,
    directory: Directory,
    id_: uuid.UUID,
    body: StakeholderUpdate,
    if_match: str | None,
    clock: Clock,
) -> Stakeholder:
    changes = body.model_dump(exclude_unset=True)
    async with uow:
        row = await visible(uow, principal, id_, for_update=True)
        principal.require_write(row.partnership_id)
        check_if_match(if_match, row.version)
        if body.connected_on:
            not_in_future(body.connected_on, "connected_on", clock.today())
        if body.name:
            await _name_free(uow, row.partnership_id, body.name, row.id)
        if changes.get("neighbourhood_id") not in (None, row.neighbourhood_id):
            await check_places(
                directory, [row.partnership_id], changes["neighbourhood_id"], partnership_field="body.partnership_id"
            )
        if apply_changes(row, changes):
            emit_state(uow, StakeholderUpdated, row)
            await uow.commit()
    return row
