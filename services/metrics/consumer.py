"""The metrics consumer process: reads the producers' streams and applies them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.metrics.projector import apply_events
from services.metrics.webhooks import handlers as webhooks
from shared.bus import redis_client
from shared.consumer import StreamConsumer
from shared.db import get_engine
from shared.events import Envelope
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

SOURCES = ("audits", "events")


async def apply_and_enqueue(engine: AsyncEngine, events: Sequence[Envelope]) -> int:
    """Apply the events not applied before and enqueue their webhook deliveries, in one transaction: an event
    is enqueued once, or not applied at all. Returns how many were new."""
    tickets: list[webhooks.Ticket] = []

    async def enqueue(conn: AsyncConnection, fresh: list[Envelope]) -> None:
        tickets.extend(await webhooks.enqueue(conn, fresh))

    async with engine.begin() as conn:
        applied = await apply_events(conn, events, then=enqueue)
    await webhooks.dispatch(tickets)
    return applied


def handler_for(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    async def handle(events: Sequence[Envelope]) -> None:
        await apply_and_enqueue(engine, events)

    return handle


def build_consumer(settings: Settings, engine: AsyncEngine, redis) -> StreamConsumer:  # type: ignore[no-untyped-def]
    return StreamConsumer(
        redis,
        [settings.stream(s) for s in SOURCES],
        settings.consumer_group,
        settings.consumer_name,
        handler_for(engine),
        settings.dead_letter_stream,
        max_deliveries=settings.max_deliveries,
        batch=settings.consumer_batch,
        block_ms=settings.consumer_block_ms,
        claim_idle_ms=settings.claim_idle_ms,
        claim_every_s=settings.claim_every_s,
    )


async def run(stop: asyncio.Event, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    engine = get_engine(settings)
    redis = redis_client(settings)
    consumer = build_consumer(settings, engine, redis)
    log.info("metrics consumer %s reading %s", settings.consumer_name, consumer.streams)
    try:
        await consumer.run(stop)
    finally:
        await redis.aclose()
        await engine.dispose()
