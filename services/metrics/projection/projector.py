"""Applies batches of events to the metrics projections, in one transaction per batch.

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
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.crime.store.placement import follow_boundaries
from services.metrics.totals.domain import contributions
from services.metrics.totals.domain.contributions import Key
from services.metrics.totals.store import projections
from shared.contracts.events import Envelope
from shared.contracts.events.audits import (
    AuditRequestState,
    AuditState,
    NeighbourhoodState,
    PartnershipState,
    RecommendationState,
)
from shared.contracts.events.events import DistributionState, EventState, MaterialState, StakeholderState, TrainingState

STATE_MODELS: dict[str, type[BaseModel]] = {
    "neighbourhood": NeighbourhoodState,
    "partnership": PartnershipState,
    "audit": AuditState,
    "recommendation": RecommendationState,
    "audit_request": AuditRequestState,
    "event": EventState,
    "material": MaterialState,
    "distribution": DistributionState,
    "training": TrainingState,
    "stakeholder": StakeholderState,
}


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

    def shift(self, before: Counter[Key], after: Counter[Key]) -> None:
        """Take the old contribution out and put the new one in (zeros are dropped when written)."""
        if before != after:
            self.deltas.update(after)
            self.deltas.subtract(before)

    dirty: set[tuple[str, uuid.UUID]] = field(default_factory=set)

    def get(self, kind: str, id_: uuid.UUID | None) -> Stored | None:
        return self.states.get((kind, id_)) if id_ else None

    def put(self, stored: Stored) -> None:
        self.states[(stored.kind, stored.id)] = stored
        self.dirty.add((stored.kind, stored.id))
        if stored.kind == "recommendation" and stored.parent_id:
            self.children.setdefault(stored.parent_id, set()).add(stored.id)


def _kind(event: Envelope) -> str:
    return event.type.partition(".")[0]


def _parent_id(event: Envelope) -> uuid.UUID | None:
    if _kind(event) != "recommendation":
        return None  # an audit request names its audit too, but does not count under it
    return getattr(event.payload, "audit_id", None)


def _lock_key(event: Envelope) -> str:
    kind = _kind(event)
    if kind in ("audit", "recommendation"):
        return f"audit:{_parent_id(event) or event.subject_id}"
    return f"{kind}:{event.subject_id}"


def _store_plain(batch: Batch, event: Envelope, deleted: bool) -> Stored:
    stored = Stored(_kind(event), event.subject_id, event.subject_version, deleted, event.payload, _parent_id(event))
    batch.put(stored)
    return stored


def _apply_audit(batch: Batch, event: Envelope, old: Stored | None) -> None:
    before = old.live if old else None
    after = _store_plain(batch, event, deleted=event.type == "audit.deleted").live
    batch.shift(contributions.audit(before), contributions.audit(after))
    for rec_id in batch.children.get(event.subject_id, set()):
        rec = batch.get("recommendation", rec_id)
        if rec is not None:
            batch.shift(
                contributions.recommendation(rec.live, before),
                contributions.recommendation(rec.live, after),
            )


def _apply_recommendation(batch: Batch, event: Envelope, old: Stored | None) -> None:
    parent = batch.get("audit", _parent_id(event))
    audit = parent.live if parent else None
    before = contributions.recommendation(old.live if old else None, audit)
    after = contributions.recommendation(_store_plain(batch, event, deleted=False).live, audit)
    batch.shift(before, after)


def _apply_state(batch: Batch, event: Envelope, old: Stored | None) -> None:
    _store_plain(batch, event, deleted=False)


Apply = Callable[[Batch, Envelope, Stored | None], None]
Contribution = Callable[[Any, str], Counter[Key]]
"""What a record's state adds to the counters, given the local zone its days are counted in."""


def _counting(contribution: Contribution, deleted_type: str = "") -> Apply:
    """An apply function for a record that counts on its own (no parent): old contribution out, new in."""

    def apply(batch: Batch, event: Envelope, old: Stored | None) -> None:
        before = contribution(old.live if old else None, batch.zone)
        after = contribution(_store_plain(batch, event, deleted=event.type == deleted_type).live, batch.zone)
        batch.shift(before, after)

    return apply


def _dated(contribution: Callable[[Any], Counter[Key]]) -> Contribution:
    """A contribution counted on dates the record gives (no moment to place in a local day)."""
    return lambda state, _zone: contribution(state)


_apply_audit_request = _counting(contributions.audit_request)
_apply_event = _counting(contributions.event, deleted_type="event.deleted")
_apply_material = _counting(_dated(contributions.material))
_apply_stakeholder = _counting(_dated(contributions.stakeholder))

HANDLERS: dict[str, Apply] = {
    "neighbourhood.created": _apply_state,
    "neighbourhood.updated": _apply_state,
    "partnership.created": _apply_state,
    "partnership.updated": _apply_state,
    "audit.created": _apply_audit,
    "audit.updated": _apply_audit,
    "audit.deleted": _apply_audit,
    "recommendation.created": _apply_recommendation,
    "recommendation.updated": _apply_recommendation,
    "recommendation.status_changed": _apply_recommendation,
    "audit_request.created": _apply_audit_request,
    "audit_request.updated": _apply_audit_request,
    "event.created": _apply_event,
    "event.updated": _apply_event,
    "event.cancelled": _apply_event,
    "event.deleted": _apply_event,
    "material.created": _apply_material,
    "material.updated": _apply_material,
    "material.translated": _apply_material,
    "distribution.recorded": _counting(_dated(contributions.distribution)),
    "training.recorded": _counting(_dated(contributions.training)),
    "stakeholder.created": _apply_stakeholder,
    "stakeholder.updated": _apply_stakeholder,
}


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
    if not exclusive:
        keys = sorted({_lock_key(e) for e in fresh})
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k"),
            {"keys": keys},
        )
    batch = await _load(conn, fresh, zone)
    for event in fresh:
        handler = HANDLERS.get(event.type)
        if handler is None:
            continue
        old = batch.get(_kind(event), event.subject_id)
        if old is not None and old.version >= event.subject_version:
            continue  # an older version arriving late changes nothing
        handler(batch, event, old)
    await _write_states(conn, batch)
    # Incidents follow the latest boundaries (see crime/store/placement.py).
    await follow_boundaries(conn, [id_ for kind, id_ in batch.dirty if kind == "neighbourhood"])
    await projections.add_to_counters(conn, batch.deltas)
    if then is not None:
        await then(conn, fresh)
    return len(fresh)


async def _record_processed(conn: AsyncConnection, events: Sequence[Envelope]) -> list[Envelope]:
    unique = {e.id: e for e in events}
    if not unique:
        return []
    new_ids = await projections.record_processed(conn, [(e.id, e.type) for e in unique.values()])
    return [e for e in unique.values() if e.id in new_ids]


async def _load(conn: AsyncConnection, events: Sequence[Envelope], zone: str) -> Batch:
    wanted = {(_kind(e), e.subject_id) for e in events if _kind(e) in STATE_MODELS}
    wanted |= {("audit", pid) for e in events if (pid := _parent_id(e))}
    changing_audits = [e.subject_id for e in events if _kind(e) == "audit"]
    batch = Batch(states={}, children={}, zone=zone)
    for row in await projections.load_states(conn, wanted, changing_audits):
        model = STATE_MODELS[row.kind]
        stored = Stored(row.kind, row.id, row.version, row.deleted, model.model_validate(row.state), row.parent_id)
        batch.states[(row.kind, row.id)] = stored
        if row.kind == "recommendation" and row.parent_id:
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
