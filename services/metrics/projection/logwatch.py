"""Finding and repairing what the bus lost: the projections compared with the producers' event logs.

Redis is a transport; the producers' outboxes are the truth. Every few
seconds one consumer reads the new part of each producer's log
(``GET /v1/outbox``), notes which events the projections have not applied,
checks again those it noted before, and stores the position up to which
every event is applied and how many are not: that count is the lag the API
reports, so the lag does not read 0 while the projections are short.

Events the bus will never deliver are re-applied with ``reconcile`` from that
position, at once when the bus shows it lost data (a stream or consumer group
gone, the group's last delivered entry going backwards, a restarted Redis),
or when an event has stayed unapplied for ``grace_s`` while the group has
nothing left to deliver (an append-only-file that lost its last second, a
relay that cannot publish), or for ``STALLED_GRACES`` times ``grace_s`` although
the bus still holds it (consumers that stopped applying: a wedged connection, a
bug). Applying is idempotent by event id, so an event the bus was only slow to
deliver is never counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection.replay import read_log, reconcile
from services.metrics.totals.store import log_positions
from shared.bus.client import server_runs
from shared.bus.consumer import lag as bus_lag
from shared.clock import wait_for_any

log = logging.getLogger(__name__)

LAG = Gauge("cpted_metrics_lag_events", "Logged events the metrics projections have not applied yet", ["source"])
REPAIRED = Counter(
    "cpted_metrics_events_repaired_total", "Events applied from a producer's log because the bus lost them", ["source"]
)
LOSSES = Counter("cpted_metrics_bus_losses_total", "Times the bus was found to have lost events", ["source"])
REPAIRING = Gauge(
    "cpted_metrics_repairing", "1 while lost events are being re-applied from a producer's log", ["source"]
)


MAX_PENDING = 100_000
"""Unapplied events remembered per producer; beyond, the log is read on in later rounds."""
MAX_RETRY_S = 300.0
STALLED_GRACES = 6
"""An event still unapplied after this many graces is applied from the log even though the bus holds it."""


@dataclass
class _Progress:
    read_through: int
    """Every logged event up to here has been read: applied, or in ``pending``."""
    pending: dict[int, uuid.UUID] = field(default_factory=dict)
    """Position -> id of the events read but not applied yet."""
    applied_before: int = 0
    """Where the stored position was when this process started: 0 on a platform's first start."""
    first_round: bool = True


class LogWatch:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: Any,
        logs: Mapping[str, httpx.AsyncClient],
        streams: Mapping[str, Sequence[str]],
        group: str,
        *,
        zone: str,
        every_s: float = 2.0,
        grace_s: float = 10.0,
        page_size: int = 2000,
    ) -> None:
        self.engine = engine
        self.redis = redis
        self.logs = logs
        self.streams = streams
        self.group = group
        self.zone = zone
        self.every_s = every_s
        self.grace_s = grace_s
        self.page_size = page_size
        self._suspect: dict[str, str] = {}
        self._oldest_unapplied: dict[str, tuple[int, float]] = {}
        self._last_delivered: dict[str, tuple[int, int]] = {}
        self._redis_runs: frozenset[str] | None = None
        self._progress: dict[str, _Progress] = {}
        self._failures: dict[str, int] = {}
        self._wake = asyncio.Event()

    def bus_lost(self, stream: str, reason: str) -> None:
        """The consumer saw a sign of lost data on ``stream``: compare and repair at once."""
        for source, names in self.streams.items():
            if stream in names:
                self._suspect.setdefault(source, reason)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_once()
            except Exception as exc:  # the logs or the database away: the next round tries again
                log.warning("comparing the projections with the event logs failed: %s: %s", type(exc).__name__, exc)
            self._wake.clear()
            await wait_for_any(self.every_s, stop, self._wake)

    async def check_once(self) -> None:
        await self._watch_bus()
        for source, client in self.logs.items():
            async with self.engine.begin() as conn:
                turn = await log_positions.take_turn(conn, source, self.every_s)
            if turn or source in self._suspect:
                await self._check(source, client)

    async def _check(self, source: str, client: httpx.AsyncClient) -> None:
        progress = await self._recheck(source)
        async with aclosing(
            read_log(client, self.page_size, after=progress.read_through, stop_when_waiting=True)
        ) as pages:
            async for page in pages:
                ids = page.ids
                async with self.engine.connect() as conn:
                    done = await log_positions.processed_among(conn, ids)
                progress.pending.update(
                    (position, id_) for position, id_ in zip(page.positions, ids, strict=True) if id_ not in done
                )
                progress.read_through = page.through
                if len(progress.pending) >= MAX_PENDING:  # far behind: the rest waits for the next round
                    break
        first_unapplied = min(progress.pending) if progress.pending else None
        through = first_unapplied - 1 if first_unapplied is not None else progress.read_through
        behind = len(progress.pending)
        reason = self._suspect.pop(source, None)
        if reason and progress.first_round and progress.applied_before == 0:
            reason = None  # nothing applied before: a first start, where a new group reads the whole stream
        progress.first_round = False
        if first_unapplied is None:
            self._oldest_unapplied.pop(source, None)
        elif reason is None:
            reason = await self._overdue(source, first_unapplied)
        if reason is None or first_unapplied is None:
            await self._record(source, applied_through=through, behind=behind)
            return
        await self._repair(source, client, through, behind, reason)

    async def _recheck(self, source: str) -> _Progress:
        """What this process knew of the log, less what has been applied since (by anyone)."""
        async with self.engine.connect() as conn:
            stored = await log_positions.applied_through(conn, source)
            progress = self._progress.setdefault(source, _Progress(stored, applied_before=stored))
            progress.read_through = max(progress.read_through, stored)
            pending = {p: i for p, i in progress.pending.items() if p > stored}
            done = await log_positions.processed_among(conn, pending.values())
        progress.pending = {p: i for p, i in pending.items() if i not in done}
        return progress

    async def _overdue(self, source: str, position: int) -> str | None:
        seen = self._oldest_unapplied.get(source)
        now = time.monotonic()
        if seen is None or seen[0] != position:
            self._oldest_unapplied[source] = (position, now)
            return None
        waited = now - seen[1]
        if waited < self.grace_s:
            return None
        if waited >= self.grace_s * STALLED_GRACES:  # the bus holds it, but nothing applies it
            return f"log position {position} unapplied for {waited:.0f}s though the bus holds it: consumers stalled"
        if await self._bus_has_more(source):
            return None
        return f"log position {position} unapplied for {self.grace_s:g}s with nothing left on the bus for it"

    async def _repair(self, source: str, client: httpx.AsyncClient, start: int, behind: int, reason: str) -> None:
        log.warning("%s: the projections lack %d logged events (%s); re-applying from the log", source, behind, reason)
        await self._record(source, applied_through=start, behind=behind, repairing=True)
        REPAIRING.labels(source).set(1)
        try:
            report = await reconcile(
                self.engine, {source: client}, zone=self.zone, page_size=self.page_size, start={source: start}
            )
        except Exception as exc:
            # An event that cannot be applied (it is in the dead letters, say): honest lag, and a later try.
            failures = self._failures.get(source, 0) + 1
            self._failures[source] = failures
            self._oldest_unapplied[source] = (start + 1, time.monotonic() + min(2.0**failures, MAX_RETRY_S))
            await self._record(source, applied_through=start, behind=behind, loss=f"re-applying failed: {exc}")
            raise
        finally:
            REPAIRING.labels(source).set(0)
        self._failures.pop(source, None)
        missing = report.missing[source]
        self._oldest_unapplied.pop(source, None)
        self._progress[source] = _Progress(
            report.through[source], applied_before=report.through[source], first_round=False
        )
        if missing:
            LOSSES.labels(source).inc()
            REPAIRED.labels(source).inc(missing)
            log.warning("%s: %d events the bus lost are applied now (%s)", source, missing, reason)
        loss = f"{missing} events lost by the bus re-applied from the log: {reason}" if missing else None
        await self._record(source, applied_through=report.through[source], behind=0, repaired=missing, loss=loss)

    async def _record(self, source: str, **values: Any) -> None:
        LAG.labels(source).set(values.get("behind", 0))
        async with self.engine.begin() as conn:
            await log_positions.record(conn, source, **values)

    async def _bus_has_more(self, source: str) -> bool:
        try:
            return await bus_lag(self.redis, self.streams[source], self.group) > 0
        except RedisError:
            return False

    async def _watch_bus(self) -> None:
        """Signs that Redis lost data: a new server run (a restart, or a replica promoted in a cluster),
        a stream or group gone, a group gone backwards."""
        try:
            runs = await server_runs(self.redis)
            if self._redis_runs is not None and runs - self._redis_runs:
                for streams in self.streams.values():
                    for stream in streams:
                        self.bus_lost(stream, "Redis restarted or failed over")
            self._redis_runs = runs
            for streams in self.streams.values():
                for stream in streams:
                    await self._watch_stream(stream)
        except RedisError:
            return  # Redis down: the overdue rule repairs from the logs meanwhile

    async def _watch_stream(self, stream: str) -> None:
        try:
            groups: Any = await self.redis.xinfo_groups(stream)
        except ResponseError:
            groups = []
        info = next((g for g in groups if _text(g["name"]) == self.group), None)
        if info is None:
            if stream in self._last_delivered:
                self.bus_lost(stream, f"the consumer group of {stream} is gone")
            self._last_delivered.pop(stream, None)
            return
        ms, _, seq = _text(info["last-delivered-id"]).partition("-")
        delivered = (int(ms), int(seq or 0))
        if delivered < self._last_delivered.get(stream, (0, 0)):
            self.bus_lost(stream, f"the consumer group of {stream} went back to {ms}-{seq}")
        self._last_delivered[stream] = delivered


async def readiness(app: Any) -> dict[str, str]:
    """Not ready while events the bus lost are being re-applied: the totals are known to be short."""
    async with app.state.engine.connect() as conn:
        rows = await log_positions.positions(conn)
    repairing = [f"{source}: {behind} events" for source, behind, _, busy, _, _ in rows if busy]
    if repairing:
        return {"event_log": "repairing: re-applying events the bus lost (" + ", ".join(repairing) + ")"}
    return {"event_log": "ok"}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
