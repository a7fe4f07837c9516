"""Applying events to the projections and queueing their webhook deliveries in the same transaction.

Both the consumer (events from the streams) and ``reconcile`` (events the streams lost) go through here,
so an event is sent to the webhooks once, when it is first applied, whichever way it arrived.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.metrics.projection.projector import apply_events
from services.metrics.webhooks import handlers as webhooks
from shared.contracts.events import Envelope


async def apply_and_enqueue(engine: AsyncEngine, events: Sequence[Envelope], *, zone: str) -> int:
    """Apply the events not applied before and enqueue their webhook deliveries, in one transaction: an event
    is enqueued once, or not applied at all. Returns how many were new; ``zone`` as ``apply_events``."""
    tickets: list[webhooks.Ticket] = []

    async def enqueue(conn: AsyncConnection, fresh: list[Envelope]) -> None:
        tickets.extend(await webhooks.enqueue(conn, fresh))

    async with engine.begin() as conn:
        applied = await apply_events(conn, events, zone=zone, then=enqueue)
    await webhooks.dispatch(tickets)
    return applied
