"""The audits service: neighbourhoods, partnerships, CPTED audits, recommendations, audit requests.

Also speaks two public standards over the same data: Open311 GeoReport v2 (``/open311``) and
OGC API - Features (``/ogc``).
"""

import httpx
from fastapi import FastAPI

from services.audits.api import (
    audit_requests,
    audits,
    exports,
    neighbourhoods,
    ogc,
    open311,
    partnerships,
    photos,
    recommendations,
)
from services.audits.api.error_formats import keep_declared_errors
from services.audits.photo_settings import get_photo_settings
from services.audits.store.audit_requests import neighbourhoods_worked_in
from services.audits.store.photo_files import photo_files
from services.audits.store.tables import idempotency, outbox
from services.audits.upstream import open_clients
from shared.auth import api as keys_api
from shared.auth.audittrail import audit_trail_router
from shared.bus.changes import change_feed_router
from shared.bus.eventlog import event_log_router
from shared.web.app import create_service_app


async def open_photo_files(app: FastAPI) -> None:
    app.state.photo_files = photo_files(get_photo_settings())


def create_app(
    events_transport: httpx.AsyncBaseTransport | None = None,
    metrics_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The transports let tests reach in-process events and metrics apps instead of their ``CPTED_*_URL``."""

    async def open_upstream_clients(app: FastAPI) -> None:
        transports = {"events": events_transport, "metrics": metrics_transport}
        app.state.upstream_clients = open_clients(app.state.settings, transports)

    async def close_upstream_clients(app: FastAPI) -> None:
        for client in app.state.upstream_clients.values():
            await client.aclose()

    # A photo upload is a multipart body: the image plus a few small form fields.
    photo_body = get_photo_settings().max_bytes + 64_000
    app = create_service_app(
        name="audits",
        title="CPTED audits",
        description="Neighbourhoods, police-community partnerships, CPTED audits and their recommendations.",
        idempotency=idempotency,
        body_limits={"/photos": photo_body},
        slow_routes={"/photos": 90.0},
        on_startup=[open_photo_files, open_upstream_clients],
        on_shutdown=[close_upstream_clients],
        routers=[
            exports.router,  # before the routers whose /{id} would take "export.csv"
            photos.router,
            neighbourhoods.router,
            partnerships.router,
            audits.router,
            recommendations.router,
            audit_requests.router,
            open311.router,
            ogc.router,
            event_log_router(outbox, "audits"),
            change_feed_router(outbox, "audits", neighbourhoods_worked_in),
            audit_trail_router(outbox),
            keys_api.router,
        ],
    )
    keep_declared_errors(app, [open311.router, ogc.router])
    return app
