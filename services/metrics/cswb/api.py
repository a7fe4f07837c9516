"""``/v1/cswb``: the feeds' published schema, the feeds with their delivery state, redelivery."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.metrics.cswb.domain.schema import embedded_feed_schema, feed_schema
from services.metrics.cswb.handlers import reads, redelivery
from services.metrics.cswb.reads import Page, Redelivery
from shared.auth.keys import CurrentKey, Principal, Scope
from shared.errors import Forbidden
from shared.web.http import SessionDep
from shared.web.pagination import CursorDep

router = APIRouter(prefix="/v1/cswb", tags=["cswb"])
BASE = "/v1/cswb/feeds"
FEED_READERS = (Scope.feed, Scope.reader, Scope.admin)


async def feed_reader(principal: CurrentKey) -> Principal:
    if principal.scope not in FEED_READERS:
        raise Forbidden("the CSWB feeds are read with a feed, reader or admin key")
    return principal


FeedKey = Annotated[Principal, Depends(feed_reader)]
DateP = Annotated[date, Path(alias="date", description="the feed's date, YYYY-MM-DD (local)")]
FromQ = Annotated[date | None, Query(alias="from", description="first feed date (inclusive)")]
ToQ = Annotated[date | None, Query(alias="to", description="last feed date (inclusive)")]
DOCUMENT = embedded_feed_schema() | {"description": "a feed document; its JSON Schema is GET /v1/cswb/schema"}
CSV = {"type": "string", "description": "the CSV twin of the feed document"}


@router.get(
    "/schema",
    summary="The JSON Schema every feed validates against (public)",
    response_class=Response,  # always application/schema+json
    responses={200: {"content": {"application/schema+json": {"schema": {"type": "object"}}}}},
)
async def schema() -> Response:
    return JSONResponse(feed_schema(), media_type="application/schema+json")


@router.get("/feeds", response_model=Page, summary="The feeds, newest first, with their delivery state")
async def list_feeds(
    session: SessionDep, principal: FeedKey, page: CursorDep, start: FromQ = None, end: ToQ = None
) -> dict[str, Any]:
    return await reads.list_feeds(session, first=start, last=end, limit=page.limit, cursor=page.cursor, base=BASE)


def _headers(digest: str) -> dict[str, str]:
    return {"ETag": f'"{digest}"', "X-CSWB-Digest": f"sha256={digest}", "Cache-Control": "no-cache"}


async def _csv(session: SessionDep, feed_date: date) -> Response:
    text, digest = await reads.feed_csv(session, feed_date)
    filename = f"cswb-feed-{feed_date.isoformat()}.csv"
    headers = _headers(digest) | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/feeds/{date}.csv",
    summary="One date's feed as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": CSV}}}},
)
async def feed_as_csv(feed_date: DateP, session: SessionDep, principal: FeedKey) -> Response:
    return await _csv(session, feed_date)


def _wants_csv(accept: str) -> bool:
    accept = accept.lower()
    if "text/csv" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/csv") < accept.index("application/json")


@router.get(
    "/feeds/{date}",
    summary="One date's feed: the exact bytes delivered (JSON), or CSV with Accept: text/csv",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": DOCUMENT}, "text/csv": {"schema": CSV}}}},
)
async def feed(feed_date: DateP, request: Request, session: SessionDep, principal: FeedKey) -> Response:
    if _wants_csv(request.headers.get("accept", "")):
        return await _csv(session, feed_date)
    body, digest = await reads.feed_body(session, feed_date)
    return Response(body, media_type="application/json", headers=_headers(digest))


@router.post(
    "/feeds/{date}/redeliver",
    status_code=202,
    response_model=Redelivery,
    summary="Deliver the date's feed again to every configured destination (admin)",
)
async def redeliver(feed_date: DateP, request: Request, principal: CurrentKey) -> dict[str, Any]:
    principal.require_admin()
    return await redelivery.redeliver(request.app.state.engine, request.app.state.cswb, feed_date)
