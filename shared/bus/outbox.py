"""The transactional outbox: event rows written in the same transaction as the change.

``outbox_table`` is created in each producer's schema; ``read_log`` serves it
as the producer's event log, in position order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    bindparam,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import Insert

from shared import tracing
from shared.contracts.events import Envelope
from shared.db.prepared import Prepared


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
        # Set by the relays of releases before the outbox_published mark; dropped in the release after it.
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(None, "position", postgresql_where=text("published_at IS NULL")),
        Index(None, "subject_id", "position"),
    )


def outbox_published_table(metadata: MetaData) -> Table:
    """One row: the outbox is published through the position ``through``, every row up to it having gone out
    in order (``shared.bus.relay``). No row reads as 0."""
    return Table(
        "outbox_published",
        metadata,
        Column("id", SmallInteger, CheckConstraint("id = 1", name="one_row"), primary_key=True,
               server_default=text("1")),
        Column("through", BigInteger, nullable=False),
    )  # fmt: skip


def publication_sql(schema: str) -> str:
    """One row on an outbox's publication: its ``last`` position, the position it is ``published`` through
    (``outbox_published``) and how many rows are ``unpublished`` (after that position)."""
    return f"""
        SELECT coalesce(max(o.position), 0) AS last, m.through AS published,
               count(*) FILTER (WHERE o.position > m.through) AS unpublished
        FROM (SELECT coalesce(max(through), 0) AS through FROM {schema}.outbox_published) AS m
        LEFT JOIN {schema}.outbox o ON true GROUP BY m.through
    """


_EVENT_COLUMNS = ("id", "type", "version", "subject_id", "envelope")
_statements: dict[tuple[Any, ...], Insert] = {}
_prepared: dict[tuple[Any, ...], Prepared] = {}


def _statement(table: Table, events: int, changes: Sequence[tuple[Table, tuple[str, ...]]]) -> Insert:
    """The INSERT of ``events`` rows with the ``changes`` as CTEs, built once per shape: building a statement
    costs as much as running it. Values are bound by name: ``e<n>_<column>`` and ``c<n>_<column>``."""
    key = (table, events, tuple(changes))
    statement = _statements.get(key)
    if statement is None:
        rows = [{c: bindparam(f"e{n}_{c}", type_=table.c[c].type) for c in _EVENT_COLUMNS} for n in range(events)]
        statement = insert(table).values(rows[0] if events == 1 else rows)
        ctes = [
            insert(changed)
            .values({c: bindparam(f"c{n}_{c}", type_=changed.c[c].type) for c in columns})
            .cte(f"change_{n}")
            for n, (changed, columns) in enumerate(changes)
        ]
        if ctes:
            statement = statement.add_cte(*ctes)
        statement = _statements.setdefault(key, statement)
    return statement


def _prepared_statement(table: Table, events: int, changes: Sequence[tuple[Table, tuple[str, ...]]]) -> Prepared:
    key = (table, events, tuple(changes))
    found = _prepared.get(key)
    if found is None:
        found = _prepared.setdefault(key, Prepared(_statement(table, events, changes)))
    return found


async def write(
    db: AsyncSession | AsyncConnection,
    table: Table,
    events: Sequence[Envelope],
    changes: Sequence[tuple[Table, Mapping[str, Any]]] = (),
) -> None:
    """Add the events to the current transaction, in one statement with the ``changes`` (new rows: their table and
    their values by column) that produced them: one round trip, and the rows land together or not at all.

    On a connection outside a transaction (a unit of work's one-statement mode), the statement is prepared and
    commits on its own."""
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
        values = {f"e{n}_{c}": v for n, row in enumerate(rows) for c, v in row.items()}
        for n, (_, changed) in enumerate(changes):
            values.update({f"c{n}_{c}": v for c, v in changed.items()})
        shape = [(changed_table, tuple(changed)) for changed_table, changed in changes]
        if isinstance(db, AsyncConnection):
            await _prepared_statement(table, len(rows), shape).execute(db, values)
        else:
            await db.execute(_statement(table, len(rows), shape), values)


@dataclass(frozen=True)
class LogPage:
    items: list[dict[str, Any]]
    next_after: int | None
    waiting: bool
    """True when the page stopped before a position that may still commit: read again shortly."""


@dataclass(frozen=True)
class LogBounds:
    """Where a page of the log ends: it holds the events after ``after`` up to ``through``."""

    after: int
    through: int
    """The last position of the page (``after`` when it is empty)."""
    next_after: int | None
    waiting: bool


_BOUNDS = """
    WITH page AS (
        SELECT position, settled, lag(position, 1, CAST(:after AS bigint)) OVER (ORDER BY position) AS prev
        FROM (
            SELECT position, created_at < clock_timestamp() - make_interval(secs => :timeout) AS settled
            FROM {table} WHERE position > :after ORDER BY position LIMIT :limit
        ) AS p
    ),
    stop AS (SELECT min(position) AS at FROM page WHERE position <> prev + 1 AND NOT settled)
    SELECT count(*) AS n, max(position) AS last, (SELECT at FROM stop) IS NOT NULL AS waiting
    FROM page WHERE position < coalesce((SELECT at FROM stop), 9223372036854775807)
"""


async def log_bounds(session: AsyncSession, table: Table, after: int, limit: int, gap_timeout_s: float) -> LogBounds:
    """Where the page of at most ``limit`` events after ``after`` ends, never skipping one that commits later.

    Positions come from one sequence and are taken just before commit, so a
    missing position is a transaction still committing or one rolled back. The
    page stops before it, unless the row after it was inserted more than
    ``gap_timeout_s`` ago: then it was rolled back and is passed over.
    """
    statement = text(_BOUNDS.format(table=f"{table.schema}.{table.name}"))
    row = (await session.execute(statement, {"after": after, "limit": limit, "timeout": gap_timeout_s})).one()
    through = row.last if row.n else after
    if row.waiting:
        return LogBounds(after, through, through, waiting=True)
    return LogBounds(after, through, through if row.n == limit else None, waiting=False)


async def read_log(session: AsyncSession, table: Table, after: int, limit: int, gap_timeout_s: float) -> LogPage:
    """Events in position order, never skipping one that commits later (``log_bounds``)."""
    bounds = await log_bounds(session, table, after, limit, gap_timeout_s)
    items: list[dict[str, Any]] = []
    if bounds.through > after:
        rows = await session.execute(
            text(
                f"""
                SELECT position, envelope::text AS envelope FROM {table.schema}.{table.name}
                WHERE position > :after AND position <= :through ORDER BY position
                """
            ),
            {"after": after, "through": bounds.through},
        )
        items = [{"position": row.position, "event": orjson.loads(row.envelope)} for row in rows]
    return LogPage(items, bounds.next_after, bounds.waiting)


AS_IS = {"format": "csv", "delimiter": "\x02", "quote": "\x01"}
"""COPY options under which a column of JSON text is written and read byte for byte: CSV whose delimiter and
quote are control characters JSON never holds unescaped, so no field is quoted or escaped."""
STREAM_S = 6 * 3600.0
"""How long one COPY of a page of the log may run."""


LOG_COLUMNS = ("position", "id", "type", "version", "subject_id", "subject_version", "payload")
"""The columns of the log's CSV form, one event a row: what a projection is rebuilt from, without the rest of
the envelope (``payload`` is the event's payload as JSON)."""
_FORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "ndjson": ("""'{"position": ' || position || ', "event": ' || envelope::text || '}'""", AS_IS),
    "csv": (
        "position, id, type, version, subject_id, envelope->>'subject_version' AS subject_version, "
        "envelope->'payload' AS payload",
        {"format": "csv", "header": True},
    ),
}
LogForm = Literal["ndjson", "csv"]


async def stream_log(
    engine: AsyncEngine, table: Table, bounds: LogBounds, form: LogForm = "ndjson"
) -> AsyncIterator[bytes]:
    """The page ``bounds`` describes, streamed by PostgreSQL's COPY (no row passes through Python): as NDJSON,
    one ``{"position": ..., "event": ...}`` a line, or as CSV with a header line, the ``LOG_COLUMNS`` of one
    event a row."""
    columns, options = _FORMS[form]
    query = (
        f"SELECT {columns} FROM {table.schema}.{table.name} "
        f"WHERE position > {int(bounds.after)} AND position <= {int(bounds.through)} ORDER BY position"
    )
    if bounds.through <= bounds.after:
        if form == "csv":
            yield (",".join(LOG_COLUMNS) + "\n").encode()
        return
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
    async with engine.connect() as conn:
        raw: Any = (await conn.get_raw_connection()).driver_connection

        async def put(chunk: bytes | bytearray | memoryview) -> None:
            await chunks.put(bytes(chunk))

        async def copy() -> None:
            try:
                await raw.copy_from_query(query, output=put, timeout=STREAM_S, **options)
            except asyncio.CancelledError:
                raise
            except BaseException:
                await chunks.put(None)  # the reader is still reading: awaiting the copy raises its failure
                raise
            await chunks.put(None)

        copying = asyncio.create_task(copy())
        try:
            while (chunk := await chunks.get()) is not None:
                yield chunk
            await copying
        finally:
            if not copying.done():  # the client went away: the connection is mid-COPY, no use to anyone
                copying.cancel()
                await conn.invalidate()
