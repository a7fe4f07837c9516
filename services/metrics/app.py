"""The metrics service: running totals read from projections of the producers' events."""

from fastapi import FastAPI

from services.metrics.crime.api import counts as incident_counts
from services.metrics.crime.api import incidents
from services.metrics.cswb import api as cswb
from services.metrics.evaluation.api import evaluations, targeting
from services.metrics.projection.logwatch import readiness
from services.metrics.report import api as reports
from services.metrics.totals import api as totals
from services.metrics.webhooks import api as webhooks
from shared.bus.deadletters import dead_letter_router
from shared.web.app import create_service_app


def create_app() -> FastAPI:
    return create_service_app(
        name="metrics",
        title="CPTED metrics",
        description="Running totals of the programme, kept from the audits and events streams.",
        body_limits=incidents.BODY_LIMITS,
        slow_routes=incidents.SLOW_ROUTES,
        readiness=[readiness],
        routers=[
            totals.router,
            incidents.router,
            incident_counts.router,
            evaluations.router,
            targeting.router,
            cswb.router,
            reports.router,
            webhooks.router,
            dead_letter_router(),
        ],
    )
