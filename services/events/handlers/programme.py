"""Use cases for programme-wide records: distributions of material, training sessions, coverage.

They belong to no partnership, so only admin keys record them; every reader sees them.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.events.domain.coverage import AgencyCoverage, Delivered, coverage
from services.events.handlers.materials import tag
from services.events.handlers.records import load, not_in_future, state
from services.events.schemas import DistributionCreate, TrainingCreate
from services.events.store import repository
from services.events.store.tables import Distribution, Material, Training
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.contracts.events.events import DistributionRecorded, TrainingRecorded
from shared.db.engine import existing_ids, get_row
from shared.db.uow import UnitOfWork
from shared.errors import InvalidField


def _agency(name: str) -> str:
    """One spelling of spacing, so that reports group "Windsor  Police" with "Windsor Police"."""
    return " ".join(name.split())


def _check_handed_out(body: DistributionCreate) -> None:
    handed = (body.handed_to_at_risk or 0) + (body.handed_to_charged or 0)
    if handed > body.copies:
        raise InvalidField(
            f"{handed} copies handed out is more than the {body.copies} distributed", field="body.handed_to_at_risk"
        )


async def record_distribution(
    uow: UnitOfWork, principal: Principal, body: DistributionCreate
) -> tuple[Distribution, bool]:
    principal.require_admin()
    async with uow:
        sent = body.model_dump(exclude={"id", "language", "agency"})
        sent |= {"language": tag(body.language, "body.language"), "agency": _agency(body.agency)}
        if existing := await replayed(uow.session, principal, Distribution, body.id, sent, what="distribution"):
            return existing, False
        material = await get_row(uow.session, Material, body.material_id)
        if material is None:
            raise InvalidField(f"unknown material: {body.material_id}", field="body.material_id")
        language = tag(body.language, "body.language")
        if language not in material.translations:
            available = ", ".join(sorted(material.translations))
            raise InvalidField(
                f"material {material.slug} has no {language} version; it has {available}", field="body.language"
            )
        not_in_future(body.distributed_on, "distributed_on")
        _check_handed_out(body)
        fields = body.model_dump(exclude={"id", "language", "agency"})
        row = Distribution(id=body.id or uuid.uuid4(), language=language, agency=_agency(body.agency), **fields)
        uow.session.add(row)
        uow.emit(DistributionRecorded, subject_id=row.id, subject_version=row.version, payload=state(row))
        await uow.commit()
    return row, True


async def record_training(uow: UnitOfWork, principal: Principal, body: TrainingCreate) -> tuple[Training, bool]:
    principal.require_admin()
    async with uow:
        wanted = list(dict.fromkeys(body.material_ids))
        sent = body.model_dump(exclude={"id", "material_ids", "agency"})
        sent |= {"material_ids": wanted, "agency": _agency(body.agency)}
        if existing := await replayed(uow.session, principal, Training, body.id, sent, what="training"):
            return existing, False
        if missing := set(wanted) - await existing_ids(uow.session, Material, wanted):
            raise InvalidField(
                f"unknown material(s): {', '.join(sorted(map(str, missing)))}", field="body.material_ids"
            )
        not_in_future(body.held_on, "held_on")
        fields = body.model_dump(exclude={"id", "material_ids", "agency"})
        row = Training(id=body.id or uuid.uuid4(), material_ids=wanted, agency=_agency(body.agency), **fields)
        uow.session.add(row)
        uow.emit(TrainingRecorded, subject_id=row.id, subject_version=row.version, payload=state(row))
        await uow.commit()
    return row, True


async def get(uow: UnitOfWork, model: Any, id_: uuid.UUID) -> Any:
    async with uow:
        return await load(uow, model, id_)


async def agency_coverage(
    uow: UnitOfWork, audience: str, agencies: list[str], topic: str | None
) -> tuple[int, list[AgencyCoverage]]:
    """How many materials are expected, and per agency which reached it."""
    async with uow:
        materials = await repository.all_materials(uow.session, topic)
        delivered = await repository.distributions_to(uow.session, audience)
        known = await repository.agencies(uow.session)
    rows = coverage(
        [(m.id, m.slug) for m in materials],
        [Delivered(d.agency, d.material_id, d.language, d.copies, d.distributed_on) for d in delivered],
        [*known, *agencies],
    )
    return len(materials), rows
