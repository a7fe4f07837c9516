"""Use cases for partnerships."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.audits.core.handlers.records import load
from services.audits.core.schemas import PartnershipCreate, PartnershipUpdate
from services.audits.core.store import repository
from services.audits.tables import Neighbourhood, Partnership
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.contracts.events.audits import PartnershipCreated, PartnershipUpdated
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, InvalidField
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


def _emit(uow: UnitOfWork, event: type, row: Partnership) -> None:
    uow.emit(event, subject_id=row.id, subject_version=row.version, partnership_id=row.id, payload=state(row))


async def _check_neighbourhoods(uow: UnitOfWork, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(ids))
    missing = set(unique) - await repository.existing_ids(uow.session, Neighbourhood, unique)
    if missing:
        raise InvalidField(
            f"unknown neighbourhood(s): {', '.join(sorted(map(str, missing)))}",
            field="body.neighbourhood_ids",
        )
    return unique


async def _own(row: Partnership) -> list[uuid.UUID]:
    return [row.id]


async def page(
    uow: UnitOfWork,
    principal: Principal,
    params: PageParams,
    *,
    status: str | None,
    neighbourhood_id: uuid.UUID | None,
) -> tuple[Sequence[Partnership], str | None]:
    async with uow:
        return await repository.list_partnerships(
            uow.session,
            params,
            visible=principal.visible_partnerships(),
            status=status,
            neighbourhood_id=neighbourhood_id,
        )


async def get(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> Partnership:
    """The partnership, or 404 for an editor key of another one."""
    async with uow:
        row: Partnership = await load(uow, Partnership, id_)
    principal.ensure_visible([row.id], f"partnership {id_}")
    return row


async def create(uow: UnitOfWork, principal: Principal, body: PartnershipCreate) -> tuple[Partnership, bool]:
    principal.require_admin()
    async with uow:
        sent = body.model_dump(exclude={"id"}) | {"neighbourhood_ids": list(dict.fromkeys(body.neighbourhood_ids))}
        if existing := await replayed(
            uow.session, principal, Partnership, body.id, sent, what="partnership", owners=_own
        ):
            return existing, False
        if await repository.name_taken(uow.session, body.name):
            raise Conflict(f"a partnership named {body.name!r} exists already", field="body.name")
        fields = body.model_dump(exclude={"id", "neighbourhood_ids"})
        row = Partnership(
            id=body.id or uuid.uuid4(),
            neighbourhood_ids=await _check_neighbourhoods(uow, body.neighbourhood_ids),
            **fields,
        )
        uow.session.add(row)
        _emit(uow, PartnershipCreated, row)
        await uow.commit()
    return row, True


async def update(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, body: PartnershipUpdate, if_match: str | None
) -> Partnership:
    principal.ensure_visible([id_], f"partnership {id_}")
    principal.require_write(id_)
    async with uow:
        row: Partnership = await load(uow, Partnership, id_, for_update=True)
        check_if_match(if_match, row.version)
        changes = body.model_dump(exclude_unset=True, exclude={"neighbourhood_ids"})
        if body.neighbourhood_ids is not None:
            changes["neighbourhood_ids"] = await _check_neighbourhoods(uow, body.neighbourhood_ids)
            dropped = set(row.neighbourhood_ids) - set(changes["neighbourhood_ids"])
            if in_use := await repository.neighbourhoods_in_use(uow.session, id_, dropped):
                raise Conflict(
                    f"audits of this partnership are in neighbourhood(s) {', '.join(sorted(map(str, in_use)))}",
                    field="body.neighbourhood_ids",
                )
        if body.name and await repository.name_taken(uow.session, body.name, except_id=id_):
            raise Conflict(f"a partnership named {body.name!r} exists already", field="body.name")
        if apply_changes(row, changes):
            _emit(uow, PartnershipUpdated, row)
            await uow.commit()
    return row
