"""The transactional outbox: event rows written in the same transaction as the change.

``outbox_table`` is created in each producer's schema. ``txid`` is the writing
transaction's id; the event log (``read_log``) only serves rows whose
transaction is older than every transaction still running, ordered by
``(txid, position)``, so a reader paging with ``after`` never skips a row that
commits later.
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
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import UserDefinedType

from shared.events import Envelope


class Xid8(UserDefinedType[int]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


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
        Column("txid", Xid8, nullable=False, server_default=text("pg_current_xact_id()")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(None, "position", postgresql_where=text("published_at IS NULL")),
        Index(None, "txid", "position"),
        Index(None, "subject_id", "position"),
    )


def processed_events_table(metadata: MetaData) -> Table:
    """Ids of events a consumer has applied, written in the same transaction as the effect."""
    return Table(
        "processed_event",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("type", String(80), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def write(session: AsyncSession, table: Table, events: Sequence[Envelope]) -> None:
    """Add the events to the current transaction."""
    if not events:
        return
    await session.execute(
        insert(table),
        [
            {
                "id": e.id,
                "type": e.type,
                "version": e.version,
                "subject_id": e.subject_id,
                "envelope": e.model_dump(mode="json", by_alias=True),
            }
            for e in events
        ],
    )


@dataclass(frozen=True)
class LogPage:
    items: list[dict[str, Any]]
    next_after: str | None


def encode_position(txid: int, position: int) -> str:
    return f"{txid}-{position}"


def decode_position(value: str) -> tuple[int, int]:
    txid, _, position = value.partition("-")
    return int(txid), int(position)


async def read_log(session: AsyncSession, table: Table, after: str | None, limit: int) -> LogPage:
    txid, position = decode_position(after) if after else (0, 0)
    rows = (
        await session.execute(
            text(
                f"""
                SELECT txid::text::bigint AS txid, position, envelope::text AS envelope
                FROM {table.schema}.{table.name}
                WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
                  AND (txid, position) > (CAST(CAST(:txid AS text) AS xid8), :position)
                ORDER BY txid, position
                LIMIT :limit
                """
            ),
            {"txid": str(txid), "position": position, "limit": limit},
        )
    ).all()
    items = [{"position": encode_position(r.txid, r.position), "event": orjson.loads(r.envelope)} for r in rows]
    next_after = items[-1]["position"] if len(items) == limit else None
    return LogPage(items=items, next_after=next_after)
