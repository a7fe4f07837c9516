import uuid
from collections import defaultdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.metrics.projection.logwatch import lag_events as events_behind
from services.metrics.totals.domain.totals import GroupTotals, Totals, assemble
from services.metrics.totals.store import queries
from shared.auth.keys import ReaderKey
from shared.errors import InvalidField
from shared.web.http import SessionDep

router = APIRouter(prefix="/v1/totals", tags=["totals"])

PartnershipQ = Annotated[uuid.UUID | None, Query(description="only this partnership")]
NeighbourhoodQ = Annotated[uuid.UUID | None, Query(description="only this neighbourhood")]
FromQ = Annotated[date | None, Query(alias="from", description="first local day of the period (inclusive)")]
ToQ = Annotated[date | None, Query(alias="to", description="last local day of the period (inclusive)")]


def _check_period(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")


async def _lag(request: Request, session: SessionDep) -> int:
    settings = request.app.state.settings
    streams = [settings.stream("audits"), settings.stream("events")]
    return await events_behind(session, request.app.state.redis, streams, settings.consumer_group)


@router.get("", response_model=Totals, summary="Running totals of the programme")
async def totals(
    request: Request,
    session: SessionDep,
    principal: ReaderKey,
    partnership_id: PartnershipQ = None,
    neighbourhood_id: NeighbourhoodQ = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    _check_period(start, end)
    principal.ensure_figures_visible(partnership_id)
    sums = await queries.counter_sums(
        session, partnership_id=partnership_id, neighbourhood_id=neighbourhood_id, start=start, end=end
    )
    partnerships = await queries.partnerships(session, partnership_id, neighbourhood_id)
    return assemble(
        [(metric, value) for metric, value in sums],
        partnerships=len(partnerships),
        as_of=await queries.last_applied_at(session),
        lag_events=await _lag(request, session),
    )


async def _grouped(
    request: Request, session: SessionDep, group_by: str, start: date | None, end: date | None
) -> dict[str, dict[str, object]]:
    _check_period(start, end)
    sums = await queries.counter_sums(session, group_by=group_by, start=start, end=end)
    by_group: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for group_id, metric, value in sums:
        by_group[str(group_id)].append((metric, value))
    known = await queries.partnerships(session, None, None)
    partnerships_of: dict[str, int] = defaultdict(int)
    for pid, neighbourhoods in known:
        if group_by == "partnership_id":
            partnerships_of[str(pid)] = 1
            by_group.setdefault(str(pid), [])
        else:
            for nid in neighbourhoods:
                partnerships_of[str(nid)] += 1
    as_of = await queries.last_applied_at(session)
    lag_events = await _lag(request, session)
    return {
        gid: {"id": gid, **assemble(rows, partnerships=partnerships_of[gid], as_of=as_of, lag_events=lag_events)}
        for gid, rows in sorted(by_group.items())
    }


@router.get("/by-partnership", response_model=list[GroupTotals], summary="Totals, one row per partnership")
async def totals_by_partnership(
    request: Request, session: SessionDep, principal: ReaderKey, start: FromQ = None, end: ToQ = None
) -> list[dict[str, object]]:
    """One row per partnership whose figures the key sees."""
    rows = await _grouped(request, session, "partnership_id", start, end)
    return [rows[str(p)] for p in principal.figures_partnerships(uuid.UUID(gid) for gid in rows)]


@router.get("/by-neighbourhood", response_model=list[GroupTotals], summary="Totals, one row per neighbourhood")
async def totals_by_neighbourhood(
    request: Request, session: SessionDep, principal: ReaderKey, start: FromQ = None, end: ToQ = None
) -> list[dict[str, object]]:
    return list((await _grouped(request, session, "neighbourhood_id", start, end)).values())
