"""The writes and reads of the projections, one set-based statement each (arrays via ``unnest``).

A batch of hundreds of events costs a handful of round trips whatever its size.
Rows are written in key order so that concurrent consumers never deadlock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.totals.domain.contributions import Key

RECORD_PROCESSED = text(
    """
    INSERT INTO metrics.processed_event (id, type)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]))
    ON CONFLICT DO NOTHING RETURNING id
    """
)
LOAD_STATES = text(
    """
    SELECT kind, id, version, parent_id, deleted, state FROM metrics.subject
    WHERE (kind, id) IN (SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:ids AS uuid[])))
       OR (kind = 'recommendation' AND parent_id = ANY(CAST(:parents AS uuid[])))
    """
)
WRITE_STATES = text(
    """
    INSERT INTO metrics.subject (kind, id, version, parent_id, deleted, state)
    SELECT k, i, v, p, d, CAST(s AS jsonb) FROM unnest(
        CAST(:kinds AS text[]), CAST(:ids AS uuid[]), CAST(:versions AS int[]),
        CAST(:parents AS uuid[]), CAST(:deleted AS bool[]), CAST(:states AS text[])) AS u(k, i, v, p, d, s)
    ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, parent_id = excluded.parent_id,
        deleted = excluded.deleted, state = excluded.state
    """
)
RECORD_PROGRESS = text(
    """
    INSERT INTO metrics.recommendation_progress (recommendation_id, audit_id, in_progress_on)
    SELECT * FROM unnest(CAST(:recs AS uuid[]), CAST(:audits AS uuid[]), CAST(:days AS date[]))
    ON CONFLICT (recommendation_id) DO UPDATE
    SET in_progress_on = LEAST(recommendation_progress.in_progress_on, excluded.in_progress_on)
    """
)
ADD_TOTALS = text(
    """
    INSERT INTO metrics.counter_total (partnership_id, neighbourhood_id, metric, value)
    SELECT * FROM unnest(CAST(:ps AS uuid[]), CAST(:ns AS uuid[]), CAST(:ms AS text[]), CAST(:vs AS bigint[]))
    ON CONFLICT (partnership_id, neighbourhood_id, metric) DO UPDATE SET value = counter_total.value + excluded.value
    """
)
ADD_DAILY = text(
    """
    INSERT INTO metrics.counter_daily (partnership_id, neighbourhood_id, metric, day, value)
    SELECT * FROM unnest(CAST(:ps AS uuid[]), CAST(:ns AS uuid[]), CAST(:ms AS text[]),
                         CAST(:ds AS date[]), CAST(:vs AS bigint[]))
    ON CONFLICT (partnership_id, neighbourhood_id, metric, day)
    DO UPDATE SET value = counter_daily.value + excluded.value
    """
)
PROJECTION_TABLES = ("processed_event", "subject", "recommendation_progress", "counter_total", "counter_daily")


async def record_processed(conn: AsyncConnection, ids_and_types: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
    """Record event ids as applied; returns those not recorded before."""
    ordered = sorted(ids_and_types)
    result = await conn.execute(RECORD_PROCESSED, {"ids": [i for i, _ in ordered], "types": [t for _, t in ordered]})
    return set(result.scalars().all())


async def load_states(
    conn: AsyncConnection, wanted: Iterable[tuple[str, uuid.UUID]], parents: Iterable[uuid.UUID]
) -> Sequence[Any]:
    """The stored states asked for, and every recommendation of the given audits."""
    keys = sorted(wanted, key=str)
    params = {"kinds": [k for k, _ in keys], "ids": [i for _, i in keys], "parents": list(parents)}
    return (await conn.execute(LOAD_STATES, params)).all()


async def write_states(
    conn: AsyncConnection, rows: Sequence[tuple[str, uuid.UUID, int, uuid.UUID | None, bool, str]]
) -> None:
    """Upsert ``(kind, id, version, parent_id, deleted, state_json)`` rows."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    columns = list(zip(*ordered, strict=True))
    names = ("kinds", "ids", "versions", "parents", "deleted", "states")
    await conn.execute(WRITE_STATES, {name: list(values) for name, values in zip(names, columns, strict=True)})


async def record_progress(conn: AsyncConnection, rows: Sequence[tuple[uuid.UUID, uuid.UUID, date]]) -> None:
    """(recommendation, audit, day it went in progress): the earliest day of each recommendation is kept."""
    earliest: dict[uuid.UUID, tuple[uuid.UUID, date]] = {}
    for rec, audit, day in rows:
        if rec not in earliest or day < earliest[rec][1]:
            earliest[rec] = (audit, day)
    if earliest:
        recs = sorted(earliest)
        await conn.execute(
            RECORD_PROGRESS,
            {"recs": recs, "audits": [earliest[r][0] for r in recs], "days": [earliest[r][1] for r in recs]},
        )


async def add_to_counters(conn: AsyncConnection, deltas: Counter[Key]) -> None:
    """Add the changes to the per-day counters and to the running totals."""
    daily = sorted((k, v) for k, v in deltas.items() if v)
    if not daily:
        return
    totals: Counter[tuple[uuid.UUID, uuid.UUID, str]] = Counter()
    for key, count in daily:
        totals[(key.partnership_id, key.neighbourhood_id, key.metric)] += count
    total_rows = sorted((k, v) for k, v in totals.items() if v)
    if total_rows:
        await conn.execute(
            ADD_TOTALS,
            {
                "ps": [k[0] for k, _ in total_rows],
                "ns": [k[1] for k, _ in total_rows],
                "ms": [k[2] for k, _ in total_rows],
                "vs": [v for _, v in total_rows],
            },
        )
    await conn.execute(
        ADD_DAILY,
        {
            "ps": [k.partnership_id for k, _ in daily],
            "ns": [k.neighbourhood_id for k, _ in daily],
            "ms": [k.metric for k, _ in daily],
            "ds": [k.day for k, _ in daily],
            "vs": [v for _, v in daily],
        },
    )


async def clear(conn: AsyncConnection) -> None:
    """Empty every projection, for a rebuild from the producers' logs."""
    await conn.execute(text(f"TRUNCATE {', '.join(f'metrics.{t}' for t in PROJECTION_TABLES)}"))
