"""Incident writes, at the database's bulk-load rate.

Two paths, both inside the import's one transaction:

- Direct: a batch is COPYed straight into ``crime_incident`` under a
  savepoint; its daily counts are added up in memory (their number is
  bounded by neighbourhoods x days x categories, not by rows) and written
  once before commit. This is the raw COPY rate, and the common case.
- Staged: when a batch repeats a ``(source, external_id)`` already stored (or
  repeats itself), the direct COPY fails on the unique key, the savepoint is
  rolled back, and from then on batches are COPYed into a temporary staging
  table and moved with one set-based ``INSERT ... SELECT ... ON CONFLICT DO
  NOTHING`` that adds exactly the rows that went in to the daily counts.

Every writer of incidents (imports, and re-placement after a boundary
changes) holds one transaction-scoped advisory lock, so no two of them
interleave: imports never deadlock on each other's keys or daily rows, and a
boundary change waits for a running import and then re-places its rows too.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.totals.domain.contributions import NOWHERE
from services.metrics.totals.store.tables import subject

WRITER_LOCK = "cpted-crime-incidents"
STAGING = "incident_staging"
COLUMNS = (
    "id", "source", "external_id", "category", "occurred_at", "occurred_on", "lon", "lat", "neighbourhood_id",
    "reported_neighbourhood_id",
)  # fmt: skip

Record = tuple[uuid.UUID, str, str, str, datetime, date, float | None, float | None, uuid.UUID | None, uuid.UUID | None]
DayKey = tuple[uuid.UUID, date, str]
"""``(neighbourhood or NOWHERE, local day, category)``: one row of the daily counts."""

_CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (LIKE metrics.crime_incident INCLUDING DEFAULTS) ON COMMIT DROP
"""
_COLUMN_LIST = ", ".join(COLUMNS)

# Repeats of a (source, external_id) drop out, and exactly the rows that went in are added to the
# daily counts (ordered by key, like every upsert of them).
_MOVE_STAGED = f"""
WITH inserted AS (
    INSERT INTO metrics.crime_incident AS i ({_COLUMN_LIST})
    SELECT {_COLUMN_LIST} FROM pg_temp.{STAGING}
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING i.neighbourhood_id, i.category, i.occurred_on, i.lon
), daily AS (
    INSERT INTO metrics.incident_daily AS d (neighbourhood_id, day, category, incidents)
    SELECT coalesce(neighbourhood_id, CAST(:nowhere AS uuid)), occurred_on, category, count(*)
    FROM inserted GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (neighbourhood_id, day, category) DO UPDATE SET incidents = d.incidents + excluded.incidents
)
SELECT count(*) AS inserted,
       count(*) FILTER (WHERE neighbourhood_id IS NULL AND lon IS NOT NULL) AS unassigned
FROM inserted
"""

_ADD_DAILY = """
INSERT INTO metrics.incident_daily AS d (neighbourhood_id, day, category, incidents)
SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:days AS date[]), CAST(:categories AS text[]), CAST(:counts AS int[]))
ON CONFLICT (neighbourhood_id, day, category) DO UPDATE SET incidents = d.incidents + excluded.incidents
"""


async def lock_writers(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": WRITER_LOCK})


async def boundaries(conn: AsyncConnection) -> list[tuple[uuid.UUID, dict[str, Any] | None]]:
    """Every neighbourhood boundary the metrics service has learnt from the audits stream."""
    stmt = select(subject.c.id, subject.c.state["boundary"]).where(
        subject.c.kind == "neighbourhood", subject.c.deleted.is_(False)
    )
    return [(row[0], row[1]) for row in (await conn.execute(stmt)).all()]


async def driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under ``conn``, inside the same transaction, for COPY."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection  # type: ignore[return-value]


def id_base() -> int:
    """The high 80 bits of the ids of one import: a UUIDv7 millisecond time, version, variant, random bits.

    Each row's id ends with its line number (48 bits), so ids grow within an import and the primary
    key takes them at its right edge instead of at random pages (random UUIDs cost a third of the
    load rate). Imports hold the writer lock in turn, so no two share a millisecond; the random bits
    cover a clock that steps back.
    """
    millis = time.time_ns() // 1_000_000
    random = secrets.randbits(24)
    high = (millis & ((1 << 48) - 1)) << 32 | 0x7 << 28 | (random >> 12) << 16 | (0x8 | random >> 22) << 12
    return (high | (random & 0xFFF)) << 48


async def copy_direct(conn: AsyncConnection, records: Sequence[Record]) -> bool:
    """COPY new incidents straight in; False, with nothing stored, when one repeats a stored key."""
    await conn.execute(text("SAVEPOINT incident_copy"))
    try:
        await (await driver(conn)).copy_records_to_table(
            "crime_incident", schema_name="metrics", records=records, columns=COLUMNS
        )
    except asyncpg.UniqueViolationError:
        await conn.execute(text("ROLLBACK TO SAVEPOINT incident_copy"))
        return False
    await conn.execute(text("RELEASE SAVEPOINT incident_copy"))
    return True


async def add_daily(conn: AsyncConnection, daily: Counter[DayKey]) -> None:
    """Add counts to the daily rows in one statement, in key order like every other upsert of them."""
    keys = sorted(daily, key=lambda k: (str(k[0]), k[1], k[2]))
    columns = {
        "ids": [k[0] for k in keys],
        "days": [k[1] for k in keys],
        "categories": [k[2] for k in keys],
        "counts": [daily[k] for k in keys],
    }
    await conn.execute(text(_ADD_DAILY), columns)


async def stage(conn: AsyncConnection, records: Sequence[Record]) -> None:
    await conn.execute(text(_CREATE_STAGING))
    await (await driver(conn)).copy_records_to_table(STAGING, records=records, columns=COLUMNS)


async def move_staged(conn: AsyncConnection) -> tuple[int, int]:
    """Store the staged rows not stored before; returns (inserted, of which unassigned)."""
    row = (await conn.execute(text(_MOVE_STAGED), {"nowhere": str(NOWHERE)})).one()
    await conn.execute(text(f"TRUNCATE pg_temp.{STAGING}"))
    return int(row.inserted), int(row.unassigned)
