"""Delivering a date's feed again at an admin's request: every configured destination, handed to the workers."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics import tasks
from services.metrics.cswb.handlers import feeds
from services.metrics.cswb.handlers.reads import shown
from services.metrics.cswb.settings import CswbSettings
from shared.errors import Conflict, Unavailable


async def redeliver(engine: AsyncEngine, cswb: CswbSettings, day: date) -> dict[str, Any]:
    if not cswb.cswb_destinations:
        raise Conflict("no destination is configured (CPTED_CSWB_DESTINATIONS)")
    tickets = await feeds.redeliver(engine, cswb, day)
    try:
        queued = await asyncio.to_thread(tasks.enqueue, tickets)
    except (OSError, BrokerUnavailable) as exc:
        raise Unavailable("the task broker is unavailable; the nightly run will deliver it") from exc
    return {"feed_date": day, "queued": queued, "destinations": [shown(t.destination) for t in tickets]}
