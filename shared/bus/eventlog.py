"""``GET /v1/outbox``: a producer's event log, for rebuilds and reconciliation."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Table

from shared.auth.keys import CurrentKey
from shared.bus.changes import change_model
from shared.bus.outbox import read_log
from shared.contracts.events.envelope import Source
from shared.contracts.fields import LogPosition
from shared.web.http import SessionDep


@cache
def log_page_model(source: Source) -> type[BaseModel]:
    """A page of the event log: the change feed's typed events, paged by position."""
    change = change_model(source)
    return type(
        f"{source.title()}LogPage",
        (BaseModel,),
        {
            "__annotations__": {"items": list[change], "next_after": int | None, "waiting": bool},  # type: ignore[valid-type]
            "next_after": Field(description="Send it back as `after`; null at the end of the log"),
            "waiting": Field(description="An earlier event may still be committing: read the same page again shortly"),
            "__doc__": "A page of the event log.",
        },
    )


def event_log_router(table: Table, source: Source) -> APIRouter:
    router = APIRouter(tags=["event log"])

    @router.get(
        "/v1/outbox",
        summary="Events in position order, for rebuilding projections",
        description="Read with a service or admin key: the log holds every record's full state. "
        "Page with `after` = the previous `next_after`. `waiting: true` means a transaction may still "
        "be committing an earlier event: read the same page again shortly. Another system following the "
        "platform reads `GET /v1/changes` instead.",
        response_model=log_page_model(source),
    )
    async def outbox_log(
        request: Request,
        session: SessionDep,
        principal: CurrentKey,
        after: Annotated[LogPosition, Query(description="position of the last event read")] = 0,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> Any:
        principal.require_service()
        gap_timeout = request.app.state.settings.log_gap_timeout_s
        page = await read_log(session, table, after, limit, gap_timeout)
        # The log is served as stored, unvalidated: it must show an event no reader can parse too.
        body = {"items": page.items, "next_after": page.next_after, "waiting": page.waiting}
        return Response(orjson.dumps(body), media_type="application/json")

    return router
