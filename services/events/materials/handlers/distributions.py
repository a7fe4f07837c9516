"""Use cases for distributions of material to agencies, and which materials reached each agency's staff.

Distributions belong to no partnership, so only admin keys record them; every reader sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from services.events.materials.domain.agencies import spelled
from services.events.materials.domain.coverage import Delivered, coverage
from services.events.materials.handlers.languages import tag
from services.events.materials.schemas import DistributionCreate
from services.events.materials.store import queries
from services.events.records import check_period, get, not_in_future
from services.events.tables import Distribution, Material
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.clock import Clock
from shared.contracts.events.events import DistributionRecorded
from shared.contracts.vocabulary import Audience
from shared.db.engine import get_row
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.errors import InvalidField
from shared.web.pagination import PageParams


def _check_handed_out(body: DistributionCreate) -> None:
    handed = (body.handed_to_at_risk or 0) + (body.handed_to_charged or 0)
    if handed > body.copies:
        raise InvalidField(
            f"{handed} copies handed out is more than the {body.copies} distributed", field="body.handed_to_at_risk"
        )


async def record_distribution(
    uow: UnitOfWork, principal: Principal, body: DistributionCreate, clock: Clock
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
        not_in_future(body.distributed_on, "distributed_on", clock.today())
        _check_handed_out(body)
        fields = body.model_dump(exclude={"id", "language", "agency"})
        row = Distribution(id=body.id or uuid.uuid4(), language=language, agency=spelled(body.agency), **fields)
        uow.session.add(row)
        uow.emit(DistributionRecorded, subject_id=row.id, subject_version=row.version, payload=state(row))
        await uow.commit()
    return row, True


async def read(uow: UnitOfWork, id_: uuid.UUID) -> Distribution:
    row: Distribution = await get(uow, Distribution, id_)
    return row


async def listing(
    uow: UnitOfWork,
    page: PageParams,
    *,
    language: str | None,
    start: date | None,
    end: date | None,
    **filters: Any,
) -> tuple[Sequence[Distribution], str | None]:
    check_period(start, end)
    wanted = tag(language, "query.language") if language else None
    async with uow:
        return await queries.list_distributions(uow.session, page, language=wanted, start=start, end=end, **filters)


async def agency_coverage(
    uow: UnitOfWork, audience: Audience, agencies: list[str], topic: str | None
) -> dict[str, Any]:
    """How many materials are expected, and per agency which reached its staff and which did not."""
    async with uow:
        materials = await queries.all_materials(uow.session, topic)
        delivered = await queries.distributions_to(uow.session, audience)
        known = await queries.agencies(uow.session)
    rows = coverage(
        [(m.id, m.slug) for m in materials],
        [Delivered(d.agency, d.material_id, d.language, d.copies, d.distributed_on) for d in delivered],
        [*known, *agencies],
    )
    reached = [
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
        "materials": len(materials),
        "agencies": reached,
        "all_covered": all(r.complete for r in rows),
    }
