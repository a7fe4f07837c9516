"""What every record handler of the audits service shares: load-or-404 with the record's own name."""

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
