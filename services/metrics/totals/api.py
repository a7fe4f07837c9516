"""``/v1/totals``: the running totals of the programme, overall or one row per partnership or neighbourhood."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from services.metrics.deps import ConsumerLag
from services.metrics.totals import handlers
from services.metrics.totals.domain.totals import GroupTotals, Totals
from shared.auth.keys import ReaderKey
from shared.errors import InvalidField
from shared.web.conditional import preferred_wait
from shared.web.http import ReadingSessionDep

router = APIRouter(prefix="/v1/totals", tags=["totals"])

PartnershipQ = Annotated[uuid.UUID | None, Query(description="only this partnership")]
NeighbourhoodQ = Annotated[uuid.UUID | None, Query(description="only this neighbourhood")]
FromQ = Annotated[date | None, Query(alias="from", description="first local day of the period (inclusive)")]
ToQ = Annotated[date | None, Query(alias="to", description="last local day of the period (inclusive)")]
PreferH = Annotated[
    str | None,
    Header(
        description="`wait=<seconds>` with `If-None-Match`: when the totals are still those of the tag, answer as "
        "soon as they change (the consumer applied events), or 304 after that many seconds (at most 25, and half "
        "the request timeout). A live dashboard's long poll, instead of asking again and again.",
        examples=["wait=10"],
    ),
]


LONGEST_WAIT_S = 25.0
"""Below the idle timeout of the usual proxies and load balancers (60 s)."""


def _longest_wait(request_timeout_s: float) -> float:
    """How long a long poll may wait: half the request timeout (when there is one), and ``LONGEST_WAIT_S``."""
    return min(LONGEST_WAIT_S, request_timeout_s / 2) if request_timeout_s > 0 else LONGEST_WAIT_S


def _check_period(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")


@router.get("", response_model=Totals, summary="Running totals of the programme")
async def totals(
    request: Request,
    response: Response,
    session: ReadingSessionDep,
    principal: ReaderKey,
    partnership_id: PartnershipQ = None,
    neighbourhood_id: NeighbourhoodQ = None,
    start: FromQ = None,
    end: ToQ = None,
    prefer: PreferH = None,
) -> dict[str, object]:
    _check_period(start, end)
    state = request.app.state
    answer, response.headers["ETag"] = await handlers.totals_when_changed(
        session,
        state.engine,
        principal,
        handlers.Query(partnership_id, neighbourhood_id, start, end),
        redis=state.redis,
        settings=state.settings,
        changes=state.totals_changes,
        if_none_match=request.headers.get("if-none-match"),
        wait_s=preferred_wait(prefer, _longest_wait(state.settings.request_timeout_s)),
    )
    return answer


@router.get("/by-partnership", response_model=list[GroupTotals], summary="Totals, one row per partnership")
async def totals_by_partnership(
    session: ReadingSessionDep, principal: ReaderKey, lag: ConsumerLag, start: FromQ = None, end: ToQ = None
) -> list[dict[str, object]]:
    """One row per partnership whose figures the key sees."""
    _check_period(start, end)
    return await handlers.by_partnership(session, principal, start=start, end=end, lag_events=lag)


@router.get("/by-neighbourhood", response_model=list[GroupTotals], summary="Totals, one row per neighbourhood")
async def totals_by_neighbourhood(
    session: ReadingSessionDep, principal: ReaderKey, lag: ConsumerLag, start: FromQ = None, end: ToQ = None
) -> list[dict[str, object]]:
    _check_period(start, end)
    return await handlers.by_neighbourhood(session, start=start, end=end, lag_events=lag)
