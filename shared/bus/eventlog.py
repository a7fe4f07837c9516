"""``GET /v1/outbox``: a producer's event log, for rebuilds and reconciliation."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Table

from shared.auth.keys import CurrentKey
from shared.bus.changes import change_model
from shared.bus.outbox import LOG_COLUMNS, LogForm, log_bounds, read_log, stream_log
from shared.contracts.events.envelope import Source
from shared.contracts.fields import LogPosition
from shared.errors import InvalidField
from shared.web.http import SessionDep
from shared.web.media import JSON, NotAcceptable, preferred


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


NDJSON = "application/x-ndjson"
CSV = "text/csv"
JSON_LIMIT = 5000
NDJSON_LIMIT = 100_000
"""The largest page of the NDJSON and CSV forms, streamed as they are read; a JSON page holds at most 5,000 events."""
Format = Literal["json", "ndjson", "csv"]


def _wants_ndjson(format: Format | None, accept: str | None) -> bool:
    if format is not None:
        return format == "ndjson"
    if not accept or NDJSON not in accept.lower():
        return False
    try:
        return preferred(accept, (JSON, NDJSON)) == NDJSON
    except NotAcceptable:  # the JSON page, as answered before there was a choice
        return False


def event_log_router(table: Table, source: Source) -> APIRouter:
    router = APIRouter(tags=["event log"])

    @router.get(
        "/v1/outbox",
        summary="Events in position order, for rebuilding projections",
        description="Read with a service or admin key: the log holds every record's full state. "
        "Page with `after` = the previous `next_after`. `waiting: true` means a transaction may still "
        "be committing an earlier event: read the same page again shortly. Another system following the "
        "platform reads `GET /v1/changes` instead.\n\n"
        f"With `Accept: {NDJSON}` or `format=ndjson`, the same page is streamed as NDJSON, one item "
        '(`{"position": ..., "event": ...}`) a line, with `limit` up to 100,000; `next_after` and `waiting` '
        "are then the headers `Log-Next-After` (absent at the end of the log) and `Log-Waiting` (`true`/`false`).\n\n"
        f"With `format=csv`, the same page is streamed as CSV ({CSV}, the same limit and headers): a header line "
        f"`{','.join(LOG_COLUMNS)}`, then one event a row, `payload` its payload as JSON. It holds what a "
        "projection is rebuilt from, not the rest of each event.",
        response_model=log_page_model(source),
        responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}, CSV: {"schema": {"type": "string"}}}}},
    )
    async def outbox_log(
        request: Request,
        session: SessionDep,
        principal: CurrentKey,
        after: Annotated[LogPosition, Query(description="position of the last event read")] = 0,
        limit: Annotated[
            int, Query(ge=1, le=NDJSON_LIMIT, description="at most 5,000 for a JSON page, 100,000 for NDJSON or CSV")
        ] = 500,
        format: Annotated[
            Format | None, Query(description="`ndjson`: the NDJSON form, `csv`: the CSV form, whatever `Accept` says")
        ] = None,
        accept: Annotated[str | None, Header(max_length=1000, include_in_schema=False)] = None,
    ) -> Any:
        principal.require_service()
        gap_timeout = request.app.state.settings.log_gap_timeout_s
        streamed: LogForm | None = "csv" if format == "csv" else "ndjson" if _wants_ndjson(format, accept) else None
        if streamed is not None:
            bounds = await log_bounds(session, table, after, limit, gap_timeout)
            await session.close()  # the page is streamed from a connection of its own
            headers = {"Log-Waiting": "true" if bounds.waiting else "false", "Vary": "Accept"}
            if bounds.next_after is not None:
                headers["Log-Next-After"] = str(bounds.next_after)
            lines = stream_log(request.app.state.engine, table, bounds, streamed)
            return StreamingResponse(lines, media_type=CSV if streamed == "csv" else NDJSON, headers=headers)
        if limit > JSON_LIMIT:
            raise InvalidField(
                f"Input should be less than or equal to {JSON_LIMIT} (or ask for NDJSON)", field="query.limit"
            )
        page = await read_log(session, table, after, limit, gap_timeout)
        # The log is served as stored, unvalidated: it must show an event no reader can parse too.
        body = {"items": page.items, "next_after": page.next_after, "waiting": page.waiting}
        return Response(orjson.dumps(body), media_type="application/json", headers={"Vary": "Accept"})

    return router
