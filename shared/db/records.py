"""A record's full state as an event payload, and the event that carries it: one rule for every producer."""

from __future__ import annotations

from typing import Any

from shared.contracts.events import Envelope
from shared.db.uow import UnitOfWork


def state(row: Any, **extra: Any) -> dict[str, Any]:
    """The full state of a record as an event payload (its bookkeeping columns left out)."""
    data = dict(row.model_dump(exclude={"version", "created_at", "updated_at"}))
    data.update(extra)
    return data


def emit_state(uow: UnitOfWork, event: type[Envelope], row: Any, **extra: Any) -> None:
    """Emit a record's full state (with ``extra`` fields), scoped by its own partnership and neighbourhood."""
    uow.emit(
        event,
        subject_id=row.id,
        subject_version=row.version,
        partnership_id=row.partnership_id,
        neighbourhood_id=row.neighbourhood_id,
        payload=state(row, **extra),
    )
