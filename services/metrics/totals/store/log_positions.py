"""Queries of ``log_position``: how far the projections have applied each producer's log."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Uuid, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.metrics.totals.store.tables import log_position, processed_event


async def applied_through(conn: AsyncConnection, source: str) -> int:
    row = (await conn.execute(select(log_position.c.applied_through).where(log_position.c.source == source))).first()
    return int(row[0]) if row else 0


async def processed_among(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(ids)
    if not wanted:
        return set()
    # One array parameter, whatever the count: an IN list binds one parameter per id, and the driver refuses
    # more than 32,767, which a log watch far behind reaches.
    stmt = select(processed_event.c.id).where(processed_event.c.id == any_(bindparam("ids", type_=ARRAY(Uuid))))
    rows = await conn.execute(stmt, {"ids": wanted})
    return set(rows.scalars().all())


async def take_turn(conn: AsyncConnection, source: str, every_s: float) -> bool:
    """True for one of the consumers per period: only one compares a log with the projections at a time."""
    await conn.execute(insert(log_position).values(source=source).on_conflict_do_nothing())
    taken = await conn.execute(
        text(
            "UPDATE metrics.log_position SET checked_at = now() WHERE source = :source AND "
            "(checked_at IS NULL OR checked_at < now() - make_interval(secs => :every)) RETURNING source"
        ),
        {"source": source, "every": every_s * 0.9},
    )
    return taken.first() is not None


async def record(
    conn: AsyncConnection,
    source: str,
    *,
    applied_through: int,
    behind: int,
    repaired: int = 0,
    repairing: bool = False,
    loss: str | None = None,
) -> None:
    values: dict[str, object] = {
        "applied_through": func.greatest(log_position.c.applied_through, applied_through),
        "behind": behind,
        "repaired": log_position.c.repaired + repaired,
        "repairing": repairing,
        "checked_at": func.now(),
    }
    if loss:
        values |= {"last_loss": loss[:500], "last_loss_at": func.now()}
    await conn.execute(log_position.update().where(log_position.c.source == source).values(values))


_POSITIONS = select(
    log_position.c.source,
    log_position.c.behind,
    log_position.c.repaired,
    log_position.c.repairing,
    log_position.c.last_loss_at,
    log_position.c.last_loss,
).order_by(log_position.c.source)


LOGGED_BEHIND = select(func.coalesce(func.sum(log_position.c.behind), 0))
"""Events the producers' logs hold and the projections have not applied, as the log watch last found."""


async def logged_behind(db: AsyncSession | AsyncConnection) -> int:
    return int((await db.execute(LOGGED_BEHIND)).scalar_one())


async def positions(
    db: AsyncSession | AsyncConnection,
) -> Sequence[tuple[str, int, int, bool, datetime | None, str | None]]:
    """Per producer: events behind, events repaired, repairing now, the last loss found and when."""
    rows = await db.execute(_POSITIONS)
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]
