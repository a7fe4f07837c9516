"""The events service: community and special events, outreach material, distributions, training, connections."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.events import retention
from services.events.materials.api import distributions, language_check, materials, trainings
from services.events.programme.api import calendar, events, stakeholders
from services.events.tables import idempotency, outbox
from shared.auth.audittrail import audit_trail_router
from shared.bus.changes import change_feed_router
from shared.bus.eventlog import event_log_router
from shared.retention import SLOW_ROUTES, retention_router
from shared.web.app import create_service_app


def create_app(audits_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``audits_transport`` lets tests reach an in-process audits app instead of ``CPTED_AUDITS_URL``."""

    async def open_audits_client(app: FastAPI) -> None:
        app.state.audits_client = httpx.AsyncClient(
            base_url=app.state.settings.audits_url, transport=audits_transport, timeout=5.0
        )

    async def close_audits_client(app: FastAPI) -> None:
        await app.state.audits_client.aclose()

    app = create_service_app(
        name="events",
        title="CPTED community events",
        description="Community and special events, outreach material in any language, distributions to "
        "frontline staff, training sessions and the partnerships' community connections.",
        slow_routes=SLOW_ROUTES,
        routers=[
            events.router,
            calendar.router,
            materials.router,
            distributions.router,
            trainings.router,
            language_check.router,
            stakeholders.router,
            event_log_router(outbox, "events"),
            change_feed_router(outbox, "events"),
            audit_trail_router(outbox),
            retention_router("events", retention.kinds),
        ],
        idempotency=idempotency,
        on_startup=[open_audits_client],
        on_shutdown=[close_audits_client],
    )
    return app
