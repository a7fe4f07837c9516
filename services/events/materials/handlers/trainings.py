"""Use cases for training sessions given to an agency's staff, with the materials they were shown.

Trainings belong to no partnership, so only admin keys record them; every reader sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from services.events.materials.domain.agencies import spelled
from services.events.materials.schemas import TrainingCreate
from services.events.materials.store import queries
from services.events.records import check_period, get, not_in_future
from services.events.tables import Material, Training
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.clock import Clock
from shared.contracts.events.events import TrainingRecorded
from shared.db.engine import existing_ids
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.errors import InvalidField
from shared.web.pagination import PageParams


async def record_training(
    uow: UnitOfWork, principal: Principal, body: TrainingCreate, clock: Clock
) -> tuple[Training, bool]:
    principal.require_admin()
    async with uow:
        wanted = list(dict.fromkeys(body.material_ids))
        sent = body.model_dump(exclude={"id", "material_ids", "agency"})
        sent |= {"material_ids": wanted, "agency": spelled(body.agency)}
        if existing := await replayed(uow.session, principal, Training, body.id, sent, what="training"):
            return existing, False
        if missing := set(wanted) - await existing_ids(uow.session, Material, wanted):
            raise InvalidField(
                f"unknown material(s): {', '.join(sorted(map(str, missing)))}", field="body.material_ids"
            )
        not_in_future(body.held_on, "held_on", clock.today())
        fields = body.model_dump(exclude={"id", "material_ids", "agency"})
        row = Training(id=body.id or uuid.uuid4(), material_ids=wanted, agency=spelled(body.agency), **fields)
        uow.session.add(row)
        uow.emit(TrainingRecorded, subject_id=row.id, subject_version=row.version, payload=state(row))
        await uow.commit()
    return row, True


async def read(uow: UnitOfWork, id_: uuid.UUID) -> Training:
    row: Training = await get(uow, Training, id_)
    return row


async def listing(
    uow: UnitOfWork, page: PageParams, *, start: date | None, end: date | None, **filters: Any
) -> tuple[Sequence[Training], str | None]:
    check_period(start, end)
    async with uow:
        return await queries.list_trainings(uow.session, page, start=start, end=end, **filters)
