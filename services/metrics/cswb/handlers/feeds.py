"""Use cases of the CSWB feeds: build one date, build the nightly ones, deliver again.

A date's feed is built under a PostgreSQL advisory lock on that date and
stored under its primary key, so two beats, a task delivered twice or a
back-fill beside the nightly run still leave one row per date. The reads
run in one REPEATABLE READ snapshot, so a document never mixes two states of
the projections. A rebuild that finds the same bytes changes nothing; one
that finds new figures stores them as the next revision and delivers again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.metrics.cswb.domain.document import Inputs, assemble, digest, encode
from services.metrics.cswb.domain.schema import validate
from services.metrics.cswb.domain.scopes import scope_inputs
from services.metrics.cswb.settings import CswbSettings
from services.metrics.cswb.store import feeds as store
from services.metrics.cswb.store import queries
from services.metrics.evaluation.handlers import summary
from shared.auth.keys import Principal, Scope
from shared.db.claims import take_claim
from shared.db.engine import UNHURRIED
from shared.errors import NotFound

EVALUATOR = Principal(uuid.UUID(int=0), "CSWB feed", Scope.reader)
"""The evaluation in a feed pools every audit, whoever reads the feed."""


@dataclass(frozen=True)
class Built:
    feed_date: date
    outcome: str
    """created, updated (new figures: a new revision), unchanged, or exists (nightly: left as it was)."""
    revision: int
    digest: str


def removed(day: date, when: datetime) -> str:
    return f"the body of the CSWB feed for {day} was removed by the retention policy on {when:%Y-%m-%d}"


async def gather(session: AsyncSession, day: date, zone: str, window_days: int) -> Inputs:
    counters = await queries.counter_sums(session, day)
    incidents = await queries.incident_sums(session, day)
    links = await queries.partnership_neighbourhoods(session)
    seen = [n for by_neighbourhood in counters.values() for n in by_neighbourhood] + list(incidents)
    neighbourhoods = await queries.neighbourhood_ids(session, seen)
    evaluation = await summary.summary(
        session,
        EVALUATOR,
        window_days=window_days,
        categories=[],
        include_incomplete=False,
        today=day + timedelta(days=1),  # the date itself is over when its feed is built
    )
    return scope_inputs(day, zone, counters, incidents, links, neighbourhoods, evaluation)


async def _build_locked(conn: AsyncConnection, day: date, cswb: CswbSettings, zone: str, only_missing: bool) -> Built:
    await conn.execution_options(isolation_level="REPEATABLE READ")
    async with conn.begin():
        await conn.execute(UNHURRIED)  # the document is assembled and validated inside the snapshot
        existing = await store.stored(conn, day)
        if existing is not None and only_missing:
            return Built(day, "exists", existing.revision, existing.digest)
        async with AsyncSession(bind=conn) as session:
            document = assemble(await gather(session, day, zone, cswb.cswb_window_days))
        validate(document)
        body = encode(document)
        sha = digest(body)
        if existing is None:
            await store.insert_feed(conn, day, body, sha)
            built = Built(day, "created", 1, sha)
        elif existing.digest == sha:
            await store.touch_feed(conn, day, body)
            built = Built(day, "unchanged", existing.revision, sha)
        else:
            built = Built(day, "updated", await store.replace_feed(conn, day, body, sha), sha)
        all_again = built.outcome == "updated"
        await store.reset_deliveries(conn, day, built.revision, cswb.cswb_destinations, all_again=all_again)
        return built


async def build_feed(
    engine: AsyncEngine, day: date, cswb: CswbSettings, zone: str, only_missing: bool = False
) -> Built:
    async with engine.connect() as conn:
        await store.lock_date(conn, day)
        await conn.commit()
        try:
            return await _build_locked(conn, day, cswb, zone, only_missing)
        finally:
            await store.unlock_date(conn, day)
            await conn.commit()


def nightly_dates(today: date, catch_up_days: int) -> list[date]:
    """Yesterday, and the days before it within the catch-up window, oldest first."""
    return [today - timedelta(days=k) for k in range(max(1, catch_up_days), 0, -1)]


async def due(engine: AsyncEngine, cswb: CswbSettings, day: date | None = None) -> list[store.Ticket]:
    async with engine.connect() as conn:
        tickets = await store.due_deliveries(conn, cswb.cswb_destinations, cswb.celery_visibility_timeout_s)
    return [t for t in tickets if day is None or t.feed_date == day]


async def build_nightly(
    engine: AsyncEngine, cswb: CswbSettings, zone: str, today: date
) -> tuple[list[Built], list[store.Ticket]]:
    built = [
        await build_feed(engine, day, cswb, zone, only_missing=True)
        for day in nightly_dates(today, cswb.cswb_catch_up_days)
    ]
    return built, await due(engine, cswb)


async def redeliver(engine: AsyncEngine, cswb: CswbSettings, day: date) -> list[store.Ticket]:
    """Every configured destination gets the date's feed again, delivered or failed before."""
    async with engine.begin() as conn:
        found = await store.stored(conn, day)
        if found is None:
            raise NotFound(f"no CSWB feed for {day}")
        if found.body_removed_at is not None:
            raise NotFound(f"{removed(day, found.body_removed_at)}; build it again with `cpted cswb build`")
        await store.reset_deliveries(conn, day, found.revision, cswb.cswb_destinations, all_again=True)
        await take_claim(conn)  # a repeat with the same Idempotency-Key does not deliver it a third time
    return await due(engine, cswb, day)
