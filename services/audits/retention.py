"""The audits service's retention (``shared/retention.py`` runs it): requesters' contacts a period after their
request closed, and Idempotency-Key claims past their replay window."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from services.audits.requests.handlers import erase_closed_requesters
from services.audits.tables import idempotency, outbox
from shared.clock import Clock
from shared.db.uow import UnitOfWork
from shared.retention import ACTOR, Kind, idempotency_keys
from shared.settings import Settings


def kinds(engine: AsyncEngine, settings: Settings, clock: Clock) -> list[Kind]:
    def units() -> UnitOfWork:
        return UnitOfWork(engine, outbox, "audits", actor=ACTOR)

    erase = partial(erase_closed_requesters, units, clock)
    return [
        Kind("requester_contacts", settings.retention_requester_days, erase),
        idempotency_keys(engine, idempotency, settings.retention_idempotency_days),
    ]
