"""Every query on the stored feeds and their deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.metrics.cswb.store.tables import cswb_delivery, cswb_feed

Db = AsyncConnection | AsyncSession

LOCK_NAMESPACE = 0xC5B
"""First key of the advisory lock taken per date (the second is the date's ordinal)."""


@dataclass(frozen=True)
class Ticket:
    """A delivery to hand to a worker: ``token`` is the attempt count the worker must still find."""

    feed_date: date
    destination: str
    token: int


async def lock_date(conn: AsyncConnection, day: date) -> None:
    await conn.execute(text("SELECT pg_advisory_lock(:ns, :day)"), {"ns": LOCK_NAMESPACE, "day": day.toordinal()})


async def unlock_date(conn: AsyncConnection, day: date) -> None:
    await conn.execute(text("SELECT pg_advisory_unlock(:ns, :day)"), {"ns": LOCK_NAMESPACE, "day": day.toordinal()})


async def stored(conn: AsyncConnection, day: date) -> Any:
    f = cswb_feed.c
    stmt = select(f.revision, f.digest, f.body_removed_at).where(f.feed_date == day)
    return (await conn.execute(stmt)).first()


async def insert_feed(conn: AsyncConnection, day: date, body: bytes, digest: str) -> None:
    await conn.execute(insert(cswb_feed).values(feed_date=day, revision=1, digest=digest, body=body))


async def replace_feed(conn: AsyncConnection, day: date, body: bytes, digest: str) -> int:
    stmt = (
        update(cswb_feed)
        .where(cswb_feed.c.feed_date == day)
        .values(
            body=body,
            digest=digest,
            revision=cswb_feed.c.revision + 1,
            built_at=func.now(),
            changed_at=func.now(),
            body_removed_at=None,
        )
        .returning(cswb_feed.c.revision)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def touch_feed(conn: AsyncConnection, day: date, body: bytes) -> None:
    """The same figures built again: the body is stored again if the retention policy had removed it."""
    stmt = update(cswb_feed).where(cswb_feed.c.feed_date == day)
    await conn.execute(stmt.values(built_at=func.now(), body=body, body_removed_at=None))


async def reset_deliveries(
    conn: AsyncConnection, day: date, revision: int, destinations: Sequence[str], *, all_again: bool
) -> None:
    """Every destination gets the date's feed: new rows pending; with ``all_again``, delivered ones too."""
    if not destinations:
        return
    rows = [{"feed_date": day, "destination": d, "revision": revision, "state": "pending"} for d in destinations]
    stmt = insert(cswb_delivery).values(rows)
    if all_again:
        fresh = {"revision": revision, "state": "pending", "attempts": 0, "next_attempt_at": None}
        stmt = stmt.on_conflict_do_update(index_elements=["feed_date", "destination"], set_=fresh)  # type: ignore[assignment]
    else:
        stmt = stmt.on_conflict_do_nothing()  # type: ignore[assignment]
    await conn.execute(stmt)


async def due_deliveries(conn: AsyncConnection, destinations: Sequence[str], stale_after_s: float) -> list[Ticket]:
    """Pending deliveries, and retries whose scheduled task is long overdue (lost with a broker)."""
    d = cswb_delivery.c
    overdue = and_(d.state == "retrying", d.next_attempt_at < func.now() - timedelta(seconds=stale_after_s))
    stmt = (
        select(d.feed_date, d.destination, d.total_attempts)
        .where(or_(d.state == "pending", overdue), d.destination.in_(list(destinations)))
        .order_by(d.feed_date, d.destination)
    )
    return [Ticket(*row) for row in (await conn.execute(stmt)).all()]


async def claim_delivery(conn: AsyncConnection, day: date, destination: str) -> Any:
    """The delivery row, locked for this attempt, with the feed's body; None if another attempt holds it."""
    d, f = cswb_delivery.c, cswb_feed.c
    stmt = (
        select(d.state, d.attempts, d.total_attempts, f.revision, f.body, f.digest)
        .join_from(cswb_delivery, cswb_feed, d.feed_date == f.feed_date)
        .where(d.feed_date == day, d.destination == destination)
        .with_for_update(of=cswb_delivery, skip_locked=True)
    )
    return (await conn.execute(stmt)).first()


async def record_attempt(conn: AsyncConnection, day: date, destination: str, **values: Any) -> None:
    d = cswb_delivery.c
    stmt = (
        update(cswb_delivery)
        .where(d.feed_date == day, d.destination == destination)
        .values(attempts=d.attempts + 1, total_attempts=d.total_attempts + 1, last_attempt_at=func.now(), **values)
    )
    await conn.execute(stmt)


async def list_feeds(
    db: Db, *, before: date | None, first: date | None, last: date | None, limit: int
) -> Sequence[Any]:
    """Newest date first; the body's size but never the body."""
    f = cswb_feed.c
    size = func.length(f.body).label("size_bytes")
    stmt = select(f.feed_date, f.revision, f.digest, size, f.built_at, f.changed_at, f.body_removed_at)
    if before is not None:
        stmt = stmt.where(f.feed_date < before)
    if first is not None:
        stmt = stmt.where(f.feed_date >= first)
    if last is not None:
        stmt = stmt.where(f.feed_date <= last)
    return (await db.execute(stmt.order_by(f.feed_date.desc()).limit(limit))).all()


async def deliveries_of(db: Db, days: Sequence[date]) -> dict[date, list[Any]]:
    d = cswb_delivery.c
    stmt = select(cswb_delivery).where(d.feed_date.in_(list(days))).order_by(d.feed_date, d.destination)
    found: dict[date, list[Any]] = {day: [] for day in days}
    for row in (await db.execute(stmt)).all():
        found[row.feed_date].append(row)
    return found


async def feed_body(db: Db, day: date) -> Any:
    f = cswb_feed.c
    stmt = select(f.body, f.digest, f.revision, f.body_removed_at).where(f.feed_date == day)
    return (await db.execute(stmt)).first()


def _delivered_before(cutoff: datetime) -> Any:
    """Feeds with a body whose every destination had it before the cutoff."""
    d, f = cswb_delivery.c, cswb_feed.c
    everywhere = (
        select(d.feed_date)
        .group_by(d.feed_date)
        .having(func.bool_and(d.state == "delivered"), func.max(d.delivered_at) < cutoff)
    )
    return and_(f.body.is_not(None), f.feed_date.in_(everywhere))


async def remove_delivered_bodies(conn: AsyncConnection, cutoff: datetime, now: datetime, dry_run: bool) -> int:
    """Drop the bodies of feeds delivered everywhere before the cutoff; the feeds and deliveries stay."""
    due = _delivered_before(cutoff)
    if dry_run:
        return int((await conn.execute(select(func.count()).select_from(cswb_feed).where(due))).scalar_one())
    stmt = update(cswb_feed).where(due).values(body=None, body_removed_at=now)
    return int((await conn.execute(stmt)).rowcount)  # type: ignore[attr-defined]
