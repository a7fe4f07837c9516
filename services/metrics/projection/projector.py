"""Applies batches of events to the metrics projections, in one transaction per batch.

Each event class the projections follow is mapped to the kind of record it
describes (``HANDLERS``); events of other classes (photos, say) are recorded
as processed and change nothing. The counting is done by PostgreSQL
(``totals/store/counting.py``), in two statements per batch whatever its
size: record the event ids (duplicates drop out here) and take advisory locks
on the affected audits so concurrent consumers never interleave on one audit;
then move each record's latest state forward and change every counter by what
the records count after less what they counted before. Each statement takes the
batch as one JSON parameter, made in one pass of pydantic's serializer: the
Python work per event is what bounds a consumer beside PostgreSQL's. Statements
touch rows in key order so consumers cannot deadlock.
"""

from __future__ import annotations

import uuid
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
    # One pass over the batch: this runs for every event the consumer applies, on the path each batch waits on.
    followed: list[tuple[Envelope, Kind]] = []
    recorded: list[projections.Recorded] = []
    for event in events:
        kind = HANDLERS.get(type(event))
        if kind is None:
            recorded.append((event.id, event.type, None, None))
        else:
            followed.append((event, kind))
            recorded.append((event.id, event.type, *_lock_key(kind, event)))
    new_ids = await projections.record_processed(conn, recorded, lock=not exclusive)
    if not new_ids:
        return 0
    if len(new_ids) == len(events):  # all new, none twice: the usual batch
        fresh = list(events)
    else:
        fresh = list({e.id: e for e in events if e.id in new_ids}.values())
        followed = list({e.id: (e, kind) for e, kind in followed if e.id in new_ids}.values())
    changes = [
        (e.type, kind.name, e.subject_id, e.subject_version, isinstance(e, kind.deleted_by), e.payload)
        for e, kind in followed
    ]
    neighbourhoods = await projections.apply_changes(conn, changes, zone)
    if neighbourhoods:  # incidents follow the latest boundaries (see crime/store/placement.py)
        await projections.plan_each_time(conn)  # boundaries are looked up by a kind: a generic plan would scan
        await follow_boundaries(conn, neighbourhoods)
    if then is not None:
        await then(conn, fresh)
    return len(fresh)


def _lock_key(kind: Kind, event: Envelope) -> tuple[str, uuid.UUID]:
    """Events about one audit or its recommendations are applied by one consumer at a time: the lock's
    ``(namespace, id)``."""
    if kind is AUDIT:
        return "audit", event.subject_id
    if kind is RECOMMENDATION:
        return "audit", getattr(event.payload, "audit_id", None) or event.subject_id
    return kind.name, event.subject_id
