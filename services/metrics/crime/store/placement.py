"""Re-placing incidents when a neighbourhood boundary is new or changes.

Chosen policy: placement always follows the latest boundaries. When the
consumer applies a ``neighbourhood.created``/``.updated`` whose boundary
differs from the one incidents were last placed with, it re-places, in the
same transaction, every incident with a point that is either in that
neighbourhood now or inside the new boundary's bounding box (found with the
bounding box), moves the ones whose neighbourhood changes, and corrects the
daily counts. Incidents known only by a ``neighbourhood_id`` never move.
Points imported before metrics learnt any boundary (unassigned) are placed
as soon as the boundary arrives. Evaluations of past audits may therefore
change after a redistricting; that is intended: areas are the current ones.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
from sqlalchemy import and_, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.crime.domain.placement import Locator
from services.metrics.crime.store import incidents
from services.metrics.crime.store.tables import crime_incident, placement_boundary
from services.metrics.totals.domain.contributions import NOWHERE
from services.metrics.totals.store.tables import subject
from shared.contracts.geo import stored_shape

_MOVED = "incident_moved"
_APPLY_MOVES = f"""
WITH moved AS (
    UPDATE metrics.crime_incident AS i SET neighbourhood_id = m.new_id
    FROM pg_temp.{_MOVED} AS m WHERE i.id = m.id
    RETURNING m.old_id, m.new_id, i.occurred_on, i.category
), changes AS (
    SELECT coalesce(new_id, CAST(:nowhere AS uuid)) AS n, occurred_on AS day, category, 1 AS delta FROM moved
    UNION ALL
    SELECT coalesce(old_id, CAST(:nowhere AS uuid)), occurred_on, category, -1 FROM moved
)
INSERT INTO metrics.incident_daily AS d (neighbourhood_id, day, category, incidents)
SELECT n, day, category, sum(delta) FROM changes GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
ON CONFLICT (neighbourhood_id, day, category) DO UPDATE SET incidents = d.incidents + excluded.incidents
"""


def boundary_hash(boundary: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(boundary, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def follow_boundaries(conn: AsyncConnection, neighbourhood_ids: Iterable[uuid.UUID]) -> int:
    """Re-place incidents around the given neighbourhoods if their boundary changed; returns how many moved."""
    changed = await _changed(conn, set(neighbourhood_ids))
    if not changed:
        return 0
    await incidents.lock_writers(conn)
    locator = Locator.from_geojson(await incidents.boundaries(conn))
    rows = (await conn.execute(_candidates(changed))).all()
    moved = 0
    if rows:
        lon = np.fromiter((r.lon for r in rows), dtype=float, count=len(rows))
        lat = np.fromiter((r.lat for r in rows), dtype=float, count=len(rows))
        placed = locator.place(lon, lat)
        moves = [
            (r.id, r.neighbourhood_id, new) for r, new in zip(rows, placed, strict=True) if new != r.neighbourhood_id
        ]
        moved = await _apply(conn, moves)
    await _remember(conn, changed)
    return moved


async def _changed(conn: AsyncConnection, ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    if not ids:
        return {}
    stmt = (
        select(subject.c.id, subject.c.state["boundary"], placement_boundary.c.boundary_hash)
        .outerjoin(placement_boundary, placement_boundary.c.neighbourhood_id == subject.c.id)
        .where(subject.c.kind == "neighbourhood", subject.c.deleted.is_(False), subject.c.id.in_(sorted(ids)))
    )
    rows = (await conn.execute(stmt)).all()
    return {r[0]: r[1] for r in rows if r[1] and boundary_hash(r[1]) != r[2]}


def _candidates(changed: dict[uuid.UUID, dict[str, Any]]) -> Any:
    """Incidents with a point now in a changed neighbourhood, or inside a changed boundary's box."""
    c = crime_incident.c
    boxes = []
    for boundary in changed.values():
        west, south, east, north = stored_shape(boundary).bounds
        boxes.append(and_(c.lon.between(west, east), c.lat.between(south, north)))
    return select(c.id, c.lon, c.lat, c.neighbourhood_id).where(
        c.lon.is_not(None), or_(c.neighbourhood_id.in_(sorted(changed)), *boxes)
    )


async def _apply(conn: AsyncConnection, moves: list[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None]]) -> int:
    if not moves:
        return 0
    await conn.execute(
        text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_MOVED} (id uuid, old_id uuid, new_id uuid) ON COMMIT DROP")
    )
    apg = await incidents.driver(conn)
    await apg.copy_records_to_table(_MOVED, records=moves, columns=("id", "old_id", "new_id"))
    await conn.execute(text(_APPLY_MOVES), {"nowhere": str(NOWHERE)})
    await conn.execute(text(f"TRUNCATE pg_temp.{_MOVED}"))
    return len(moves)


async def _remember(conn: AsyncConnection, changed: dict[uuid.UUID, dict[str, Any]]) -> None:
    rows = [{"neighbourhood_id": i, "boundary_hash": boundary_hash(b)} for i, b in sorted(changed.items())]
    stmt = insert(placement_boundary).values(rows)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[placement_boundary.c.neighbourhood_id],
            set_={"boundary_hash": stmt.excluded.boundary_hash, "placed_at": text("now()")},
        )
    )
