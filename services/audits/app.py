"""The audits service: neighbourhoods, partnerships, CPTED audits, recommendations."""

from fastapi import FastAPI

from services.audits.api import audits, neighbourhoods, partnerships, recommendations
from services.audits.store.tables import idempotency, outbox
from shared import keys_api
from shared.app import create_service_app
from shared.audittrail import audit_trail_router
from shared.eventlog import event_log_router


def create_app() -> FastAPI:
    return create_service_app(
        name="audits",
        title="CPTED audits",
        description="Neighbourhoods, police-community partnerships, CPTED audits and their recommendations.",
        idempotency=idempotency,
        routers=[
            neighbourhoods.router,
            partnerships.router,
            audits.router,
            recommendations.router,
            event_log_router(outbox),
            audit_trail_router(outbox),
            keys_api.router,
        ],
    )
