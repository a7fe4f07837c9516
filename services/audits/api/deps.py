"""Dependencies of the audits API, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.audits.store.tables import outbox
from shared.auth import ReaderKey
from shared.uow import UnitOfWork


def get_uow(request: Request, principal: ReaderKey) -> UnitOfWork:
    return UnitOfWork(request.app.state.engine, outbox, "audits", actor=principal.actor)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
