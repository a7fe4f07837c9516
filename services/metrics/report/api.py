"""``/v1/reports``: a partnership's period as one self-contained HTML file, or as a PDF."""

import asyncio
import uuid
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import HTMLResponse

from services.metrics.deps import ConsumerLag
from services.metrics.report import handlers as reports
from services.metrics.report import page
from services.metrics.report.domain import parse_period
from shared.auth.keys import Principal, ReaderKey
from shared.clock import Clock
from shared.errors import InvalidField
from shared.web.http import ClockDep, ReadingSessionDep
from shared.web.media import HTML, NOT_ACCEPTABLE, PDF, binary, preferred

router = APIRouter(prefix="/v1/reports", tags=["reports"])

# The page is self-contained: its own inline style and SVG, nothing loaded, no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

PeriodQ = Annotated[
    str | None,
    Query(max_length=7, description="a year (2026) or a quarter (2026-Q2), local days; default this year"),
]
Accept = Annotated[str | None, Header(max_length=1000, description="text/html, or application/pdf for a PDF")]
PDF_ANSWER = binary(PDF, "The same report as a PDF (Letter): every figure as text, the charts as pictures")


class AsOf(NamedTuple):
    """When a report is asked for, and how complete the projections are then."""

    clock: Clock
    lag_events: int


async def _as_of(clock: ClockDep, lag: ConsumerLag) -> AsOf:
    return AsOf(clock, lag)


AsOfDep = Annotated[AsOf, Depends(_as_of)]


async def _report(
    session: ReadingSessionDep, principal: Principal, partnership_id: uuid.UUID, period: str | None, as_of: AsOf
) -> reports.PartnershipReport:
    clock = as_of.clock
    try:
        chosen = parse_period(period or str(clock.today().year))
    except ValueError as exc:
        raise InvalidField(str(exc), field="query.period") from None
    return await reports.partnership_report(
        session,
        principal,
        partnership_id,
        chosen,
        zone=clock.zone_name,
        today=clock.today(),
        lag_events=as_of.lag_events,
    )


async def _pdf(report: reports.PartnershipReport) -> Response:
    from services.metrics.report import pdf  # fpdf2 loads in a second: only when a PDF is asked for, not at start-up

    document = await asyncio.to_thread(pdf.render, report)
    name = f"partnership-report-{report.period.label}.pdf"
    return Response(document, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get(
    "/partnerships/{partnership_id}.pdf",
    response_class=Response,
    responses={200: PDF_ANSWER},
    summary="A partnership's report for a year or quarter as a PDF",
)
async def partnership_report_pdf(
    partnership_id: uuid.UUID, session: ReadingSessionDep, principal: ReaderKey, as_of: AsOfDep, period: PeriodQ = None
) -> Response:
    """The report of `GET /v1/reports/partnerships/{partnership_id}` as a PDF, with the same figures."""
    return await _pdf(await _report(session, principal, partnership_id, period, as_of))


@router.get(
    "/partnerships/{partnership_id}",
    response_class=HTMLResponse,
    responses={
        **NOT_ACCEPTABLE,
        200: {
            "description": "One HTML file: inline CSS and SVG charts, ready to print; "
            "or with `Accept: application/pdf`, the same report as a PDF",
            "content": PDF_ANSWER["content"],
        },
    },
    summary="A partnership's report for a year or quarter, against the one before",
)
async def partnership_report(
    partnership_id: uuid.UUID,
    session: ReadingSessionDep,
    principal: ReaderKey,
    as_of: AsOfDep,
    period: PeriodQ = None,
    accept: Accept = None,
) -> Response:
    """Measurable outputs against the previous period (the same figures as `GET /v1/totals` with
    `partnership_id`, `from` and `to`), recommendations by status and category, before/after evaluations of
    the audits implemented by the end of the period, and every outstanding recommendation with its expected date."""
    media = preferred(accept, (HTML, PDF))
    report = await _report(session, principal, partnership_id, period, as_of)
    if media == PDF:
        answer = await _pdf(report)
    else:
        name = f"partnership-report-{report.period.label}.html"
        headers = {"Content-Security-Policy": REPORT_CSP, "Content-Disposition": f'inline; filename="{name}"'}
        answer = HTMLResponse(page.render(report), headers=headers)
    answer.headers["Vary"] = "Accept"
    return answer
