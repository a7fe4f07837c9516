"""Dependencies every router of the events service uses, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.events.tables import outbox
from shared.db.uow import UnitOfWork
from shared.web.http import unit_of_work

get_uow = unit_of_work(outbox, "events")
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
