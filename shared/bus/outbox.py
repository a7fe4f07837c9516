"""The transactional outbox: event rows written in the same transaction as the change.

``outbox_table`` is created in each producer's schema; ``read_log`` serves it
as the producer's event log, in position order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from shared import tracing
from shared.contracts.events import Envelope


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("position", BigInteger, Identity(always=False), primary_key=True),
        Column("id", Uuid, nullable=False, unique=True),
        Column("type", String(80), nullable=False),
        Column("version", Integer, nullable=False),
        Column("subject_id", Uuid, nullable=False),
        Column("envelope", JSONB, nullable=False),
        # The time of the insert itself (not of the transaction's start): the event log's gap rule needs it.
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(None, "position", postgresql_where=text("published_at IS NULL")),
        Index(None, "subject_id", "position"),
    )


async def write(session: AsyncSession, table: Table, events: Sequence[Envelope], *changes: Insert) -> None:
    """Add the events to the current transaction, in one statement with the ``changes`` (INSERTs) that
    produced them: one round trip, and the rows land together or not at all."""
    if not events:
        return
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "type": e.type,
            "version": e.version,
            "subject_id": e.subject_id,
            "envelope": e.model_dump(mode="json", by_alias=True),
        }
        for e in events
    ]
    # While tracing is on, the envelopes carry the context of the insert's span to the relay and the consumer.
    with tracing.outbox_span(table.schema or table.name, [row["envelope"] for row in rows]):
        # One row's statement is compiled once and cached; a many-row VALUES is compiled each time.
        statement = insert(table).values(rows[0] if len(rows) == 1 else rows)
        if changes:
            statement = statement.add_cte(*(change.cte(f"change_{i}") for i, change in enumerate(changes)))
        await session.execute(statement)


@dataclass(frozen=True)
class LogPage:
    items: list[dict[str, Any]]
    next_after: int | None
    waiting: bool
    """True when the page stopped before a position that may still commit: read again shortly."""


async def read_log(session: AsyncSession, table: Table, after: int, limit: int, gap_timeout_s: float) -> LogPage:
    """Events in position order, never skipping one that commits later.

    Positions come from one sequence and are taken just before commit, so a
    missing position is a transaction still committing or one rolled back. The
    page stops before it, unless the row after it was inserted more than
    ``gap_timeout_s`` ago: then it was rolled back and is passed over.
    """
    rows = (
        await session.execute(
            text(
                f"""
                SELECT position, envelope::text AS envelope,
                       created_at < clock_timestamp() - make_interval(secs => :timeout) AS settled
                FROM {table.schema}.{table.name}
                WHERE position > :after ORDER BY position LIMIT :limit
                """
            ),
            {"after": after, "limit": limit, "timeout": gap_timeout_s},
        )
    ).all()
    items: list[dict[str, Any]] = []
    expected = after + 1
    for row in rows:
        if row.position != expected and not row.settled:
            return LogPage(items, items[-1]["position"] if items else after, waiting=True)
        items.append({"position": row.position, "event": orjson.loads(row.envelope)})
        expected = row.position + 1
    next_after = items[-1]["position"] if len(items) == limit else None
    return LogPage(items, next_after, waiting=False)
