"""The partnerships and the neighbourhood a record names must exist, and the caller must see them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from services.events.programme.directory import Directory
from shared.errors import InvalidField


async def check_places(
    directory: Directory,
    partnership_ids: Iterable[uuid.UUID],
    neighbourhood_id: uuid.UUID | None,
    *,
    partnership_field: str = "body.partnership_ids",
) -> None:
    """Every partnership named exists (and the caller may see it); so does the neighbourhood."""
    known, missing = [], []
    for pid in dict.fromkeys(partnership_ids):
        found = await directory.partnership(pid)
        (known if found else missing).append(found or pid)
    if missing:
        raise InvalidField(f"unknown partnership(s): {', '.join(map(str, missing))}", field=partnership_field)
    if neighbourhood_id is None:
        return
    if any(neighbourhood_id in p.neighbourhood_ids for p in known):
        return
    if not await directory.neighbourhood_exists(neighbourhood_id):
        raise InvalidField(f"unknown neighbourhood: {neighbourhood_id}", field="body.neighbourhood_id")
