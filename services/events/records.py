"""What every handler of the events service shares: load-or-404, days that must have come, list periods."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from services.events.tables import CommunityEvent, Distribution, Material, Stakeholder, Training
from shared.db.engine import get_or_404
from shared.db.uow import UnitOfWork
from shared.errors import InvalidField

_NAMES = {
    CommunityEvent: "event",
    Material: "material",
    Distribution: "distribution",
    Training: "training",
    Stakeholder: "stakeholder",
}


async def load(uow: UnitOfWork, model: Any, id_: uuid.UUID, *, for_update: bool = False) -> Any:
    return await get_or_404(uow.session, model, id_, _NAMES[model], for_update=for_update)


async def get(uow: UnitOfWork, model: Any, id_: uuid.UUID) -> Any:
    """A record any reader may see, or 404."""
    async with uow:
        return await load(uow, model, id_)


def not_in_future(day: date, field: str, today: date) -> None:
    if day > today:
        raise InvalidField(f"{day} is in the future; record what has happened", field=f"body.{field}")


def check_period(start: date | None, end: date | None) -> None:
    """The ``from`` and ``to`` of a list, in order."""
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")
