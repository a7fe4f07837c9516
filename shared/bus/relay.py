"""The outbox relay: publishes committed outbox rows to a Redis stream, in order.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays can run over
one outbox; a row's mark as published is committed only after Redis accepted
it, in the same transaction that claimed it. A crash between XADD and that commit makes
the row go out again: consumers absorb the duplicate by event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import MetaData, Text, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from shared.bus.outbox import outbox_table
from shared.db.engine import plain_url

log = logging.getLogger(__name__)

MIN_POLL_S = 0.005


class Relay:
    def __init__(
        self,
        database_url: str,
        redis: Redis,
        schema: str,
        stream: str,
        batch: int = 500,
        poll_s: float = 1.0,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.database_url = plain_url(database_url)
        self.redis = redis
        self.schema = schema
        self.stream = stream
        self.batch = batch
        self.poll_s = poll_s
        self.published = 0
        self.heartbeat = heartbeat or (lambda: None)
        self._claim_sql = _claim_statement(schema)

    async def publish_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch; returns how many rows went out."""
        async with conn.transaction():
            rows = sorted(await conn.fetch(self._claim_sql, self.batch), key=lambda row: row["position"])
            if not rows:
                return 0
            async with self.redis.pipeline(transaction=False) as pipe:
                for row in rows:
                    pipe.xadd(self.stream, {"event": row["envelope"]})
                await pipe.execute()
        self.published += len(rows)
        return len(rows)

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
                await _sleep_or_stop(stop, self.poll_s)

    async def _run_connected(self, stop: asyncio.Event) -> None:
        """Poll the outbox: every few milliseconds while writes flow, backing off to ``poll_s`` when idle.

        Writers do not NOTIFY: PostgreSQL serialises the commits of notifying
        transactions on one lock, which would cap the write rate of every API.
        The poll is an index-only probe of an (almost always empty) partial index.
        """
        conn = await asyncpg.connect(self.database_url, timeout=10)
        wait = MIN_POLL_S
        try:
            while not stop.is_set():
                self.heartbeat()
                wait = MIN_POLL_S if await self.drain(conn) else min(wait * 2, self.poll_s)
                await _sleep_or_stop(stop, wait)
        finally:
            await conn.close(timeout=5)


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


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
