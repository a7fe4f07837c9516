"""Replaying the producers' event logs (``GET /v1/outbox``) into the projections.

``rebuild`` starts from empty projections, in one transaction: readers see
the old totals until the new ones are complete, and a consumer running
meanwhile waits, then finds its events already applied.

``reconcile`` applies every logged event the projections have not seen
(events lost with a Redis failure, say), one page per transaction, and
reports how many were missing. Events already applied are recognised by id
and change nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.consumer import apply_and_enqueue
from services.metrics.projector import apply_events, clear_projections
from shared.events import Envelope, parse_event

Progress = Callable[[str, int], None]


async def read_log(client: httpx.AsyncClient, page_size: int) -> AsyncIterator[list[Envelope]]:
    after = 0
    while True:
        response = await client.get("/v1/outbox", params={"limit": page_size, "after": after})
        response.raise_for_status()
        body = response.json()
        yield [parse_event(item["event"]) for item in body["items"]]
        if body["waiting"]:  # an earlier event may still be committing: read on from where this page stopped
            after = body["next_after"]
            await asyncio.sleep(0.2)
            continue
        if body["next_after"] is None:
            return
        after = body["next_after"]


async def rebuild(
    engine: AsyncEngine,
    logs: Mapping[str, httpx.AsyncClient],
    *,
    page_size: int = 2000,
    progress: Progress | None = None,
) -> int:
    """Replay every producer's log into empty projections; returns how many events were applied."""
    applied = 0
    async with engine.begin() as conn:
        await clear_projections(conn)
        for source, client in logs.items():
            async for events in read_log(client, page_size):
                applied += await apply_events(conn, events, exclusive=True)
                if progress:
                    progress(source, len(events))
    return applied


@dataclass
class Reconciliation:
    examined: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def repaired(self) -> int:
        return sum(self.missing.values())


async def reconcile(
    engine: AsyncEngine,
    logs: Mapping[str, httpx.AsyncClient],
    *,
    page_size: int = 2000,
    progress: Progress | None = None,
) -> Reconciliation:
    """Apply the logged events the projections lack; report how many were missing per producer."""
    report = Reconciliation()
    for source, client in logs.items():
        report.examined[source] = report.missing[source] = 0
        async for events in read_log(client, page_size):
            # Events the consumer never applied were never sent to the webhooks either.
            report.missing[source] += await apply_and_enqueue(engine, events)
            report.examined[source] += len(events)
            if progress:
                progress(source, len(events))
    return report
