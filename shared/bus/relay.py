"""The outbox relay: publishes committed outbox rows to a Redis stream, in order.

A batch goes out as one command per stream (``XADDS``, a script that adds the stream's entries in the
order given), all in one pipeline: a command of 500 entries costs the client a fraction of what 500
XADDs cost it. With partitions, each row goes to its partition's stream (``shared.bus.partitions``); a
partition is one key, so on a Redis Cluster each command touches one hash slot, and each partition keeps
the outbox's order. An envelope is parsed only when its partition or tracing needs it, and then once.

What is published is one position per outbox, ``outbox_published.through``: every row up to it went out,
in position order. A batch is the rows after it, up to the first position that may still commit; the
relay moves the mark to the batch's last row in the transaction that read the batch, and commits only after
Redis accepted it. Publishing writes one row per batch, not one per event. A crash between XADD and that
commit makes the rows go out again: consumers absorb the duplicate by event id. Several relays can run over
one outbox: the one holding the mark's row lock publishes, the others skip it (``SKIP LOCKED``) and wait
for the next wake.

A missing position is a transaction still committing or one rolled back (positions come from one sequence,
taken by the insert). A batch stops before it while a transaction that could hold it is open, so a lower
position that commits late is published before anything after it (``_gap_settled``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson
from redis.asyncio.client import PubSub
from sqlalchemy import MetaData

from shared import tracing
from shared.bus.client import subscribed
from shared.bus.outbox import outbox_published_table, outbox_table
from shared.bus.partitions import partition_of
from shared.bus.wake import wake_channel
from shared.clock import wait_for_any
from shared.db.engine import KEEPALIVES, plain_url

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
        self._begin_sql, self._claim_sql, self._writers_sql, self._mark_sql = _statements(schema)

    async def publish_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch; returns how many rows went out."""
        async with conn.transaction():
            await conn.execute(self._begin_sql)
            rows = await conn.fetch(self._claim_sql, self.batch)
            if not rows:
                return 0  # nothing pending, or another relay holds the mark
            through = rows[0][_THROUGH]
            ready = _in_order(rows, through, settled_below=through)
            if ready < len(rows) and await self._gap_settled(conn, after_gap := rows[ready][_POSITION]):
                rows = await conn.fetch(self._claim_sql, self.batch)
                ready = _in_order(rows, through, settled_below=after_gap)
            if not ready:
                return 0  # the next position is still committing: its commit wakes the relay
            texts: list[str] = [row[_ENVELOPE] for row in rows[:ready]]
            count = len(self.partitions)
            parsed = [orjson.loads(text) for text in texts] if count > 1 or tracing.enabled() else None
            keys = [partition_of(envelope, count) for envelope in parsed] if parsed and count > 1 else None
            with tracing.publishing(self.stream, texts, parsed) as envelopes:  # traced copies when on
                async with self.redis.pipeline(transaction=False) as pipe:
                    for stream, entries in self._by_stream(envelopes, keys).items():
                        pipe.eval(XADDS, 1, stream, *entries)
                    await pipe.execute()
            await conn.execute(self._mark_sql, rows[ready - 1][_POSITION])
        self.published += ready
        return ready

    async def _gap_settled(self, conn: asyncpg.Connection, after_gap: int) -> bool:
        """Whether every position missing below the committed row ``after_gap`` is settled for good.

        Such a position was taken before that row's, so by a transaction that began before the row was
        inserted and has held a lock on the outbox since. With none of those left, a read after this check
        sees every one of them that committed: what it still lacks below ``after_gap`` was rolled back. A
        writer that began later holds nothing below it, so a steady flow of writes does not hold it back."""
        return not await conn.fetchval(self._writers_sql, after_gap)

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
        await conn.execute(SESSION_SETTINGS)
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


_THROUGH, _POSITION, _ENVELOPE = range(3)


def _in_order(rows: Sequence[asyncpg.Record], through: int, settled_below: int) -> int:
    """How many of ``rows`` (in position order, after ``through``) can go out: up to the first missing
    position, unless it lies below ``settled_below``."""
    expected = through + 1
    for n, row in enumerate(rows):
        position = row[_POSITION]
        if position != expected and position > settled_below:
            return n
        expected = position + 1
    return len(rows)


SESSION_SETTINGS = f"SET idle_in_transaction_session_timeout = '30s'; {KEEPALIVES}"
"""Set once connected (not as startup parameters, which a connection pooler may refuse). The relay's session
holds the mark's row lock from its claim until its commit, and the other relays wait for it meanwhile. A relay
that hangs there (Redis not answering) or whose machine is gone must let go soon: the server ends a transaction
idle for 30 s, and finds a vanished client within about 25 s instead of the system's two hours. The batch then
goes out again, from the next relay."""

CLAIM_SETTINGS = "SET LOCAL synchronous_commit = off"
"""For the claim's transaction: the commit does not wait for its WAL to reach the disk. A database crash can
only lose a move of the mark, whose rows then go out again, as after a relay crash between XADD and commit."""


def _statements(schema: str) -> tuple[str, str, str, str]:
    """The relay's statements on the writers' own outbox definition: before the claim (settings, and the mark's
    row if it has none), the claim, the writers' check and the move of the mark."""
    metadata = MetaData(schema=schema)
    outbox, published = outbox_table(metadata), outbox_published_table(metadata)
    outbox_name, published_name = f"{schema}.{outbox.name}", f"{schema}.{published.name}"
    begin = f"{CLAIM_SETTINGS}; INSERT INTO {published_name} (id, through) VALUES (1, 0) ON CONFLICT DO NOTHING"
    # The mark's row, locked for the transaction, then the rows after it in order.
    claim = f"""
        WITH mark AS MATERIALIZED (SELECT through FROM {published_name} FOR UPDATE SKIP LOCKED)
        SELECT (SELECT through FROM mark), o.position, o.{outbox.c.envelope.name}::text
        FROM {outbox_name} o WHERE o.position > (SELECT through FROM mark) ORDER BY o.position LIMIT $1
    """
    # A transaction that writes the outbox holds this lock from its insert (which takes its position, then
    # stamps created_at) until it ends. The relay holds none: it reads the outbox and writes only the mark.
    # A holder whose start is not shown (a session of another role, unless the relay's may read all
    # statistics; a prepared transaction) counts as a writer.
    writers = f"""
        SELECT EXISTS (
            SELECT FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'relation' AND l.relation = '{outbox_name}'::regclass
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.mode = 'RowExclusiveLock' AND l.pid IS DISTINCT FROM pg_backend_pid()
              AND (a.xact_start IS NULL OR a.xact_start <= coalesce(
                  (SELECT created_at FROM {outbox_name} WHERE position = $1), 'infinity'::timestamptz))
        )
    """
    mark = f"UPDATE {published_name} SET through = $1 WHERE id = 1"
    return begin, claim, writers, mark


async def _listen(wakes: PubSub, woken: asyncio.Event) -> None:
    async for _ in wakes.listen():
        woken.set()
