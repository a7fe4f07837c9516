"""Dependencies of the audits API, declared once: the caller, units of work, and what the app factory keeps.

Settings and the photo storage are made once with the app
(``services/audits/app.py`` and the shared factory it calls), kept on
``app.state`` and read from there here, never rebuilt deeper down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request

from services.audits.core.store.repository import PARENT_AUDIT
from services.audits.photos.settings import PhotoSettings
from services.audits.photos.store.files import PhotoFiles
from services.audits.settings import AuditsSettings
from services.audits.tables import outbox
from shared.auth.keys import Principal, current_principal
from shared.db.uow import UnitOfWork
from shared.web.http import unit_of_work

get_uow = unit_of_work(outbox, "audits")
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ParentAuditRow = Annotated[Mapping[str, Any] | None, Depends(PARENT_AUDIT.row)]
"""The audit of the path, read with the caller's key where the route is marked ``PARENT_AUDIT.with_key``."""


async def get_reading_uow(request: Request) -> UnitOfWork:
    """For the open standards' reads, which need no key: a unit of work that only reads."""
    return UnitOfWork(request.app.state.engine)


ReadingUowDep = Annotated[UnitOfWork, Depends(get_reading_uow)]


def _kept(name: str) -> Callable[[Request], Awaitable[Any]]:
    async def read(request: Request) -> Any:
        return getattr(request.app.state, name)

    return read


AuditsSettingsDep = Annotated[AuditsSettings, Depends(_kept("audits_settings"))]
PhotoSettingsDep = Annotated[PhotoSettings, Depends(_kept("photo_settings"))]
PhotoFilesDep = Annotated[PhotoFiles, Depends(_kept("photo_files"))]


async def optional_principal(request: Request) -> Principal | None:
    """For the open standards: no key is the public view; a key that is sent must be valid (else Unauthorized)."""
    if "authorization" not in request.headers:
        return None
    # The same checks as every other route, OIDC tokens included.
    return await current_principal(request)
