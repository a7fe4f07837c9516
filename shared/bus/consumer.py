"""The stream consumer: a consumer group over the producers' streams.

A batch is handed to the handler, which applies it and records the event ids
as processed in one database transaction; entries are acknowledged only after
that commit. A batch that fails is retried event by event so one bad event
cannot hold the others back; an event that keeps failing goes to the
dead-letter stream with its error after ``max_deliveries``. Entries left
pending by a consumer that died are taken over with XAUTOCLAIM.

Each stream a consumer reads has its own reading task, so one stream's batch never waits for another's
(and on a Redis Cluster, where the streams live on different nodes, no read spans two). Unpartitioned,
every consumer of the group reads every stream and Redis shares the entries out. Partitioned
(``leases``), each partition is read by one consumer at a time, which keeps a partition's events in
order: the live consumers divide the partitions among themselves, each holding a lease in Redis on the
ones it reads, and a dead consumer's partitions are taken over, with its pending entries, once its
leases run out (``shared.bus.leases``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.bus.client import is_cluster, together
from shared.bus.leases import Leases
from shared.clock import wait_for_any
from shared.contracts.events import Envelope, parse_event
from shared.errors import infrastructure_fault

log = logging.getLogger(__name__)

GC_YOUNG_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation while a consumer runs (Python's default:
700). A batch makes tens of objects per event that die with it; collected every 700 they survive into the
older generations, whose collections walk the whole heap: with the default, over a quarter of a consumer's time."""

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
        redis: Any,
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
        leases: Leases | None = None,
        stuck_after_s: float = 120.0,
        on_acked: Callable[[], None] | None = None,
    ) -> None:
        """``leases``: divide ``streams`` (partitions) among the group's live consumers; None: read them all.
        ``stuck_after_s``: a reader that has not come round for this long (every step of a round is bounded by a
        timeout far shorter) is stuck, and the consumer stops saying it is alive, to be restarted.
        ``on_acked``: called once events were applied and acknowledged (the lag a reader sees then leaves them out)."""
        self.redis = redis
        self.streams = list(streams)
        self.group = group
        self.name = name
        self.handler = handler
        self.on_acked = on_acked or (lambda: None)
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
        self.leases = leases
        self._readers: dict[str, _Reader] = {}
        self.stuck_after_s = stuck_after_s

    @property
    def reading(self) -> list[str]:
        """The streams this consumer reads now."""
        return sorted(self._readers) if self.leases else self.streams

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            await self._ensure_group(stream)

    async def _ensure_group(self, stream: str) -> None:
        try:
            await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return
        if self.on_bus_lost:  # a first start, or a Redis that lost the group with its data
            self.on_bus_lost(stream, f"the consumer group of {stream} had to be created")

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set: a reading task per stream read, and, partitioned, the leases kept."""
        every_s = self.leases.renew_every_s if self.leases else 1.0
        backoff = 0.2
        collect_less_often()
        try:
            while not stop.is_set():
                try:
                    wanted = await self._assigned()
                    backoff = 0.2
                except Exception as exc:  # Redis away: keep reading only what is surely still ours
                    self._report(exc, self.streams, backoff)
                    wanted = set(self.leases.valid()) if self.leases else set(self.streams)
                    every_s = backoff
                    backoff = min(backoff * 2, 5.0)
                await self._steer(wanted, stop)
                stuck = self.stuck()
                if stuck:
                    log.error("consumer %s: no round for %gs on %s; not alive", self.name, self.stuck_after_s, stuck)
                else:
                    self._beat()  # reading, or nothing to read, which is no reason to be restarted either
                await wait_for_any(every_s, stop)
                every_s = self.leases.renew_every_s if self.leases else 1.0
        finally:
            for reader in self._readers.values():
                reader.leave.set()
            await asyncio.gather(*(r.task for r in self._readers.values()), return_exceptions=True)
            self._readers.clear()
            if self.leases:
                await self.leases.release_all()

    def stuck(self) -> list[str]:
        """The streams whose reader has not come round for ``stuck_after_s``."""
        now = time.monotonic()
        return sorted(s for s, r in self._readers.items() if now - r.came_round > self.stuck_after_s)

    async def _assigned(self) -> set[str]:
        if self.leases is None:
            return set(self.streams)
        return await self.leases.update()

    async def _steer(self, wanted: set[str], stop: asyncio.Event) -> None:
        """Start a reader for each stream newly wanted; let the others finish their batch and give them up."""
        for stream, reader in list(self._readers.items()):
            if stream not in wanted:
                reader.leave.set()
            if reader.task.done():
                del self._readers[stream]
                if not reader.task.cancelled() and reader.task.exception():
                    log.error("consumer %s: reader of %s failed", self.name, stream, exc_info=reader.task.exception())
                if self.leases and stream not in wanted:
                    await self.leases.release(stream)
        for stream in sorted(wanted - set(self._readers)):
            leave = asyncio.Event()
            reader = _Reader(leave)
            reader.task = asyncio.create_task(self._read_stream(stream, stop, reader), name=f"{self.name} {stream}")
            self._readers[stream] = reader
            log.info("consumer %s reads %s", self.name, stream)

    async def _read_stream(self, stream: str, stop: asyncio.Event, reader: _Reader) -> None:
        """Read and apply ``stream`` batch by batch, the next batch read (and parsed) while the one in hand
        is applied: an entry is still acknowledged only after its batch's commit, and batches are applied in
        the order read. Entries read ahead of a failure stay pending and are taken over, in order, when
        reading resumes."""
        backoff, started, last_claim, leave = 0.2, False, time.monotonic(), reader.leave
        ahead: asyncio.Task[_Batch | None] | None = None
        try:
            while not (stop.is_set() or leave.is_set()):
                reader.came_round = time.monotonic()
                try:
                    if not started:
                        await self._settle(ahead, stream, apply=False)
                        ahead = None
                        await self._ensure_group(stream)
                        await self._take_over(stream)
                        started, last_claim = True, time.monotonic()
                    if time.monotonic() - last_claim >= self.claim_every_s:
                        await self.claim_abandoned([stream])
                        last_claim = time.monotonic()
                    batch = await (ahead or self._read_new(stream))
                    ahead = None
                    if batch is not None:
                        ahead = asyncio.create_task(self._read_new(stream))
                        await self._apply(batch)
                    backoff = 0.2
                except Exception as exc:  # waiting for Redis or the database comes round too: a restart would not help
                    started = False
                    self._report(exc, [stream], backoff)
                    await wait_for_any(backoff, stop, leave)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await self._settle(ahead, stream, apply=started and not leave.is_set())

    async def _settle(self, ahead: asyncio.Task[_Batch | None] | None, stream: str, *, apply: bool) -> None:
        """The batch read ahead, when reading cannot go on with it. Applied on a stop (the partitions are
        still ours until ``run`` releases them); otherwise (a failure, the stream given up) left pending, for
        whoever reads the stream next (this loop, after a failure) to take over in order with the rest."""
        if ahead is None:
            return
        try:
            if (batch := await ahead) is not None and apply:
                await self._apply(batch)
        except Exception as exc:
            if apply:  # a failure before it was reported already
                self._report(exc, [stream], 0.0)

    async def _read_new(self, stream: str) -> _Batch | None:
        response: Any = await self.redis.xreadgroup(
            self.group, self.name, {stream: ">"}, count=self.batch, block=self.block_ms
        )
        entries = [entry for name, messages in response or [] for entry in _entries(name, messages)]
        return _parse(entries) if entries else None

    async def _take_over(self, stream: str) -> None:
        """Before reading new entries: the ones delivered before and never acknowledged. Unpartitioned,
        our own (after a restart under the same name); partitioned, every consumer's (the partition is
        ours alone now: whoever held it before is gone or gave it up)."""
        if self.leases is None:
            await self._drain_own_pending([stream])
        else:
            await self._claim(stream, min_idle_ms=0)

    def _report(self, exc: BaseException, streams: Sequence[str], backoff: float) -> None:
        if _is_nogroup(exc) and self.on_bus_lost:
            for stream in streams:
                self.on_bus_lost(stream, f"the consumer group of {stream} is gone (NOGROUP)")
        if not is_transient(exc) and not _is_nogroup(exc):
            log.error("consumer %s: unexpected failure", self.name, exc_info=exc)
        else:
            log.warning("consumer %s: %s; retrying in %.1fs", self.name, exc, backoff)

    def _beat(self) -> None:
        if self.heartbeat:
            self.heartbeat()

    async def poll_once(self) -> int:
        """Claim abandoned entries when due, then read and apply one batch of new ones from every stream
        read (without waiting for one that has nothing)."""
        handled = 0
        if time.monotonic() - self._last_claim >= self.claim_every_s:
            handled += await self.claim_abandoned()
            self._last_claim = time.monotonic()
        for stream, messages in await self._read_all(self.reading):
            handled += await self.process(_entries(stream, messages))
        return handled

    async def _read_all(self, streams: Sequence[str]) -> list[Any]:
        if not streams:
            return []
        if not is_cluster(self.redis):
            response: Any = await self.redis.xreadgroup(
                self.group, self.name, {s: ">" for s in streams}, count=self.batch, block=self.block_ms
            )
            return list(response or [])
        reads = [
            self.redis.xreadgroup(self.group, self.name, {s: ">"}, count=self.batch, block=self.block_ms)
            for s in streams
        ]  # one slot each: a read may not span two
        return [item for response in await asyncio.gather(*reads) for item in response or []]

    async def _drain_own_pending(self, streams: Sequence[str] | None = None) -> None:
        """After a restart under the same name, our own unacknowledged entries come first."""
        for stream in self.reading if streams is None else streams:
            while True:
                response: Any = await self.redis.xreadgroup(self.group, self.name, {stream: "0"}, count=self.batch)
                messages = response[0][1] if response else []
                messages = [m for m in messages if m[1]]
                if not messages:
                    break
                await self.process(_entries(stream, messages))

    async def claim_abandoned(self, streams: Sequence[str] | None = None) -> int:
        """Entries pending longer than ``claim_idle_ms`` (a dead consumer's, or ones that failed), taken and
        applied."""
        handled = 0
        for stream in self.reading if streams is None else streams:
            handled += await self._claim(stream, self.claim_idle_ms)
        return handled

    async def _claim(self, stream: str, min_idle_ms: int) -> int:
        handled, start = 0, "0-0"
        while True:
            result: Any = await self.redis.xautoclaim(
                stream, self.group, self.name, min_idle_ms, start_id=start, count=self.batch
            )
            start, messages = _to_str(result[0]), [m for m in result[1] if m[1]]
            if messages:
                handled += await self.process(_entries(stream, messages))
            if start == "0-0":
                return handled

    async def process(self, entries: list[Entry]) -> int:
        return await self._apply(_parse(entries))

    async def _apply(self, batch: _Batch) -> int:
        for entry, error in batch.unreadable:
            await self._dead_letter(entry, f"unreadable event: {error}", deliveries=1)
        parsed = batch.parsed
        if not parsed:
            return 0
        stream = parsed[0][0].stream
        try:
            await self.handler([event for _, event in parsed])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("consumer %s: batch of %d failed (%s); applying one by one", self.name, len(parsed), exc)
            return await self._process_one_by_one(parsed)
        await self.redis.xack(stream, self.group, *[entry.entry_id for entry, _ in parsed])
        self.applied += len(parsed)
        self.on_acked()
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
            self.on_acked()
            done += 1
        return done

    async def _deliveries(self, entry: Entry) -> int:
        pending = await self.redis.xpending_range(
            entry.stream, self.group, min=entry.entry_id, max=entry.entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else self.max_deliveries

    async def _dead_letter(self, entry: Entry, error: str, deliveries: int) -> None:
        log.error("event %s on %s goes to the dead letters: %s", entry.entry_id, entry.stream, error)
        async with together(self.redis) as pipe:  # on a cluster: a letter may be written twice, never lost
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


async def lag(redis: Any, streams: Sequence[str], group: str) -> int:
    """Published entries the group has not applied yet: undelivered plus pending."""
    return sum(await asyncio.gather(*(_stream_lag(redis, stream, group) for stream in streams)))


async def _stream_lag(redis: Any, stream: str, group: str) -> int:
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return 0
    info = next((g for g in groups if _to_str(g["name"]) == group), None)
    if info is None:
        return int(await redis.xlen(stream))
    total = int(info["pending"])
    if info.get("lag") is not None:
        total += int(info["lag"])
    else:  # Redis before 7 does not report the lag
        last = _to_str(info["last-delivered-id"])
        undelivered: Any = await redis.xrange(stream, min=f"({last}", count=1_000_000)
        total += len(undelivered)
    return total


@dataclass
class _Batch:
    """Entries read, parsed: the events, and the entries that are no event (with why)."""

    parsed: list[tuple[Entry, Envelope]]
    unreadable: list[tuple[Entry, str]]


def _parse(entries: list[Entry]) -> _Batch:
    batch = _Batch([], [])
    for entry in entries:
        try:
            batch.parsed.append((entry, parse_event(entry.raw)))
        except Exception as exc:
            batch.unreadable.append((entry, str(exc)))
    return batch


@dataclass
class _Reader:
    leave: asyncio.Event
    """Set: finish the batch in hand and stop reading the stream."""
    task: asyncio.Task[None] = field(init=False)
    came_round: float = field(default_factory=time.monotonic)
    """When the reader last began a round (read, apply, acknowledge)."""


def collect_less_often() -> None:
    """The collector's setting for a process that consumes (``GC_YOUNG_THRESHOLD``); ``run`` applies it."""
    young, *older = gc.get_threshold()
    if 0 < young < GC_YOUNG_THRESHOLD:
        gc.set_threshold(GC_YOUNG_THRESHOLD, *older)


def _entries(stream: bytes | str, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> list[Entry]:
    name = _to_str(stream)
    return [Entry(name, _to_str(mid), fields.get(b"event", b"")) for mid, fields in messages if fields]


def _to_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_nogroup(exc: BaseException) -> bool:
    return isinstance(exc, ResponseError) and "NOGROUP" in str(exc)
