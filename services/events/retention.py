"""The events service's retention (``shared/retention.py`` runs it): Idempotency-Key claims past their replay
window. Nothing else it keeps is personal data past its use: see docs/retention.md."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.events.tables import idempotency
from shared.clock import Clock
from shared.retention import Kind, idempotency_keys
from shared.settings import Settings


def kinds(engine: AsyncEngine, settings: Settings, clock: Clock) -> list[Kind]:
    return [idempotency_keys(engine, idempotency, settings.retention_idempotency_days)]
