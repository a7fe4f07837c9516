"""Use cases for distributions of material to agencies, and which materials reached each agency's staff.

Distributions belong to no partnership, so only admin keys record them; every reader sees them.
"""

from __future__ import annotations

import uuid

from services.events.materials.domain.agencies import spelled
from services.events.materials.domain.coverage import AgencyCoverage, Delivered, coverage
from services.events.materials.handlers.materials import tag
from services.events.materials.schemas import DistributionCreate
from services.events.materials.store import queries
from services.events.records import not_in_future, state
from services.events.tables import Distribution, Material
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.contracts.events.events import DistributionRecorded
from shared.db.engine import get_row
from shared.db.uow import UnitOfWork
from shared.errors import InvalidField


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
        sent |= {"language": tag(body.language, "body.language"), "agency": spelled(body.agency)}
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
        row = Distribution(id=body.id or uuid.uuid4(), language=language, agency=spelled(body.agency), **fields)
        uow.session.add(row)
        uow.emit(DistributionRecorded, subject_id=row.id, subject_version=row.version, payload=state(row))
        await uow.commit()
    return row, True


async def agency_coverage(
    uow: UnitOfWork, audience: str, agencies: list[str], topic: str | None
) -> tuple[int, list[AgencyCoverage]]:
    """How many materials are expected, and per agency which reached it."""
    async with uow:
        materials = await queries.all_materials(uow.session, topic)
        delivered = await queries.distributions_to(uow.session, audience)
        known = await queries.agencies(uow.session)
    rows = coverage(
        [(m.id, m.slug) for m in materials],
        [Delivered(d.agency, d.material_id, d.language, d.copies, d.distributed_on) for d in delivered],
        [*known, *agencies],
    )
    return len(materials), rows
