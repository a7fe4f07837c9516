"""Replaying the producers' event logs (``GET /v1/outbox``) into the projections.

``rebuild`` streams each log in its NDJSON form straight into COPY (no
event passes through Python on either side), computes each
projection from it with one aggregate into a table of its own, and swaps
those in for the current ones, all in one transaction: readers see the old
totals until the new ones are complete, and a consumer running meanwhile
waits, then finds its events already applied.

``reconcile`` applies every logged event the projections have not seen
(events lost with a Redis failure, say), one JSON page per transaction, and
reports how many were missing and how far it read. Events already applied
are recognised by id and change nothing. It runs from the command line and,
from a known position onwards, whenever the metrics consumer finds the
projections short of the logs (see ``logwatch.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection.applying import apply_and_enqueue
from services.metrics.projection.projector import kinds_of_types
from services.metrics.totals.store import projections
from shared.contracts.events import Envelope, parse_event
from shared.contracts.events.envelope import UnknownEvent, registry

Progress = Callable[[str, int], None]
Logs = Mapping[str, httpx.AsyncClient]
"""A client per producer's event log, by producer."""
STREAM_PAGE = 100_000
"""Events per request of a rebuild's streamed read (the most the CSV form serves)."""


@dataclass
class LogPage:
    items: list[dict[str, Any]]
    through: int
    """The position read up to: every logged event up to it is in this page or an earlier one."""

    @property
    def positions(self) -> list[int]:
        return [int(item["position"]) for item in self.items]

    @property
    def ids(self) -> list[uuid.UUID]:
        """The events' ids, read without parsing the rest (an event of a version unknown here still has one)."""
        return [uuid.UUID(str(item["event"]["id"])) for item in self.items]

    def events(self) -> list[Envelope]:
        return [parse_event(item["event"]) for item in self.items]


async def read_log(
    client: httpx.AsyncClient, page_size: int, *, after: int = 0, stop_when_waiting: bool = False
) -> AsyncIterator[LogPage]:
    """The producer's log from ``after`` on, page by page, to its end.

    ``stop_when_waiting``: end where a transaction may still be committing an earlier event,
    instead of waiting for it.
    """
    while True:
        response = await client.get("/v1/outbox", params={"limit": page_size, "after": after})
        response.raise_for_status()
        body = orjson.loads(response.content)
        items = body["items"]
        yield LogPage(items, int(items[-1]["position"]) if items else after)
        if body["waiting"]:  # an earlier event may still be committing: read on from where this page stopped
            if stop_when_waiting:
                return
            after = body["next_after"]
            await asyncio.sleep(0.2)
            continue
        if body["next_after"] is None:
            return
        after = body["next_after"]


async def log_pages(
    client: httpx.AsyncClient, page_size: int, *, after: int = 0, source: str = "", progress: Progress | None = None
) -> AsyncIterator[AsyncIterator[bytes]]:
    """The producer's log from ``after`` on, to its end, in its CSV form: page after page, the bytes of each as
    they arrive (read each page to its end before asking for the next)."""
    while True:
        params = {"limit": page_size, "after": after, "format": "csv"}
        async with client.stream("GET", "/v1/outbox", params=params) as response:
            if response.is_error:
                await response.aread()
                response.raise_for_status()
            yield _counted(response.aiter_bytes(), source, progress)
        next_after = response.headers.get("Log-Next-After")
        if next_after is None:
            return
        after = int(next_after)
        if response.headers.get("Log-Waiting") == "true":  # an earlier event may still be committing
            await asyncio.sleep(0.2)


async def _counted(chunks: AsyncIterator[bytes], source: str, progress: Progress | None) -> AsyncIterator[bytes]:
    """The chunks of a CSV page; ``progress`` hears of its rows (the header line aside)."""
    header = True
    async for chunk in chunks:
        if progress:
            progress(source, chunk.count(b"\n") - header)
            header = False
        yield chunk


async def rebuild(
    engine: AsyncEngine, logs: Logs, *, zone: str, page_size: int = STREAM_PAGE, progress: Progress | None = None
) -> int:
    """Replay every producer's log into new projections; returns how many events they hold."""
    async with engine.begin() as conn:
        await projections.hold_writers(conn)
        await projections.stage(conn)
        for source, client in logs.items():
            async for page in log_pages(client, page_size, source=source, progress=progress):
                await projections.copy_staged(conn, page)
        for type_, version in sorted(await projections.staged_types(conn)):
            if registry.get(type_, version) is None:
                raise UnknownEvent(f"unknown event type {type_!r} version {version!r}")
        await projections.build_from_staged(conn, kinds_of_types(), zone)
        return await projections.swap_in(conn)


@dataclass
class Reconciliation:
    examined: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    through: dict[str, int] = field(default_factory=dict)
    """Per producer, the log position every event up to which is now applied."""

    @property
    def repaired(self) -> int:
        return sum(self.missing.values())


async def reconcile(
    engine: AsyncEngine,
    logs: Logs,
    *,
    zone: str,
    page_size: int = 2000,
    progress: Progress | None = None,
    start: Mapping[str, int] | None = None,
) -> Reconciliation:
    """Apply the logged events the projections lack (after the ``start`` positions, if given);
    report how many were missing per producer and how far each log was read."""
    report = Reconciliation()
    for source, client in logs.items():
        report.examined[source] = report.missing[source] = 0
        report.through[source] = (start or {}).get(source, 0)
        async for page in read_log(client, page_size, after=report.through[source]):
            events = page.events()
            # Events the consumer never applied were never sent to the webhooks either.
            report.missing[source] += await apply_and_enqueue(engine, events, zone=zone)
            report.examined[source] += len(events)
            report.through[source] = page.through
            if progress:
                progress(source, len(events))
    return report
