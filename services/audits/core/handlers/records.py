"""What every record handler of the audits service shares: load-or-404 and event payloads."""

from __future__ import annotations

import uuid
from typing import Any

from services.audits.tables import Audit, AuditRequest, Neighbourhood, Partnership, Recommendation
from shared.db.engine import get_or_404
from shared.db.uow import UnitOfWork

_NAMES = {
    Neighbourhood: "neighbourhood",
    Partnership: "partnership",
    Audit: "audit",
    Recommendation: "recommendation",
    AuditRequest: "audit request",
}


async def load(uow: UnitOfWork, model: Any, id_: uuid.UUID, *, for_update: bool = False) -> Any:
    return await get_or_404(uow.session, model, id_, _NAMES[model], for_update=for_update)


def emit_state(uow: UnitOfWork, event: type, row: Any) -> None:
    """Emit a record's full state, scoped by its own partnership and neighbourhood."""
    uow.emit(
        event,
        subject_id=row.id,
        subject_version=row.version,
        partnership_id=row.partnership_id,
        neighbourhood_id=row.neighbourhood_id,
        payload=state(row),
    )


def state(row: Any, **extra: Any) -> dict[str, Any]:
    """The full state of a record as an event payload."""
    data = row.model_dump(exclude={"version", "created_at", "updated_at"})
    data.update(extra)
    return data
