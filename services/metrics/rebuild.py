"""Rebuild the projections from zero out of the producers' event logs (``GET /v1/outbox``).

Runs in one transaction: readers see the old totals until the new ones are
complete, and a consumer running meanwhile waits, then finds its events
already applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projector import apply_events, clear_projections
from shared.events import parse_event

Progress = Callable[[str, int], None]


async def rebuild(
    engine: AsyncEngine,
    logs: Mapping[str, httpx.AsyncClient],
    *,
    page_size: int = 2000,
    progress: Progress | None = None,
) -> int:
    """Replay every producer's log; returns how many events were applied."""
    applied = 0
    async with engine.begin() as conn:
        await clear_projections(conn)
        for source, client in logs.items():
            after: str | None = None
            while True:
                params: dict[str, str | int] = {"limit": page_size}
                if after:
                    params["after"] = after
                response = await client.get("/v1/outbox", params=params)
                response.raise_for_status()
                body = response.json()
                events = [parse_event(item["event"]) for item in body["items"]]
                applied += await apply_events(conn, events)
                if progress:
                    progress(source, len(events))
                after = body["next_after"]
                if not after:
                    break
    return applied
