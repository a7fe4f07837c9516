"""Printable reports: a partnership's period as one self-contained HTML file."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.metrics.api.params import today_of, zone_of
from services.metrics.domain.report_periods import parse_period
from services.metrics.handlers import reports
from services.metrics.logwatch import lag_events
from services.metrics.report import page
from shared.auth import ReaderKey
from shared.errors import InvalidField
from shared.http import SessionDep

router = APIRouter(prefix="/v1/reports", tags=["reports"])

# The page is self-contained: its own inline style and SVG, nothing loaded, no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

PeriodQ = Annotated[
    str | None,
    Query(max_length=7, description="a year (2026) or a quarter (2026-Q2), local days; default this year"),
]


@router.get(
    "/partnerships/{partnership_id}",
    response_class=HTMLResponse,
    responses={200: {"description": "One HTML file: inline CSS and SVG charts, ready to print or save as PDF"}},
    summary="A partnership's report for a year or quarter, against the one before",
)
async def partnership_report(
    partnership_id: uuid.UUID, request: Request, session: SessionDep, principal: ReaderKey, period: PeriodQ = None
) -> HTMLResponse:
    """Measurable outputs against the previous period (the same figures as `GET /v1/totals` with
    `partnership_id`, `from` and `to`), recommendations by status and category, before/after evaluations of
    the audits implemented by the end of the period, and every outstanding recommendation with its expected date."""
    try:
        chosen = parse_period(period or str(today_of(request).year))
    except ValueError as exc:
        raise InvalidField(str(exc), field="query.period") from None
    settings = request.app.state.settings
    streams = [settings.stream("audits"), settings.stream("events")]
    behind = await lag_events(session, request.app.state.redis, streams, settings.consumer_group)
    report = await reports.partnership_report(
        session, principal, partnership_id, chosen, zone=zone_of(request), today=today_of(request), lag_events=behind
    )
    html = page.render(report)
    name = f"partnership-report-{chosen.label}.html"
    headers = {"Content-Security-Policy": REPORT_CSP, "Content-Disposition": f'inline; filename="{name}"'}
    return HTMLResponse(html, headers=headers)
