"""Dependencies of the audits API, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.audits.photos.store.files import PhotoFiles
from services.audits.tables import outbox
from shared.auth.keys import Principal, current_principal
from shared.db.uow import UnitOfWork
from shared.web.http import unit_of_work

get_uow = unit_of_work(outbox, "audits")
UowDep = Annotated[UnitOfWork, Depends(get_uow)]


async def get_photo_files(request: Request) -> PhotoFiles:
    files: PhotoFiles = request.app.state.photo_files
    return files


PhotoFilesDep = Annotated[PhotoFiles, Depends(get_photo_files)]


async def optional_principal(request: Request) -> Principal | None:
    """For the open standards: no key is the public view; a key that is sent must be valid (else Unauthorized)."""
    if "authorization" not in request.headers:
        return None
    # The same checks as every other route, OIDC tokens included.
    return await current_principal(request)
