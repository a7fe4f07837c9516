"""Dependencies every router of the events service uses, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.events.tables import outbox
from shared.clock import Clock
from shared.db.uow import UnitOfWork
from shared.web.http import unit_of_work


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


get_uow = unit_of_work(outbox, "events")
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ClockDep = Annotated[Clock, Depends(get_clock)]
