"""What the totals answer: the running totals, overall or by group, and how far behind the consumer is."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.metrics.totals.changes import TotalsWatch
from services.metrics.totals.domain.totals import assemble, grouped
from services.metrics.totals.store import log_positions, queries
from shared.auth.keys import Principal
from shared.bus.consumer import lag as bus_lag
from shared.contracts.events.envelope import PRODUCERS
from shared.db.engine import session_factory
from shared.settings import Settings
from shared.web.conditional import holds, weak_tag


async def consumer_lag(db: AsyncSession | AsyncConnection, redis: Redis, settings: Settings) -> int:
    """Events the projections have not applied: the larger of what the producers' logs show (as the consumer's
    log watch last found) and what the bus still holds for the consumer group (0 while Redis is away)."""
    return max(await log_positions.logged_behind(db), await on_bus(redis, settings))


async def on_bus(redis: Redis, settings: Settings) -> int:
    """Events the bus holds for the consumer group and it has not applied (0 while Redis is away)."""
    try:
        return await bus_lag(redis, settings.all_streams(PRODUCERS), settings.consumer_group)
    except RedisError:
        return 0


@dataclass(frozen=True)
class Query:
    """What a totals answer is of: the programme's, or one partnership's or neighbourhood's, over a period."""

    partnership_id: uuid.UUID | None = None
    neighbourhood_id: uuid.UUID | None = None
    start: date | None = None
    end: date | None = None


async def totals(
    session: AsyncSession, principal: Principal, query: Query, *, redis: Redis, settings: Settings
) -> dict[str, object]:
    """The totals, with the consumer's lag as ``consumer_lag`` finds it, read in one statement and one Redis
    round trip, side by side."""
    principal.ensure_figures_visible(query.partnership_id)
    read = queries.snapshot(
        session,
        partnership_id=query.partnership_id,
        neighbourhood_id=query.neighbourhood_id,
        start=query.start,
        end=query.end,
    )
    snapshot, bus = await asyncio.gather(read, on_bus(redis, settings))
    return assemble(
        snapshot.sums,
        partnerships=snapshot.partnerships,
        as_of=snapshot.as_of,
        lag_events=max(snapshot.logged_behind, bus),
    )


async def totals_when_changed(
    session: AsyncSession,
    engine: AsyncEngine,
    principal: Principal,
    query: Query,
    *,
    redis: Redis,
    settings: Settings,
    changes: TotalsWatch,
    if_none_match: str | None,
    wait_s: float,
) -> tuple[dict[str, object], str]:
    """The totals and their tag. A reader holding them already (``If-None-Match`` names the tag) who is ready to
    wait gets them once they change (the consumer's wake after a batch), or unchanged after ``wait_s``.

    The first read is the request's own. Once woken, the readers waiting on one query share one read per wake
    (``TotalsWatch.read``), on a session of its own: a batch applied costs one read per query, not one per
    dashboard."""
    principal.ensure_figures_visible(query.partnership_id)
    loop = asyncio.get_running_loop()

    async def read(on: AsyncSession) -> dict[str, object]:
        return await totals(on, principal, query, redis=redis, settings=settings)

    async def read_alone() -> dict[str, object]:
        async with session_factory(engine, autocommit=True)() as own:
            return await read(own)

    deadline, waited = loop.time() + wait_s, False
    while True:
        seen = changes.wakes.count  # before reading: a batch committed after this wakes the wait below at once
        remaining = deadline - loop.time()
        known = changes.current(query, loop.time()) if remaining > 0 else None
        if known is None or not holds(if_none_match, known):
            answer = await (changes.read(query, seen, read_alone) if waited else read(session))
            tag = weak_tag(answer)
            changes.remember(query, seen, loop.time(), tag)
            if remaining <= 0 or not holds(if_none_match, tag):
                return answer, tag
            await session.close()  # no pooled connection is held while waiting
        await changes.wait(seen, remaining)
        waited = True


async def _by(
    session: AsyncSession, group_by: str, start: date | None, end: date | None, lag_events: int
) -> dict[str, dict[str, object]]:
    sums = await queries.counter_sums(session, group_by=group_by, start=start, end=end)
    known = await queries.partnerships(session, None, None)
    as_of = await queries.last_applied_at(session)
    return grouped(sums, known, group_by, as_of=as_of, lag_events=lag_events)


async def by_partnership(
    session: AsyncSession, principal: Principal, *, start: date | None, end: date | None, lag_events: int
) -> list[dict[str, object]]:
    """One row per partnership whose figures the key sees."""
    rows = await _by(session, "partnership_id", start, end, lag_events)
    return [rows[str(p)] for p in principal.figures_partnerships(uuid.UUID(gid) for gid in rows)]


async def by_neighbourhood(
    session: AsyncSession, *, start: date | None, end: date | None, lag_events: int
) -> list[dict[str, object]]:
    return list((await _by(session, "neighbourhood_id", start, end, lag_events)).values())
