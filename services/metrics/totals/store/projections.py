"""The writes of the projections: a batch of events in two statements, a rebuild from a staged log.

The counting itself is SQL (``counting.py``); this module hands it its inputs (a
batch as one JSON array per statement, a rebuild's kinds as arrays), and swaps a
rebuild's tables in. Rows are written in key order so that concurrent consumers
never deadlock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.totals.store import counting

PROJECTION_TABLES = ("processed_event", "subject", "recommendation_progress", "counter_total", "counter_daily")
LONG_S = 6 * 3600.0
"""How long one statement over a whole log may run (the engine's command timeout is for requests)."""


Recorded = tuple[uuid.UUID, str, str | None, uuid.UUID | None]
"""An event to record as applied: ``(id, type, lock namespace, lock id)``; the lock, named ``<namespace>:<id>``,
is the one its applying takes (None: none)."""
Change = tuple[str, str, uuid.UUID, int, bool, Any]
"""A new event about a record the projections follow: ``(type, kind, subject id, subject version, deletes it,
payload)``, the payload a pydantic model (the record's state after the event)."""

_ROWS: TypeAdapter[list[Any]] = TypeAdapter(list[Any])


def _as_json(rows: Sequence[tuple[Any, ...]]) -> str:
    """A batch's rows as one JSON array of arrays, for the statement to take apart: one pass of pydantic's
    serializer for the whole batch (payloads as their models dump them), and one parameter to send."""
    return _ROWS.dump_json(list(rows), by_alias=True).decode()


async def record_processed(conn: AsyncConnection, events: Sequence[Recorded], *, lock: bool) -> set[uuid.UUID]:
    """Record events as applied; returns those not recorded before. With ``lock``, takes the transaction's
    advisory lock of each new event, each lock once and all in one order."""
    await conn.execute(counting.ONE_PLAN)
    params = {"events": _as_json(events), "lock": lock}
    return {row[0] for row in await conn.execute(counting.RECORD_AND_LOCK, params) if row[0] is not None}


async def plan_each_time(conn: AsyncConnection) -> None:
    """For the rest of the transaction, after the batch's statements: each statement planned for its values."""
    await conn.execute(counting.PLANNED_EACH_TIME)


async def apply_changes(conn: AsyncConnection, changes: Sequence[Change], zone: str) -> list[uuid.UUID]:
    """Apply new events, in the order given; returns the neighbourhoods whose state changed."""
    if not changes:
        return []
    params = {"batch": _as_json(changes), "zone": zone}
    return [row[0] for row in await conn.execute(counting.APPLY, params)]


@dataclass(frozen=True)
class KindOfType:
    """What events of a ``(type, version)`` describe: a record of ``kind``, deleted by it or not."""

    type: str
    version: int
    kind: str
    deletes: bool


async def hold_writers(conn: AsyncConnection) -> None:
    """Until this transaction ends, no one else writes the projections; everyone still reads them."""
    tables = ", ".join(f"metrics.{t}" for t in PROJECTION_TABLES)
    await conn.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))


async def stage(conn: AsyncConnection) -> None:
    """The table a rebuild's logged events are COPYed into (``counting.STAGED_COLUMNS``), gone at commit."""
    await conn.execute(counting.STAGE)


async def copy_staged(conn: AsyncConnection, page: AsyncIterable[bytes]) -> None:
    """Stage a page of an event log read in its CSV form, its bytes handed to COPY as they arrive; the page's
    header line must name the staged columns, in their order."""
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_to_table(  # type: ignore[union-attr]
        counting.STAGING, source=page, columns=counting.STAGED_COLUMNS, timeout=LONG_S, format="csv", header="match"
    )


async def staged_types(conn: AsyncConnection) -> set[tuple[str, int]]:
    """The ``(type, version)`` of the staged events."""
    return {(t, v) for t, v in await conn.execute(counting.STAGED_TYPES)}


async def run_long(conn: AsyncConnection, statement: TextClause, params: dict[str, Any]) -> None:
    """Run a statement that may take longer than the engine's command timeout: an aggregate over a whole log."""
    compiled = statement.compile(dialect=conn.dialect)
    raw = await conn.get_raw_connection()
    args = [params[name] for name in compiled.positiontup or ()]
    await raw.driver_connection.execute(str(compiled), *args, timeout=LONG_S)  # type: ignore[union-attr]


async def build_from_staged(conn: AsyncConnection, kinds: Sequence[KindOfType], zone: str) -> None:
    """Every projection computed from the staged log into a table of its own (``<table>_next``), while
    the current ones are still read; each table's indexes are built once it is filled, in one sort each."""
    await conn.execute(text("SET LOCAL work_mem = '256MB'"))  # the sorts of the latest states, in memory
    # Tables without statistics make for estimates in the billions, which JIT compilation would cost seconds.
    await conn.execute(text("SET LOCAL jit = off"))
    await run_long(conn, text(f"ANALYZE {counting.STAGING}"), {})  # the joins' plans need its size
    for table in PROJECTION_TABLES:
        await conn.execute(text(f"DROP TABLE IF EXISTS metrics.{table}_next"))
        await conn.execute(
            text(f"CREATE TABLE metrics.{table}_next (LIKE metrics.{table} INCLUDING ALL EXCLUDING INDEXES)")
        )
    params: dict[str, Any] = {
        "kind_types": [k.type for k in kinds],
        "kind_versions": [k.version for k in kinds],
        "kind_names": [k.kind for k in kinds],
        "kind_deletes": [k.deletes for k in kinds],
        "zone": zone,
    }
    counters = counting.counting_from(
        "metrics.subject_next", "metrics.counter_daily_next", "metrics.counter_total_next"
    )
    for statement in (*counting.REBUILD, *counters):
        await run_long(conn, statement, params)
    for table in PROJECTION_TABLES:
        await _index_like(conn, table)


_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (?:ONLY )?\S+ (USING .*)$", re.DOTALL)


async def _index_like(conn: AsyncConnection, table: str) -> None:
    """``<table>_next`` gets the indexes and the primary key and unique constraints of ``<table>``."""
    indexes = text(
        """
        SELECT pg_get_indexdef(i.indexrelid) AS definition, c.contype
        FROM pg_index AS i LEFT JOIN pg_constraint AS c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u')
        WHERE i.indrelid = CAST(:table AS regclass) ORDER BY i.indexrelid
        """
    )
    for n, (definition, constraint) in enumerate((await conn.execute(indexes, {"table": f"metrics.{table}"})).all()):
        shape = _INDEX.match(definition)
        if shape is None:
            raise RuntimeError(f"an index of metrics.{table} this rebuild cannot copy: {definition}")
        name = f"{table}_next_{n}"
        unique, rest = shape.group(1) or "", shape.group(2)
        await run_long(conn, text(f'CREATE {unique}INDEX "{name}" ON metrics.{table}_next {rest}'), {})
        if constraint:
            kind = "PRIMARY KEY" if constraint == "p" else "UNIQUE"
            await conn.execute(
                text(f'ALTER TABLE metrics.{table}_next ADD CONSTRAINT "{name}" {kind} USING INDEX "{name}"')
            )


async def swap_in(conn: AsyncConnection) -> int:
    """The projections ``build_from_staged`` computed replace the current ones when this transaction commits
    (readers wait for that moment only); returns how many events they hold."""
    for table in PROJECTION_TABLES:
        await _swap(conn, table)
    return int((await conn.execute(text("SELECT count(*) FROM metrics.processed_event"))).scalar_one())


async def _swap(conn: AsyncConnection, table: str) -> None:
    """``<table>_next`` becomes ``<table>``, its indexes and constraints under the names the old one's had."""
    indexes = text(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid, k, true) AS col, k
        FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
        CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) AS k
        WHERE i.indrelid = CAST(:table AS regclass) ORDER BY c.relname, k
        """
    )

    async def shapes(name: str) -> dict[tuple[str, ...], str]:
        by_index: dict[str, list[str]] = {}
        for index, column, _ in await conn.execute(indexes, {"table": f"metrics.{name}"}):
            by_index.setdefault(index, []).append(column)
        return {tuple(columns): index for index, columns in by_index.items()}

    old, new = await shapes(table), await shapes(f"{table}_next")
    await conn.execute(text(f"DROP TABLE metrics.{table}"))
    await conn.execute(text(f"ALTER TABLE metrics.{table}_next RENAME TO {table}"))
    for columns, index in new.items():
        if columns in old:  # renaming the index of a primary key renames the constraint too
            await conn.execute(text(f'ALTER INDEX metrics."{index}" RENAME TO "{old[columns]}"'))
    await conn.execute(text(f"ANALYZE metrics.{table}"))
