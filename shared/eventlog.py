"""``GET /v1/outbox``: a producer's event log, for rebuilds and reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Table

from shared.auth import ReaderKey
from shared.errors import InvalidField
from shared.http import SessionDep
from shared.outbox import decode_position, read_log


def event_log_router(table: Table) -> APIRouter:
    router = APIRouter(tags=["event log"])

    @router.get("/v1/outbox", summary="Events in commit order, for rebuilding projections")
    async def outbox_log(
        session: SessionDep,
        principal: ReaderKey,
        after: Annotated[str | None, Query(max_length=60, description="position of the last event read")] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict[str, Any]:
        if after is not None:
            try:
                decode_position(after)
            except ValueError as exc:
                raise InvalidField("after is not a position this log issued", field="query.after") from exc
        page = await read_log(session, table, after, limit)
        return {"items": page.items, "next_after": page.next_after}

    return router
