"""The nightly retention run: the metrics service's own kinds of records, and each producer's through its
``POST /v1/retention`` (read with ``CPTED_SERVICE_API_KEY``, as the consumer reads their logs).

The metrics service keeps: dead letters (Redis), the bodies of delivered CSWB feeds, the log of finished
webhook deliveries, and Idempotency-Key claims. ``shared/retention.py`` runs the kinds; docs/retention.md says
what is kept and why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.metrics.cswb.store.feeds import remove_delivered_bodies
from services.metrics.totals.store.tables import idempotency
from services.metrics.webhooks.store import remove_finished_before
from shared.bus.deadletters import remove_older_than
from shared.clock import Clock
from shared.contracts.events.envelope import PRODUCERS
from shared.retention import Kind, Run, idempotency_keys, in_transaction, runner
from shared.settings import Settings

Report = dict[str, dict[str, int]]
"""What a run removed, by service and kind."""


def kinds(engine: AsyncEngine, redis: Redis, settings: Settings, clock: Clock) -> list[Kind]:
    async def dead_letters(cutoff: datetime, dry_run: bool) -> int:
        return await remove_older_than(redis, settings.dead_letter_stream, cutoff, dry_run)

    async def feed_bodies(conn: AsyncConnection, cutoff: datetime, dry_run: bool) -> int:
        return await remove_delivered_bodies(conn, cutoff, clock.now(), dry_run)

    return [
        Kind("dead_letters", settings.retention_dead_letter_days, dead_letters),
        Kind("cswb_feed_bodies", settings.retention_cswb_body_days, in_transaction(engine, feed_bodies)),
        Kind(
            "webhook_deliveries",
            settings.retention_webhook_delivery_days,
            in_transaction(engine, remove_finished_before),
        ),
        idempotency_keys(engine, idempotency, settings.retention_idempotency_days),
    ]


def over_http(client: httpx.AsyncClient) -> Run:
    """A producer's retention run through its ``POST /v1/retention``."""

    async def run(dry_run: bool) -> dict[str, int]:
        response = await client.post("/v1/retention", params={"dry_run": "true" if dry_run else "false"})
        response.raise_for_status()
        return dict(response.json()["removed"])

    return run


@asynccontextmanager
async def producers_over_http(settings: Settings) -> AsyncIterator[dict[str, Run]]:
    """Each producer's run at ``CPTED_<PRODUCER>_URL``, with the service key."""
    if not settings.service_api_key:
        raise RuntimeError("no CPTED_SERVICE_API_KEY: the producers' retention cannot be applied")
    headers = {"Authorization": f"Bearer {settings.service_api_key}"}
    async with AsyncExitStack() as stack:
        yield {
            source: over_http(
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=str(getattr(settings, f"{source}_url")), headers=headers, timeout=600)
                )
            )
            for source in PRODUCERS
        }


async def apply_everywhere(
    engine: AsyncEngine,
    redis: Redis,
    settings: Settings,
    clock: Clock,
    producers: Mapping[str, Run],
    *,
    dry_run: bool,
) -> Report:
    """The metrics service's kinds, then each producer's; what each removed (or, dry, would remove)."""
    report = {"metrics": await runner(engine, "metrics", kinds(engine, redis, settings, clock), clock)(dry_run)}
    for source, run in producers.items():
        report[source] = await run(dry_run)
    return report
