import asyncio
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.metrics import chart
from services.metrics.api.params import CategoriesQ, split_values, today_of, zone_of
from services.metrics.crime_schemas import EvaluationRead
from services.metrics.domain.windows import MAX_WINDOW_DAYS, MIN_WINDOW_DAYS
from services.metrics.handlers import evaluations, summary
from services.metrics.store import crime_queries as queries
from shared.auth import ReaderKey
from shared.errors import InvalidField
from shared.http import SessionDep

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

WindowDaysQ = Annotated[
    int, Query(ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS, description="length of each window in local days")
]


EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
"""Given implementation dates stay where windows of up to five years and the dispersion's history exist."""


def _params(
    window_days: WindowDaysQ = 365,
    categories: CategoriesQ = [],  # noqa: B006
    buffer_m: Annotated[float | None, Query(gt=0, le=10_000, description="buffer ring width in metres")] = None,
    control_neighbourhood_ids: Annotated[
        list[str],
        Query(description="control neighbourhoods, repeatable or comma-separated; default: the untreated others"),
    ] = [],  # noqa: B006
    implementation: Annotated[
        Literal["implemented", "first_implemented"],
        Query(
            description="implementation period left out of both windows: from the first to the last implemented_on "
            "(implemented), or the first implemented_on alone (first_implemented)"
        ),
    ] = "implemented",
    implementation_from: Annotated[
        date | None, Query(description="given implementation period: first day (with implementation_to)")
    ] = None,
    implementation_to: Annotated[date | None, Query(description="given implementation period: last day")] = None,
) -> evaluations.Params:
    try:
        controls = tuple(uuid.UUID(v) for v in split_values(control_neighbourhood_ids))
    except ValueError:
        raise InvalidField("not a list of UUIDs", field="query.control_neighbourhood_ids") from None
    given = None
    if (implementation_from is None) != (implementation_to is None):
        missing = "implementation_to" if implementation_to is None else "implementation_from"
        raise InvalidField("give both ends of the implementation period", field=f"query.{missing}")
    for name, day in (("implementation_from", implementation_from), ("implementation_to", implementation_to)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidField(f"must be between {EARLIEST} and {LATEST}", field=f"query.{name}")
    if implementation_from is not None and implementation_to is not None:
        if implementation_to < implementation_from:
            raise InvalidField("the implementation period ends before it starts", field="query.implementation_to")
        given = (implementation_from, implementation_to)
    return evaluations.Params(
        window_days,
        tuple(split_values(categories, normalise=True)),
        buffer_m,
        controls,
        implementation=implementation,
        implementation_period=given,
    )


ParamsDep = Annotated[evaluations.Params, Depends(_params)]


@router.get("/audits/{audit_id}", response_model=EvaluationRead, summary="Before/after evaluation of one audit")
async def evaluate_audit(
    audit_id: uuid.UUID, request: Request, session: SessionDep, principal: ReaderKey, params: ParamsDep
) -> dict[str, Any]:
    """Definitions: docs/evaluation.md. Every count can be checked with `GET /v1/crime-incidents` and the windows."""
    subject = await evaluations.load_subject(session, audit_id, principal)
    return await evaluations.evaluate_audit(session, subject, params, zone=zone_of(request), today=today_of(request))


@router.get(
    "/audits/{audit_id}/chart.png",
    summary="Monthly incidents of target and control around the intervention date",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def evaluation_chart(
    audit_id: uuid.UUID, request: Request, session: SessionDep, principal: ReaderKey, params: ParamsDep
) -> Response:
    subject = await evaluations.load_subject(session, audit_id, principal)
    answer = await evaluations.evaluate_audit(session, subject, params, zone=zone_of(request), today=today_of(request))
    first, last = chart.full_months(answer["before_window"][0], answer["after_window"][1])
    target = await queries.monthly_counts(session, [answer["neighbourhood_id"]], first, last, params.categories)
    control = await queries.monthly_counts(session, answer["control_neighbourhood_ids"], first, last, params.categories)
    title = f"{subject.audit.site_name} (audit of {subject.audit.conducted_on})"
    png = await asyncio.to_thread(chart.render, answer, target, control, title)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/summary", summary="Pooled evaluation over every audit with an implemented recommendation")
async def evaluation_summary(
    request: Request,
    session: SessionDep,
    principal: ReaderKey,
    window_days: WindowDaysQ = 365,
    categories: CategoriesQ = [],  # noqa: B006
    include_incomplete: Annotated[bool, Query(description="also pool audits whose after window is running")] = False,
) -> dict[str, Any]:
    return await summary.summary(
        session,
        principal,
        window_days=window_days,
        categories=split_values(categories, normalise=True),
        include_incomplete=include_incomplete,
        today=today_of(request),
    )
