"""The metrics service: running totals, crime statistics, evaluations, reports, CSWB feeds and webhooks, each a
capability folder with its own router; the projections they read are kept by ``projection/`` from the
producers' events."""

from fastapi import FastAPI

from services.metrics.crime.api import counts as incident_counts
from services.metrics.crime.api import incidents
from services.metrics.cswb import api as cswb
from services.metrics.cswb.settings import get_cswb_settings
from services.metrics.evaluation.api import evaluations, targeting
from services.metrics.projection.logwatch import readiness
from services.metrics.report import api as reports
from services.metrics.totals import api as totals
from services.metrics.totals import changes as totals_changes
from services.metrics.totals.store.tables import idempotency
from services.metrics.webhooks import api as webhooks
from shared.bus.deadletters import dead_letter_router
from shared.web.app import create_service_app


async def _cswb_settings(app: FastAPI) -> None:
    """The feeds' settings, read once beside the platform's (``app.state.settings``)."""
    app.state.cswb = get_cswb_settings()


def create_app() -> FastAPI:
    return create_service_app(
        name="metrics",
        title="CPTED metrics",
        description="Running totals of the programme, kept from the audits and events streams.",
        idempotency=idempotency,
        body_limits=incidents.BODY_LIMITS,
        slow_routes=incidents.SLOW_ROUTES,
        on_startup=[_cswb_settings, totals_changes.listen],
        on_shutdown=[totals_changes.stop_listening],
        readiness=[readiness],
        routers=[  # in this order in the OpenAPI document
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
