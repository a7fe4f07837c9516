"""Use cases for CPTED audits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.audits.core.handlers.records import load
from services.audits.core.schemas import AuditCreate, AuditUpdate
from services.audits.core.store import repository
from services.audits.photos.store import queries as photo_store
from services.audits.photos.store.files import PhotoFiles, forget
from services.audits.tables import Audit, Neighbourhood, Partnership
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.contracts.events.audits import AuditCreated, AuditDeleted, AuditUpdated
from shared.db.records import emit_state
from shared.db.uow import UnitOfWork
from shared.errors import InvalidField
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


async def visible(uow: UnitOfWork, principal: Principal, id_: uuid.UUID, *, for_update: bool = False) -> Audit:
    """The audit, or 404 for a key that may not see its partnership."""
    row: Audit = await load(uow, Audit, id_, for_update=for_update)
    principal.ensure_visible([row.partnership_id], f"audit {id_}")
    return row


async def get(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> Audit:
    async with uow:
        return await visible(uow, principal, id_)


async def page(
    uow: UnitOfWork, principal: Principal, params: PageParams, **filters: Any
) -> tuple[Sequence[Audit], str | None]:
    """The audits of the partnerships this key sees, with the list's filters."""
    async with uow:
        return await repository.list_audits(uow.session, params, visible=principal.visible_partnerships(), **filters)


async def owners(row: Audit) -> list[uuid.UUID]:
    return [row.partnership_id]


async def create(uow: UnitOfWork, principal: Principal, body: AuditCreate) -> tuple[Audit, bool]:
    principal.require_write(body.partnership_id)
    async with uow:
        fields = body.model_dump(exclude={"id"})
        if existing := await replayed(uow.session, principal, Audit, body.id, fields, what="audit", owners=owners):
            return existing, False
        partnership = await repository.get(uow.session, Partnership, body.partnership_id)
        if partnership is None:
            raise InvalidField(f"unknown partnership {body.partnership_id}", field="body.partnership_id")
        if await repository.get(uow.session, Neighbourhood, body.neighbourhood_id) is None:
            raise InvalidField(f"unknown neighbourhood {body.neighbourhood_id}", field="body.neighbourhood_id")
        if body.neighbourhood_id not in partnership.neighbourhood_ids:
            raise InvalidField(
                "the neighbourhood is not one of the partnership's neighbourhoods",
                field="body.neighbourhood_id",
            )
        row = Audit(id=body.id or uuid.uuid4(), **fields)
        uow.session.add(row)
        emit_state(uow, AuditCreated, row)
        await uow.commit()
    return row, True


async def update(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, body: AuditUpdate, if_match: str | None
) -> Audit:
    async with uow:
        row = await visible(uow, principal, id_, for_update=True)
        principal.require_write(row.partnership_id)
        check_if_match(if_match, row.version)
        if body.conducted_on is not None:
            first_step = await repository.first_transition_on(uow.session, row.id)
            if first_step is not None and body.conducted_on > first_step:
                raise InvalidField(
                    f"a recommendation of this audit changed status on {first_step}, before {body.conducted_on}",
                    field="body.conducted_on",
                )
        if apply_changes(row, body.model_dump(exclude_unset=True)):
            emit_state(uow, AuditUpdated, row)
            await uow.commit()
    return row


async def delete(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, if_match: str | None, files: PhotoFiles
) -> None:
    """Deleting an audit deletes its recommendations, their history and every photo (the files once committed)."""
    async with uow:
        row = await visible(uow, principal, id_, for_update=True)
        principal.require_write(row.partnership_id)
        check_if_match(if_match, row.version)
        row.version += 1
        emit_state(uow, AuditDeleted, row)
        # Read under the audit's lock: a photo added concurrently waits for it and then finds no audit.
        photo_keys = await photo_store.files_of_audit(uow.session, row.id)
        await uow.session.delete(row)
        await uow.commit()
    await forget(files, photo_keys)
