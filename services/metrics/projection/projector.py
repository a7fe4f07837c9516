"""Applies batches of events to the metrics projections, in one transaction per batch.

Each event class the projections follow is mapped to the kind of record it
describes (``HANDLERS``), and each kind to how its change is applied: the
state stored, and for what counts, the old contribution taken out of the
counters and the new one put in. Events of other classes (photos, say) are
recorded as processed and change nothing.

Per batch: record the event ids (duplicates drop out here), take advisory
locks on the affected audits so concurrent consumers never interleave on
one audit, load the states the batch needs in one query, compute the change
of every counter in memory, and write states and counters back in a few
statements. Statements touch rows in key order so consumers cannot deadlock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.crime.store.placement import follow_boundaries
from services.metrics.totals.domain import contributions
from services.metrics.totals.domain.contributions import Key
from services.metrics.totals.store import projections
from shared.contracts.events import Envelope
from shared.contracts.events.audits import (
    AuditCreated,
    AuditDeleted,
    AuditRequestCreated,
    AuditRequestState,
    AuditRequestUpdated,
    AuditState,
    AuditUpdated,
    NeighbourhoodCreated,
    NeighbourhoodState,
    NeighbourhoodUpdated,
    PartnershipCreated,
    PartnershipState,
    PartnershipUpdated,
    RecommendationCreated,
    RecommendationState,
    RecommendationStatusChanged,
    RecommendationUpdated,
)
from shared.contracts.events.envelope import Payload
from shared.contracts.events.events import (
    DistributionRecorded,
    DistributionState,
    EventCancelled,
    EventCreated,
    EventDeleted,
    EventState,
    EventUpdated,
    MaterialCreated,
    MaterialState,
    MaterialTranslated,
    MaterialUpdated,
    StakeholderCreated,
    StakeholderState,
    StakeholderUpdated,
    TrainingRecorded,
    TrainingState,
)
from shared.contracts.vocabulary import RecommendationStatus


@dataclass
class Stored:
    kind: str
    id: uuid.UUID
    version: int
    deleted: bool
    state: Any
    parent_id: uuid.UUID | None = None

    @property
    def live(self) -> Any:
        return None if self.deleted else self.state


@dataclass
class Batch:
    """The states a batch reads and writes, and the counter changes it makes."""

    states: dict[tuple[str, uuid.UUID], Stored]
    children: dict[uuid.UUID, set[uuid.UUID]]
    zone: str
    """The local time zone whose days the counters are kept in."""
    deltas: Counter[Key] = field(default_factory=Counter)
    dirty: set[tuple[str, uuid.UUID]] = field(default_factory=set)

    def shift(self, before: Counter[Key], after: Counter[Key]) -> None:
        """Take the old contribution out and put the new one in."""
        if before != after:
            self.deltas.update(contributions.delta(before, after))

    def get(self, kind: str, id_: uuid.UUID | None) -> Stored | None:
        return self.states.get((kind, id_)) if id_ else None

    def put(self, stored: Stored) -> None:
        self.states[(stored.kind, stored.id)] = stored
        self.dirty.add((stored.kind, stored.id))
        if stored.kind == RECOMMENDATION.name and stored.parent_id:
            self.children.setdefault(stored.parent_id, set()).add(stored.id)


Apply = Callable[[Batch, "Kind", Envelope, Stored | None], None]
"""Apply one event of a kind, given the state stored before it (None: never seen)."""


@dataclass(frozen=True)
class Kind:
    """A kind of record whose latest state the projections keep, and how an event about one is applied."""

    name: str
    """Its rows in ``metrics.subject``."""
    state: type[Payload]
    """How a stored state is read back."""
    apply: Apply


def _parent_id(kind: Kind, event: Envelope) -> uuid.UUID | None:
    if kind is not RECOMMENDATION:
        return None  # an audit request names its audit too, but does not count under it
    return getattr(event.payload, "audit_id", None)


def _lock_key(kind: Kind, event: Envelope) -> str:
    if kind in (AUDIT, RECOMMENDATION):
        return f"audit:{_parent_id(kind, event) or event.subject_id}"
    return f"{kind.name}:{event.subject_id}"


def _store(batch: Batch, kind: Kind, event: Envelope, deleted: bool = False) -> Stored:
    stored = Stored(kind.name, event.subject_id, event.subject_version, deleted, event.payload, _parent_id(kind, event))
    batch.put(stored)
    return stored


def _apply_state(batch: Batch, kind: Kind, event: Envelope, old: Stored | None) -> None:
    _store(batch, kind, event)


def _apply_audit(batch: Batch, kind: Kind, event: Envelope, old: Stored | None) -> None:
    before = old.live if old else None
    after = _store(batch, kind, event, deleted=isinstance(event, AuditDeleted)).live
    batch.shift(contributions.audit(before), contributions.audit(after))
    for rec_id in batch.children.get(event.subject_id, set()):
        rec = batch.get(RECOMMENDATION.name, rec_id)
        if rec is not None:
            batch.shift(
                contributions.recommendation(rec.live, before),
                contributions.recommendation(rec.live, after),
            )


def _apply_recommendation(batch: Batch, kind: Kind, event: Envelope, old: Stored | None) -> None:
    parent = batch.get(AUDIT.name, _parent_id(kind, event))
    audit = parent.live if parent else None
    before = contributions.recommendation(old.live if old else None, audit)
    after = contributions.recommendation(_store(batch, kind, event).live, audit)
    batch.shift(before, after)


Contribution = Callable[[Any, str], Counter[Key]]
"""What a record's state adds to the counters, given the local zone its days are counted in."""


def _counting(contribution: Contribution, deleted_by: type[Envelope] | None = None) -> Apply:
    """An apply function for a record that counts on its own (no parent): old contribution out, new in."""

    def apply(batch: Batch, kind: Kind, event: Envelope, old: Stored | None) -> None:
        deleted = deleted_by is not None and isinstance(event, deleted_by)
        before = contribution(old.live if old else None, batch.zone)
        after = contribution(_store(batch, kind, event, deleted).live, batch.zone)
        batch.shift(before, after)

    return apply


def _dated(contribution: Callable[[Any], Counter[Key]]) -> Contribution:
    """A contribution counted on dates the record gives (no moment to place in a local day)."""
    return lambda state, _zone: contribution(state)


NEIGHBOURHOOD = Kind("neighbourhood", NeighbourhoodState, _apply_state)
PARTNERSHIP = Kind("partnership", PartnershipState, _apply_state)
AUDIT = Kind("audit", AuditState, _apply_audit)
RECOMMENDATION = Kind("recommendation", RecommendationState, _apply_recommendation)
AUDIT_REQUEST = Kind("audit_request", AuditRequestState, _counting(contributions.audit_request))
EVENT = Kind("event", EventState, _counting(contributions.event, deleted_by=EventDeleted))
MATERIAL = Kind("material", MaterialState, _counting(_dated(contributions.material)))
DISTRIBUTION = Kind("distribution", DistributionState, _counting(_dated(contributions.distribution)))
TRAINING = Kind("training", TrainingState, _counting(_dated(contributions.training)))
STAKEHOLDER = Kind("stakeholder", StakeholderState, _counting(_dated(contributions.stakeholder)))

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

KINDS = {kind.name: kind for kind in HANDLERS.values()}


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
    ``exclusive``: the caller already holds the projections alone (a rebuild, after its TRUNCATE),
    so the per-audit locks, which would pile up in one long transaction, are not taken.
    ``then``: called with the new events (never one applied before), in the same transaction, after
    the projections are written.
    """
    fresh = await _record_processed(conn, events)
    if not fresh:
        return 0
    followed = [(kind, e) for e in fresh if (kind := HANDLERS.get(type(e))) is not None]
    if not exclusive:
        keys = sorted({_lock_key(kind, e) for kind, e in followed})
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k"),
            {"keys": keys},
        )
    batch = await _load(conn, followed, zone)
    for kind, event in followed:
        old = batch.get(kind.name, event.subject_id)
        if old is not None and old.version >= event.subject_version:
            continue  # an older version arriving late changes nothing
        kind.apply(batch, kind, event, old)
    await _write_states(conn, batch)
    await projections.record_progress(conn, _went_in_progress(fresh))
    # Incidents follow the latest boundaries (see crime/store/placement.py).
    await follow_boundaries(conn, [id_ for kind, id_ in batch.dirty if kind == NEIGHBOURHOOD.name])
    await projections.add_to_counters(conn, batch.deltas)
    if then is not None:
        await then(conn, fresh)
    return len(fresh)


def _went_in_progress(events: Sequence[Envelope]) -> list[tuple[uuid.UUID, uuid.UUID, date]]:
    """Each recommendation's moves into ``in_progress``, late or not: the earliest day is what counts."""
    return [
        (e.subject_id, e.payload.audit_id, e.payload.on)
        for e in events
        if isinstance(e, RecommendationStatusChanged) and e.payload.to is RecommendationStatus.in_progress
    ]


async def _record_processed(conn: AsyncConnection, events: Sequence[Envelope]) -> list[Envelope]:
    unique = {e.id: e for e in events}
    if not unique:
        return []
    new_ids = await projections.record_processed(conn, [(e.id, e.type) for e in unique.values()])
    return [e for e in unique.values() if e.id in new_ids]


async def _load(conn: AsyncConnection, followed: Sequence[tuple[Kind, Envelope]], zone: str) -> Batch:
    wanted = {(kind.name, e.subject_id) for kind, e in followed}
    wanted |= {(AUDIT.name, pid) for kind, e in followed if (pid := _parent_id(kind, e))}
    changing_audits = [e.subject_id for kind, e in followed if kind is AUDIT]
    batch = Batch(states={}, children={}, zone=zone)
    for row in await projections.load_states(conn, wanted, changing_audits):
        state = KINDS[row.kind].state.model_validate(row.state)
        batch.states[(row.kind, row.id)] = Stored(row.kind, row.id, row.version, row.deleted, state, row.parent_id)
        if row.kind == RECOMMENDATION.name and row.parent_id:
            batch.children.setdefault(row.parent_id, set()).add(row.id)
    return batch


async def _write_states(conn: AsyncConnection, batch: Batch) -> None:
    rows = []
    for kind, id_ in batch.dirty:
        stored = batch.states[(kind, id_)]
        state = stored.state.model_dump_json(by_alias=True)
        rows.append((kind, id_, stored.version, stored.parent_id, stored.deleted, state))
    await projections.write_states(conn, rows)


async def clear_projections(conn: AsyncConnection) -> None:
    """Empty every projection, for a rebuild from the producers' logs."""
    await projections.clear(conn)
