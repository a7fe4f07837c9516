"""The directory of partnerships and neighbourhoods, as the caller sees it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.events.programme.directory import AuditsDirectory, Directory
from shared.auth.keys import ReaderKey, bearer_token


async def get_directory(request: Request, principal: ReaderKey) -> Directory:
    # The caller's own key: an editor can only name partnerships it may see.
    return AuditsDirectory(request.app.state.audits_client, bearer_token(request))


DirectoryDep = Annotated[Directory, Depends(get_directory)]
