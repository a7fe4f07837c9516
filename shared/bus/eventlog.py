"""``GET /v1/outbox``: a producer's event log, for rebuilds and reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Table

from shared.auth.keys import CurrentKey
from shared.bus.outbox import read_log
from shared.contracts.fields import LogPosition
from shared.web.http import SessionDep


def event_log_router(table: Table) -> APIRouter:
    router = APIRouter(tags=["event log"])

    @router.get(
        "/v1/outbox",
        summary="Events in position order, for rebuilding projections",
        description="Read with a service or admin key: the log holds every record's full state. "
        "Page with `after` = the previous `next_after`. `waiting: true` means a transaction may still "
        "be committing an earlier event: read the same page again shortly. Another system following the "
        "platform reads `GET /v1/changes` instead.",
    )
    async def outbox_log(
        request: Request,
        session: SessionDep,
        principal: CurrentKey,
        after: Annotated[LogPosition, Query(description="position of the last event read")] = 0,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict[str, Any]:
        principal.require_service()
        gap_timeout = request.app.state.settings.log_gap_timeout_s
        page = await read_log(session, table, after, limit, gap_timeout)
        return {"items": page.items, "next_after": page.next_after, "waiting": page.waiting}

    return router
