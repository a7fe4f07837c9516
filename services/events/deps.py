"""Dependencies of the events API, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.events.directory import AuditsDirectory, Directory
from services.events.tables import outbox
from shared.auth.keys import ReaderKey, bearer_token
from shared.db.uow import UnitOfWork
from shared.web.http import unit_of_work


async def get_directory(request: Request, principal: ReaderKey) -> Directory:
    # The caller's own key: an editor can only name partnerships it may see.
    return AuditsDirectory(request.app.state.audits_client, bearer_token(request))


get_uow = unit_of_work(outbox, "events")
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
DirectoryDep = Annotated[Directory, Depends(get_directory)]
