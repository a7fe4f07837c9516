"""The stream consumer: a consumer group over the producers' streams.

A batch is handed to the handler, which applies it and records the event ids
as processed in one database transaction; entries are acknowledged only after
that commit. A batch that fails is retried event by event so one bad event
cannot hold the others back; an event that keeps failing goes to the
dead-letter stream with its error after ``max_deliveries``. Entries left
pending by a consumer that died are taken over with XAUTOCLAIM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.clock import wait_for_any
from shared.contracts.events import Envelope, parse_event
from shared.errors import infrastructure_fault

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Envelope]], Awaitable[None]]
BusLost = Callable[[str, str], None]
"""Told ``(stream, reason)`` when a stream's consumer group is found missing: Redis may have lost data."""


@dataclass(frozen=True)
class Entry:
    stream: str
    entry_id: str
    raw: bytes


def is_transient(exc: BaseException) -> bool:
    """Faults of the infrastructure, not of the event: retry without counting a delivery.

    A database that is restarting ("the database system is starting up") counts, whatever class
    the driver gives it."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | OSError | TimeoutError | RedisConnectionError | RedisTimeoutError):
        return True
    return infrastructure_fault(exc) is not None


class StreamConsumer:
    def __init__(
        self,
        redis: Redis,
        streams: Sequence[str],
        group: str,
        name: str,
        handler: Handler,
        dead_letter_stream: str,
        *,
        max_deliveries: int = 5,
        batch: int = 200,
        block_ms: int = 500,
        claim_idle_ms: int = 30_000,
        claim_every_s: float = 5.0,
        on_bus_lost: BusLost | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.redis = redis
        self.streams = list(streams)
        self.group = group
        self.name = name
        self.handler = handler
        self.dead_letter_stream = dead_letter_stream
        self.max_deliveries = max_deliveries
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_every_s = claim_every_s
        self.applied = 0
        self._last_claim = 0.0
        self.on_bus_lost = on_bus_lost
        self.heartbeat = heartbeat

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
                continue
            if self.on_bus_lost:  # a first start, or a Redis that lost the group with its data
                self.on_bus_lost(stream, f"the consumer group of {stream} had to be created")

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                await self.ensure_groups()
                await self._drain_own_pending()
                while not stop.is_set():
                    await self.poll_once()
                    self._beat()
                    backoff = 0.2
            except Exception as exc:
                self._beat()  # alive, waiting for Redis or the database: a restart would not help
                if _is_nogroup(exc) and self.on_bus_lost:
                    for stream in self.streams:
                        self.on_bus_lost(stream, f"the consumer group of {stream} is gone (NOGROUP)")
                if not is_transient(exc) and not _is_nogroup(exc):
                    log.exception("consumer %s: unexpected failure", self.name)
                else:
                    log.warning("consumer %s: %s; retrying in %.1fs", self.name, exc, backoff)
                await wait_for_any(backoff, stop)
                backoff = min(backoff * 2, 5.0)

    def _beat(self) -> None:
        if self.heartbeat:
            self.heartbeat()

    async def poll_once(self) -> int:
        """Claim abandoned entries when due, then read and apply one batch of new ones."""
        handled = 0
        if time.monotonic() - self._last_claim >= self.claim_every_s:
            handled += await self.claim_abandoned()
            self._last_claim = time.monotonic()
        response: Any = await self.redis.xreadgroup(
            self.group, self.name, {s: ">" for s in self.streams}, count=self.batch, block=self.block_ms
        )
        for stream, messages in response or []:
            handled += await self.process(_entries(stream, messages))
        return handled

    async def _drain_own_pending(self) -> None:
        """After a restart under the same name, our own unacknowledged entries come first."""
        for stream in self.streams:
            while True:
                response: Any = await self.redis.xreadgroup(self.group, self.name, {stream: "0"}, count=self.batch)
                messages = response[0][1] if response else []
                messages = [m for m in messages if m[1]]
                if not messages:
                    break
                await self.process(_entries(stream, messages))

    async def claim_abandoned(self) -> int:
        handled = 0
        for stream in self.streams:
            start = "0-0"
            while True:
                result: Any = await self.redis.xautoclaim(
                    stream, self.group, self.name, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, messages = _to_str(result[0]), [m for m in result[1] if m[1]]
                if messages:
                    handled += await self.process(_entries(stream, messages))
                if start == "0-0":
                    break
        return handled

    async def process(self, entries: list[Entry]) -> int:
        if not entries:
            return 0
        stream = entries[0].stream
        parsed: list[tuple[Entry, Envelope]] = []
        for entry in entries:
            try:
                parsed.append((entry, parse_event(entry.raw)))
            except Exception as exc:
                await self._dead_letter(entry, f"unreadable event: {exc}", deliveries=1)
        if not parsed:
            return 0
        try:
            await self.handler([event for _, event in parsed])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("consumer %s: batch of %d failed (%s); applying one by one", self.name, len(parsed), exc)
            return await self._process_one_by_one(parsed)
        await self.redis.xack(stream, self.group, *[entry.entry_id for entry, _ in parsed])
        self.applied += len(parsed)
        return len(parsed)

    async def _process_one_by_one(self, parsed: list[tuple[Entry, Envelope]]) -> int:
        done = 0
        for entry, event in parsed:
            try:
                await self.handler([event])
            except Exception as exc:
                if is_transient(exc):
                    raise
                deliveries = await self._deliveries(entry)
                if deliveries >= self.max_deliveries:
                    await self._dead_letter(entry, f"{type(exc).__name__}: {exc}", deliveries)
                else:
                    log.warning("event %s failed on delivery %d: %s", event.id, deliveries, exc)
                continue
            await self.redis.xack(entry.stream, self.group, entry.entry_id)
            self.applied += 1
            done += 1
        return done

    async def _deliveries(self, entry: Entry) -> int:
        pending = await self.redis.xpending_range(
            entry.stream, self.group, min=entry.entry_id, max=entry.entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else self.max_deliveries

    async def _dead_letter(self, entry: Entry, error: str, deliveries: int) -> None:
        log.error("event %s on %s goes to the dead letters: %s", entry.entry_id, entry.stream, error)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.dead_letter_stream,
                {
                    "event": entry.raw,
                    "stream": entry.stream,
                    "entry_id": entry.entry_id,
                    "group": self.group,
                    "error": error[:2000],
                    "deliveries": str(deliveries),
                    "failed_at": datetime.now(UTC).isoformat(),
                },
            )
            pipe.xack(entry.stream, self.group, entry.entry_id)
            await pipe.execute()


async def lag(redis: Redis, streams: Sequence[str], group: str) -> int:
    """Published entries the group has not applied yet: undelivered plus pending."""
    total = 0
    for stream in streams:
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:
            continue
        info = next((g for g in groups if _to_str(g["name"]) == group), None)
        if info is None:
            total += await redis.xlen(stream)
            continue
        total += int(info["pending"])
        if info.get("lag") is not None:
            total += int(info["lag"])
        else:  # Redis before 7 does not report the lag
            last = _to_str(info["last-delivered-id"])
            undelivered: Any = await redis.xrange(stream, min=f"({last}", count=1_000_000)
            total += len(undelivered)
    return total


def _entries(stream: bytes | str, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> list[Entry]:
    name = _to_str(stream)
    return [Entry(name, _to_str(mid), fields.get(b"event", b"")) for mid, fields in messages if fields]


def _to_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_nogroup(exc: BaseException) -> bool:
    return isinstance(exc, ResponseError) and "NOGROUP" in str(exc)
