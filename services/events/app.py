"""The events service: community and special events, outreach material, training.

Its resources arrive with the engagement work; today it serves its (empty)
event log, health and readiness so the relay and the platform run whole.
"""

from fastapi import FastAPI

from services.events.store.tables import outbox
from shared.app import create_service_app
from shared.eventlog import event_log_router


def create_app() -> FastAPI:
    return create_service_app(
        name="events",
        title="CPTED community events",
        description="Community and special events, outreach material, distributions and training.",
        routers=[event_log_router(outbox)],
    )
