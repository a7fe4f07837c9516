"""Applies batches of events to the metrics projections, in one transaction per batch.

Each event class the projections follow is mapped to the kind of record it
describes (``HANDLERS``); events of other classes (photos, say) are recorded
as processed and change nothing. The counting is done by PostgreSQL
(``totals/store/counting.py``), in two statements per batch whatever its
size: record the event ids (duplicates drop out here) and take advisory locks
on the affected audits so concurrent consumers never interleave on one audit;
then move each record's latest state forward and change every counter by what
the records count after less what they counted before. Statements touch rows
in key order so consumers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.crime.store.placement import follow_boundaries
from services.metrics.totals.store import projections
from shared.contracts.events import Envelope
from shared.contracts.events.audits import (
    AuditCreated,
    AuditDeleted,
    AuditRequestCreated,
    AuditRequestUpdated,
    AuditUpdated,
    NeighbourhoodCreated,
    NeighbourhoodUpdated,
    PartnershipCreated,
    PartnershipUpdated,
    RecommendationCreated,
    RecommendationStatusChanged,
    RecommendationUpdated,
)
from shared.contracts.events.events import (
    DistributionRecorded,
    EventCancelled,
    EventCreated,
    EventDeleted,
    EventUpdated,
    MaterialCreated,
    MaterialTranslated,
    MaterialUpdated,
    StakeholderCreated,
    StakeholderUpdated,
    TrainingRecorded,
)


@dataclass(frozen=True)
class Kind:
    """A kind of record whose latest state the projections keep (its rows in ``metrics.subject``)."""

    name: str
    deleted_by: tuple[type[Envelope], ...] = ()
    """The events after which the record is gone: it counts nothing any more."""


NEIGHBOURHOOD = Kind("neighbourhood")
PARTNERSHIP = Kind("partnership")
AUDIT = Kind("audit", (AuditDeleted,))
RECOMMENDATION = Kind("recommendation")
AUDIT_REQUEST = Kind("audit_request")
EVENT = Kind("event", (EventDeleted,))
MATERIAL = Kind("material")
DISTRIBUTION = Kind("distribution")
TRAINING = Kind("training")
STAKEHOLDER = Kind("stakeholder")

HANDLERS: dict[type[Envelope], Kind] = {
    NeighbourhoodCreated: NEIGHBOURHOOD,
    NeighbourhoodUpdated: NEIGHBOURHOOD,
    PartnershipCreated: PARTNERSHIP,
    PartnershipUpdated: PARTNERSHIP,
    AuditCreated: AUDIT,
    AuditUpdated: AUDIT,
    AuditDeleted: AUDIT,
    RecommendationCreated: RECOMMENDATION,
    RecommendationUpdated: RECOMMENDATION,
    RecommendationStatusChanged: RECOMMENDATION,
    AuditRequestCreated: AUDIT_REQUEST,
    AuditRequestUpdated: AUDIT_REQUEST,
    EventCreated: EVENT,
    EventUpdated: EVENT,
    EventCancelled: EVENT,
    EventDeleted: EVENT,
    MaterialCreated: MATERIAL,
    MaterialUpdated: MATERIAL,
    MaterialTranslated: MATERIAL,
    DistributionRecorded: DISTRIBUTION,
    TrainingRecorded: TRAINING,
    StakeholderCreated: STAKEHOLDER,
    StakeholderUpdated: STAKEHOLDER,
}
"""Event class -> the kind of record it describes: the events the projections follow."""


def kinds_of_types() -> list[projections.KindOfType]:
    """Per ``(type, version)`` the projections follow: the kind of record its events describe, and whether
    they delete it."""
    return [
        projections.KindOfType(cls.model_fields["type"].default, cls.model_fields["version"].default, kind.name,
                               issubclass(cls, kind.deleted_by))
        for cls, kind in HANDLERS.items()
    ]  # fmt: skip


async def apply_events(
    conn: AsyncConnection,
    events: Sequence[Envelope],
    *,
    zone: str,
    exclusive: bool = False,
    then: Callable[[AsyncConnection, list[Envelope]], Awaitable[object]] | None = None,
) -> int:
    """Apply the events not applied before; returns how many were new. The caller commits.

    ``zone``: the local time zone whose days the counters are kept in (the settings' ``local_timezone``).
    ``exclusive``: the caller already holds the projections alone, so the per-audit locks are not taken.
    ``then``: called with the new events (never one applied before), in the same transaction, after
    the projections are written.
    """
    if not events:
        return 0
    followed = {e.id: kind for e in events if (kind := HANDLERS.get(type(e))) is not None}
    keys = None if exclusive else {e.id: _lock_key(followed[e.id], e) for e in events if e.id in followed}
    new_ids = await projections.record_processed(conn, [(e.id, e.type) for e in events], keys)
    if not new_ids:
        return 0
    fresh = list({e.id: e for e in events if e.id in new_ids}.values())
    changes = [_change(followed[e.id], e) for e in fresh if e.id in followed]
    neighbourhoods = await projections.apply_changes(conn, changes, zone)
    if neighbourhoods:  # incidents follow the latest boundaries (see crime/store/placement.py)
        await follow_boundaries(conn, neighbourhoods)
    if then is not None:
        await then(conn, fresh)
    return len(fresh)


def _change(kind: Kind, event: Envelope) -> projections.Change:
    return projections.Change(
        event.type,
        kind.name,
        event.subject_id,
        event.subject_version,
        isinstance(event, kind.deleted_by),
        event.payload.model_dump_json(by_alias=True),
    )


def _lock_key(kind: Kind, event: Envelope) -> str:
    """Events about one audit or its recommendations are applied by one consumer at a time."""
    if kind in (AUDIT, RECOMMENDATION):
        audit_id = getattr(event.payload, "audit_id", None) if kind is RECOMMENDATION else None
        return f"audit:{audit_id or event.subject_id}"
    return f"{kind.name}:{event.subject_id}"
