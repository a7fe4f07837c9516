"""The outbox relay: publishes committed outbox rows to a Redis stream, in order.

A batch goes out as one command per stream (``XADDS``, a script that adds the stream's entries in the
order given), all in one pipeline: a command of 500 entries costs the client a fraction of what 500
XADDs cost it. With partitions, each row goes to its partition's stream (``shared.bus.partitions``); a
partition is one key, so on a Redis Cluster each command touches one hash slot, and each partition keeps
the outbox's order. An envelope is parsed only when its partition or tracing needs it, and then once.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays can run over
one outbox; a row's mark as published is committed only after Redis accepted
it, in the same transaction that claimed it. A crash between XADD and that commit makes
the row go out again: consumers absorb the duplicate by event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import asyncpg
import orjson
from redis.asyncio.client import PubSub
from sqlalchemy import MetaData, Text, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from shared import tracing
from shared.bus.client import subscribed
from shared.bus.outbox import outbox_table
from shared.bus.partitions import partition_of
from shared.bus.wake import wake_channel
from shared.clock import wait_for_any
from shared.db.engine import plain_url

log = logging.getLogger(__name__)

XADDS = """
for i = 1, #ARGV do
    redis.call('XADD', KEYS[1], '*', 'event', ARGV[i])
end
return #ARGV
"""
"""Add each argument, in order, to the stream KEYS[1] as an entry whose field ``event`` is the envelope."""


class Relay:
    def __init__(
        self,
        database_url: str,
        redis: Any,
        schema: str,
        stream: str,
        batch: int = 500,
        poll_s: float = 1.0,
        heartbeat: Callable[[], None] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> None:
        """``stream``: the producer's stream (its wake channel is named after it); ``partitions``: the
        keys of its partitions, in order, when it has more than one."""
        self.database_url = plain_url(database_url)
        self.redis = redis
        self.schema = schema
        self.stream = stream
        self.partitions = list(partitions or [stream])
        self.batch = batch
        self.poll_s = poll_s
        self.published = 0
        self.heartbeat = heartbeat or (lambda: None)
        self._claim_sql = _claim_statement(schema)

    async def publish_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch; returns how many rows went out."""
        async with conn.transaction():
            await conn.execute(CLAIM_SETTINGS)
            rows = await conn.fetch(self._claim_sql, self.batch)
            if not rows:
                return 0
            rows.sort(key=_POSITION)
            texts: list[str] = [row[1] for row in rows]
            count = len(self.partitions)
            parsed = [orjson.loads(text) for text in texts] if count > 1 or tracing.enabled() else None
            keys = [partition_of(envelope, count) for envelope in parsed] if parsed and count > 1 else None
            with tracing.publishing(self.stream, texts, parsed) as envelopes:  # traced copies when on
                async with self.redis.pipeline(transaction=False) as pipe:
                    for stream, entries in self._by_stream(envelopes, keys).items():
                        pipe.eval(XADDS, 1, stream, *entries)
                    await pipe.execute()
        self.published += len(rows)
        return len(rows)

    def _by_stream(self, envelopes: Sequence[Any], partitions: Sequence[int] | None) -> dict[str, list[Any]]:
        """Each stream's envelopes, in the batch's order."""
        if partitions is None:
            return {self.partitions[0]: list(envelopes)}
        streams: dict[str, list[Any]] = {}
        for partition, envelope in zip(partitions, envelopes, strict=True):
            streams.setdefault(self.partitions[partition], []).append(envelope)
        return streams

    async def drain(self, conn: asyncpg.Connection) -> int:
        total = 0
        while n := await self.publish_once(conn):
            total += n
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set, reconnecting after database or Redis faults."""
        while not stop.is_set():
            self.heartbeat()  # alive while waiting for Redis or the database too: a restart would not help
            try:
                await self._run_connected(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError) as exc:
                log.warning("relay %s: %s; retrying", self.schema, exc)
            except Exception as exc:  # a Redis error also lands here
                log.warning("relay %s: %s: %s; retrying", self.schema, type(exc).__name__, exc)
            if not stop.is_set():
                await wait_for_any(self.poll_s, stop)

    async def _run_connected(self, stop: asyncio.Event) -> None:
        """Publish whenever a writer wakes the relay after a commit (``shared.bus.wake``), and every
        ``poll_s`` anyway, for a wake that was lost or a writer that sends none."""
        conn = await asyncpg.connect(self.database_url, timeout=10)
        woken = asyncio.Event()
        wakes = await subscribed(self.redis, wake_channel(self.stream))
        listening = asyncio.create_task(_listen(wakes, woken))
        try:
            while not stop.is_set():
                self.heartbeat()
                woken.clear()  # before draining: a commit during the drain wakes the next round
                await self.drain(conn)
                await wait_for_any(self.poll_s, stop, woken)
                if listening.done():
                    listening.result()  # Redis went away: reconnect both
                    raise ConnectionError("the wake subscription ended")
        finally:
            listening.cancel()
            await wakes.aclose()
            await conn.close(timeout=5)


_POSITION = itemgetter(0)

CLAIM_SETTINGS = "SET LOCAL enable_bitmapscan = off; SET LOCAL synchronous_commit = off"
"""For the claim's transaction, in one round trip:

- the pending rows are read in order from the partial index, no more than a batch. Without statistics for a
  backlog (an outbox filled since its last ANALYZE, as after an outage), the planner takes it for a few rows
  and reads and sorts all of them, for every batch: a bitmap scan;
- the commit does not wait for its WAL to reach the disk: a database crash can only lose marks, whose rows
  then go out again, as after a relay crash between XADD and commit."""


def _claim_statement(schema: str) -> str:
    """Claim and mark a batch in one statement, on the writers' own outbox definition.

    The mark only sticks if the transaction commits after XADD. The statement is
    compiled once, for asyncpg, which the relay uses directly for its long-lived connection.
    """
    table = outbox_table(MetaData(schema=schema))
    pending = (
        select(table.c.position)
        .where(table.c.published_at.is_(None))
        .order_by(table.c.position)
        .limit(bindparam("batch"))
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(table)
        .values(published_at=func.now())
        .where(table.c.position.in_(pending.scalar_subquery()))
        .returning(table.c.position, cast(table.c.envelope, Text).label("envelope"))
    )
    return str(claim.compile(dialect=asyncpg_dialect()))


async def _listen(wakes: PubSub, woken: asyncio.Event) -> None:
    async for _ in wakes.listen():
        woken.set()
