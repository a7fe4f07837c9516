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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.domain import contributions
from services.metrics.domain.contributions import Key
from services.metrics.store.tables import counter_daily, counter_total, processed_event, subject
from shared.events import Envelope
from shared.events.audits import AuditState, NeighbourhoodState, PartnershipState, RecommendationState

STATE_MODELS: dict[str, type[BaseModel]] = {
    "neighbourhood": NeighbourhoodState,
    "partnership": PartnershipState,
    "audit": AuditState,
    "recommendation": RecommendationState,
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
    deltas: Counter[Key] = field(default_factory=Counter)
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
    batch.deltas.update(contributions.delta(contributions.audit(before), contributions.audit(after)))
    for rec_id in batch.children.get(event.subject_id, set()):
        rec = batch.get("recommendation", rec_id)
        if rec is not None:
            batch.deltas.update(
                contributions.delta(
                    contributions.recommendation(rec.live, before),
                    contributions.recommendation(rec.live, after),
                )
            )


def _apply_recommendation(batch: Batch, event: Envelope, old: Stored | None) -> None:
    parent = batch.get("audit", _parent_id(event))
    audit = parent.live if parent else None
    before = contributions.recommendation(old.live if old else None, audit)
    after = contributions.recommendation(_store_plain(batch, event, deleted=False).live, audit)
    batch.deltas.update(contributions.delta(before, after))


def _apply_state(batch: Batch, event: Envelope, old: Stored | None) -> None:
    _store_plain(batch, event, deleted=False)


Apply = Callable[[Batch, Envelope, Stored | None], None]

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
}


async def apply_events(conn: AsyncConnection, events: Sequence[Envelope]) -> int:
    """Apply the events not applied before; returns how many were new. The caller commits."""
    fresh = await _record_processed(conn, events)
    if not fresh:
        return 0
    keys = sorted({_lock_key(e) for e in fresh})
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k"),
        {"keys": keys},
    )
    batch = await _load(conn, fresh)
    for event in fresh:
        handler = HANDLERS.get(event.type)
        if handler is None:
            continue
        old = batch.get(_kind(event), event.subject_id)
        if old is not None and old.version >= event.subject_version:
            continue  # an older version arriving late changes nothing
        handler(batch, event, old)
    await _write_states(conn, batch)
    await _write_counters(conn, batch.deltas)
    return len(fresh)


async def _record_processed(conn: AsyncConnection, events: Sequence[Envelope]) -> list[Envelope]:
    unique = {e.id: e for e in events}
    if not unique:
        return []
    result = await conn.execute(
        insert(processed_event)
        .values([{"id": e.id, "type": e.type} for e in sorted(unique.values(), key=lambda e: e.id)])
        .on_conflict_do_nothing()
        .returning(processed_event.c.id)
    )
    new_ids = set(result.scalars().all())
    return [e for e in unique.values() if e.id in new_ids]


async def _load(conn: AsyncConnection, events: Sequence[Envelope]) -> Batch:
    wanted = {(_kind(e), e.subject_id) for e in events if _kind(e) in STATE_MODELS}
    wanted |= {("audit", pid) for e in events if (pid := _parent_id(e))}
    changing_audits = [e.subject_id for e in events if _kind(e) == "audit"]
    conditions = []
    if wanted:
        conditions.append(tuple_(subject.c.kind, subject.c.id).in_(sorted(wanted, key=str)))
    if changing_audits:
        conditions.append(and_(subject.c.kind == "recommendation", subject.c.parent_id.in_(changing_audits)))
    batch = Batch(states={}, children={})
    if not conditions:
        return batch
    rows = await conn.execute(select(subject).where(or_(*conditions)))
    for row in rows:
        model = STATE_MODELS[row.kind]
        stored = Stored(row.kind, row.id, row.version, row.deleted, model.model_validate(row.state), row.parent_id)
        batch.states[(row.kind, row.id)] = stored
        if row.kind == "recommendation" and row.parent_id:
            batch.children.setdefault(row.parent_id, set()).add(row.id)
    return batch


async def _write_states(conn: AsyncConnection, batch: Batch) -> None:
    if not batch.dirty:
        return
    rows = []
    for kind, id_ in sorted(batch.dirty, key=str):
        stored = batch.states[(kind, id_)]
        rows.append(
            {
                "kind": kind,
                "id": id_,
                "version": stored.version,
                "parent_id": stored.parent_id,
                "deleted": stored.deleted,
                "state": stored.state.model_dump(mode="json", by_alias=True),
            }
        )
    stmt = insert(subject).values(rows)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[subject.c.kind, subject.c.id],
            set_={c: stmt.excluded[c] for c in ("version", "parent_id", "deleted", "state")},
        )
    )


async def _write_counters(conn: AsyncConnection, deltas: Counter[Key]) -> None:
    if not deltas:
        return
    totals: Counter[tuple[uuid.UUID, uuid.UUID, str]] = Counter()
    for key, count in deltas.items():
        totals[(key.partnership_id, key.neighbourhood_id, key.metric)] += count
    for table, changes in (
        (
            counter_total,
            [
                {"partnership_id": p, "neighbourhood_id": n, "metric": m, "value": v}
                for (p, n, m), v in sorted(totals.items(), key=str)
                if v
            ],
        ),
        (
            counter_daily,
            [
                {
                    "partnership_id": k.partnership_id,
                    "neighbourhood_id": k.neighbourhood_id,
                    "metric": k.metric,
                    "day": k.day,
                    "value": v,
                }
                for k, v in sorted(deltas.items(), key=str)
            ],
        ),
    ):
        if not changes:
            continue
        stmt = insert(table).values(changes)
        keys = [c for c in table.primary_key.columns]
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=keys, set_={"value": table.c.value + stmt.excluded.value})
        )


async def clear_projections(conn: AsyncConnection) -> None:
    """Empty every projection, for a rebuild from the producers' logs."""
    names = ", ".join(f"metrics.{t.name}" for t in (processed_event, subject, counter_total, counter_daily))
    await conn.execute(text(f"TRUNCATE {names}"))
