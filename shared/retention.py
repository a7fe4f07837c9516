"""Retention: removing what the platform no longer needs once its period (``CPTED_RETENTION_*``) is over.

Each service lists its kinds of records (``Kind``: a name, a period in days and a sweep); ``apply`` runs
them under one PostgreSQL advisory lock per service, so two runs at once take turns and the second finds
nothing left to remove. A sweep removes what is older than its cutoff and says how many; with ``dry_run``
it only counts. ``POST /v1/retention`` runs a producer's kinds for the nightly task (docs/retention.md).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.auth.keys import CurrentKey, Scope
from shared.clock import Clock
from shared.db.engine import UNHURRIED
from shared.errors import Forbidden
from shared.settings import Settings

log = logging.getLogger(__name__)

PATH = "/v1/retention"
SLOW_ROUTES = {PATH: 900.0}
"""A run's request may take this long: the first run after a period is shortened may have much to remove."""
ACTOR = "policy:retention"
"""Who made a change the retention policy made, in the audit trail."""
LOCK_NAMESPACE = 0x2E7
"""First key of the advisory lock a run holds (the second is the service's)."""

Sweep = Callable[[datetime, bool], Awaitable[int]]
"""``(cutoff, dry_run)``: remove (or only count) what is older than the cutoff; how many."""


@dataclass(frozen=True)
class Kind:
    name: str
    days: int
    """0: kept for ever."""
    sweep: Sweep


async def apply(
    engine: AsyncEngine, owner: str, kinds: Sequence[Kind], now: datetime, *, dry_run: bool
) -> dict[str, int]:
    """Every kind with a period, swept at ``now``; what each removed (or, dry, would remove).

    The lock belongs to a transaction left open for the run: however the run ends (an error, a cancelled
    request, a lost connection), the transaction ends and the lock goes with it.
    """
    key = {"ns": LOCK_NAMESPACE, "key": zlib.crc32(owner.encode()) & 0x7FFFFFFF}
    async with engine.connect() as conn, conn.begin():
        await conn.execute(UNHURRIED)  # idle while the sweeps run on other connections
        await conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), key)
        return {k.name: await k.sweep(now - timedelta(days=k.days), dry_run) for k in kinds if k.days > 0}


Run = Callable[[bool], Awaitable[dict[str, int]]]
"""One service's run: ``dry_run`` in, what each kind removed out."""


def runner(engine: AsyncEngine, owner: str, kinds: Sequence[Kind], clock: Clock) -> Run:
    async def run(dry_run: bool) -> dict[str, int]:
        return await apply(engine, owner, kinds, clock.now(), dry_run=dry_run)

    return run


def report_line(report: dict[str, dict[str, int]], *, dry_run: bool) -> None:
    """The structured log line of a run: what was removed, per service and kind (as JSON in the message too,
    for processes whose log lines are not JSON, such as the Celery worker's)."""
    what = "dry run (nothing removed)" if dry_run else "applied"
    log.info("retention %s: %s", what, orjson.dumps(report).decode(), extra={"dry_run": dry_run, "removed": report})


async def delete_where(conn: AsyncConnection, table: Table, condition: Any, dry_run: bool) -> int:
    """How many rows of ``table`` match ``condition``: deleted, or with ``dry_run`` only counted."""
    if dry_run:
        return int((await conn.execute(select(func.count()).select_from(table).where(condition))).scalar_one())
    return int((await conn.execute(delete(table).where(condition))).rowcount)  # type: ignore[attr-defined]


def in_transaction(engine: AsyncEngine, remove: Callable[[AsyncConnection, datetime, bool], Awaitable[int]]) -> Sweep:
    """A sweep that runs ``remove(conn, cutoff, dry_run)`` in a transaction of its own."""

    async def sweep(cutoff: datetime, dry_run: bool) -> int:
        async with engine.begin() as conn:
            return await remove(conn, cutoff, dry_run)

    return sweep


def idempotency_keys(engine: AsyncEngine, table: Table, days: int) -> Kind:
    """Idempotency-Key claims past their replay window (the period): a repeat after it runs afresh."""

    async def remove(conn: AsyncConnection, cutoff: datetime, dry_run: bool) -> int:
        return await delete_where(conn, table, table.c.created_at < cutoff, dry_run)

    return Kind("idempotency_keys", days, in_transaction(engine, remove))


class RetentionReport(BaseModel):
    dry_run: bool
    removed: dict[str, int] = Field(description="How many records of each kind were removed (or, dry, would be)")


Kinds = Callable[[AsyncEngine, Settings, Clock], Sequence[Kind]]
"""A service's kinds of records, with their periods from the settings."""


def retention_router(owner: str, kinds: Kinds) -> APIRouter:
    router = APIRouter(tags=["retention"])

    @router.post(
        PATH,
        summary="Apply the retention policy now: remove what is past its period (service or admin)",
        description="What is removed and when is set by the `CPTED_RETENTION_*` settings, never by the request.",
    )
    async def apply_retention(
        request: Request,
        principal: CurrentKey,
        dry_run: Annotated[bool, Query(description="count what is due, remove nothing")] = False,
    ) -> RetentionReport:
        if principal.scope not in (Scope.admin, Scope.service):
            raise Forbidden("the retention policy is applied with a service or admin key")
        state = request.app.state
        found = kinds(state.engine, state.settings, state.clock)
        removed = await runner(state.engine, owner, found, state.clock)(dry_run)
        report_line({owner: removed}, dry_run=dry_run)
        return RetentionReport(dry_run=dry_run, removed=removed)

    return router
