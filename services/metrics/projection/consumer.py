"""The metrics consumer process: reads the producers' streams and applies them, and compares the
projections with the producers' logs to repair what the bus lost (see ``logwatch.py``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection.applying import apply_and_enqueue
from services.metrics.projection.logwatch import LogWatch
from services.metrics.totals import changes as totals_changes
from shared import tracing
from shared.bus.client import redis_client
from shared.bus.consumer import BusLost, StreamConsumer
from shared.bus.leases import Leases
from shared.bus.wake import Waker
from shared.contracts.events import Envelope
from shared.contracts.events.envelope import PRODUCERS, Source
from shared.db.engine import get_engine
from shared.heap import startup_heap_frozen
from shared.settings import Settings, get_settings

REDIS_TIMEOUT_S = 10.0
"""No Redis answer within this (reads block 0.5 s at most) is a fault: the command fails and is retried, and a
connection that will never answer cannot hold a reader, the leases or the log watch forever."""

log = logging.getLogger(__name__)


def handler_for(engine: AsyncEngine, zone: str):  # type: ignore[no-untyped-def]
    async def handle(events: Sequence[Envelope]) -> None:
        with tracing.applying(events):  # a span of the writes' traces, when tracing is on
            await apply_and_enqueue(engine, events, zone=zone)

    return handle


def build_consumer(  # type: ignore[no-untyped-def]
    settings: Settings,
    engine: AsyncEngine,
    redis,
    on_bus_lost: BusLost | None = None,
    heartbeat: Callable[[], None] | None = None,
) -> StreamConsumer:
    streams = settings.all_streams(PRODUCERS)
    leases = None
    if settings.stream_partitions > 1:
        members = f"{settings.stream_prefix}:{settings.consumer_group}:members"
        leases = Leases(redis, streams, members, settings.consumer_name, settings.partition_lease_ms)
    return StreamConsumer(
        redis,
        streams,
        settings.consumer_group,
        settings.consumer_name,
        handler_for(engine, settings.local_timezone),
        settings.dead_letter_stream,
        max_deliveries=settings.max_deliveries,
        batch=settings.consumer_batch,
        block_ms=settings.consumer_block_ms,
        claim_idle_ms=settings.claim_idle_ms,
        claim_every_s=settings.claim_every_s,
        on_bus_lost=on_bus_lost,
        heartbeat=heartbeat,
        leases=leases,
        on_acked=Waker(redis, totals_changes.channel(settings)).wake,  # the totals' readers see the batch now
    )


def build_log_watch(settings: Settings, engine: AsyncEngine, redis, logs: dict[str, httpx.AsyncClient]) -> LogWatch:  # type: ignore[no-untyped-def]
    return LogWatch(
        engine,
        redis,
        logs,
        {source: settings.streams(source) for source in PRODUCERS},
        settings.consumer_group,
        zone=settings.local_timezone,
        every_s=settings.log_check_every_s,
        grace_s=settings.log_loss_grace_s,
    )


def _log_url(settings: Settings, source: Source) -> str:
    """Where a producer serves its event log: ``CPTED_<SOURCE>_URL``."""
    return str(getattr(settings, f"{source}_url"))


async def run(
    stop: asyncio.Event, settings: Settings | None = None, heartbeat: Callable[[], None] | None = None
) -> None:
    settings = settings or get_settings()
    engine = get_engine(settings)
    redis = redis_client(settings, socket_timeout=REDIS_TIMEOUT_S)
    async with AsyncExitStack() as stack:
        watch: LogWatch | None = None
        if settings.service_api_key:
            headers = {"Authorization": f"Bearer {settings.service_api_key}"}
            logs = {
                source: await stack.enter_async_context(
                    httpx.AsyncClient(base_url=_log_url(settings, source), headers=headers, timeout=30)
                )
                for source in PRODUCERS
            }
            watch = build_log_watch(settings, engine, redis, logs)
            logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per log read would drown the rest
        else:
            log.warning("no CPTED_SERVICE_API_KEY: events the bus loses are not found until `cpted reconcile` runs")
        consumer = build_consumer(settings, engine, redis, watch.bus_lost if watch else None, heartbeat)
        log.info("metrics consumer %s reading %s", settings.consumer_name, consumer.streams)
        try:
            with startup_heap_frozen(settings.heap_freeze):
                await asyncio.gather(consumer.run(stop), *([watch.run(stop)] if watch else []))
        finally:
            await redis.aclose()
            await engine.dispose()
