"""A partnership's calendar feed: its events of the last 400 days and everything ahead."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.events.programme.directory import Directory
from services.events.programme.domain.calendar import build
from services.events.programme.store import queries
from shared.auth.keys import Principal
from shared.clock import Clock
from shared.db.uow import UnitOfWork
from shared.errors import NotFound, Unavailable

HISTORY = timedelta(days=400)
MOST_EVENTS = 5000


async def feed(
    uow: UnitOfWork, principal: Principal, directory: Directory, partnership_id: uuid.UUID, clock: Clock
) -> bytes:
    """The iCalendar body, named after the partnership when the audits service can say its name."""
    principal.ensure_visible([partnership_id], f"partnership {partnership_id}")
    name = f"CPTED partnership {partnership_id}"
    try:
        known = await directory.partnership(partnership_id)
    except Unavailable:
        known = None  # the feed still serves its events while audits is away
    else:
        if known is None:
            raise NotFound(f"partnership {partnership_id} not found")
    if known:
        name = f"{known.name}: community events"
    async with uow:
        rows = await queries.calendar_events(uow.session, partnership_id, clock.now() - HISTORY, MOST_EVENTS)
    return build(name, rows)
