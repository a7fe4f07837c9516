"""The audits service's app: its capabilities mounted, its settings built once.

Each capability is a folder: ``core`` (neighbourhoods, partnerships, CPTED audits, recommendations and
their exports), ``photos``, ``requests`` (audit requests), and two public standards over the same data,
``open311`` (Open311 GeoReport v2, ``/open311``) and ``ogc`` (OGC API - Features, ``/ogc``).
"""

import httpx
from fastapi import FastAPI

from services.audits import retention
from services.audits.core.api import audits, exports, neighbourhoods, partnerships, recommendations
from services.audits.error_formats import keep_declared_errors
from services.audits.ogc.api import routes as ogc
from services.audits.ogc.store.upstream import open_clients
from services.audits.open311.api import routes as open311
from services.audits.photos import api as photos
from services.audits.photos.settings import get_photo_settings
from services.audits.photos.store.files import photo_files
from services.audits.requests import api as audit_requests
from services.audits.requests.store import neighbourhoods_worked_in
from services.audits.settings import AuditsSettings
from services.audits.tables import idempotency, outbox
from shared.auth import api as keys_api
from shared.auth.audittrail import audit_trail_router
from shared.bus.changes import change_feed_router
from shared.bus.eventlog import event_log_router
from shared.retention import SLOW_ROUTES, retention_router
from shared.web.app import create_service_app


async def open_photo_files(app: FastAPI) -> None:
    app.state.photo_files = photo_files(app.state.photo_settings, app.state.settings.var_dir)


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

    photo_settings = get_photo_settings()
    # A photo upload is a multipart body: the image plus a few small form fields.
    photo_body = photo_settings.max_bytes + 64_000
    app = create_service_app(
        name="audits",
        title="CPTED audits",
        description="Neighbourhoods, police-community partnerships, CPTED audits and their recommendations.",
        idempotency=idempotency,
        body_limits={"/photos": photo_body},
        slow_routes={"/photos": 90.0, **SLOW_ROUTES},
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
            retention_router("audits", retention.kinds),
            keys_api.router,
        ],
    )
    # Built once, here; routes read them through services/audits/deps.py (the shared settings and the
    # clock are kept by the shared factory as app.state.settings and app.state.clock).
    app.state.audits_settings = AuditsSettings()
    app.state.photo_settings = photo_settings
    keep_declared_errors(app, [open311.router, ogc.router])
    return app
