"""``/v1/audit-trail``: who changed what, when, through which request. Read from the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Table, text

from shared.auth.keys import CurrentKey
from shared.contracts.fields import Instant, LogPosition
from shared.web.http import SessionDep
from shared.web.pagination import Page

IGNORED = frozenset({"id"})


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value differs, as ``{field: [before, after]}``."""
    before = before or {}
    keys = (set(before) | set(after)) - IGNORED
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


class TrailEntry(BaseModel):
    """One write: who made it, when, through which request, and what it changed."""

    occurred_at: datetime
    actor: str | None
    request_id: str | None
    type: str = Field(description="The event type, e.g. `recommendation.status_changed`")
    subject_id: uuid.UUID
    changes: dict[str, list[Any]] = Field(description="`{field: [before, after]}` for every field that changed")


def audit_trail_router(table: Table) -> APIRouter:
    router = APIRouter(tags=["audit trail"])
    schema = table.schema

    @router.get("/v1/audit-trail", summary="Every write, newest first: who, when, what changed (admin)")
    async def audit_trail(
        session: SessionDep,
        principal: CurrentKey,
        subject_id: uuid.UUID | None = None,
        actor: Annotated[str | None, Query(max_length=100)] = None,
        since: Instant | None = None,
        before_position: Annotated[LogPosition | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Page[TrailEntry]:
        principal.require_admin()
        rows = await session.execute(
            text(
                f"""
                SELECT o.position, o.envelope::text AS envelope, prev.envelope::text AS previous
                FROM {schema}.outbox o
                LEFT JOIN LATERAL (
                    SELECT p.envelope FROM {schema}.outbox p
                    WHERE p.subject_id = o.subject_id AND p.position < o.position
                    ORDER BY p.position DESC LIMIT 1
                ) prev ON true
                WHERE (CAST(:subject AS uuid) IS NULL OR o.subject_id = CAST(:subject AS uuid))
                  AND (CAST(:actor AS text) IS NULL OR o.envelope->>'actor' = CAST(:actor AS text))
                  AND (CAST(:since AS timestamptz) IS NULL OR o.created_at >= CAST(:since AS timestamptz))
                  AND (CAST(:before AS bigint) IS NULL OR o.position < CAST(:before AS bigint))
                ORDER BY o.position DESC
                LIMIT :limit
                """
            ),
            {"subject": subject_id, "actor": actor, "since": since, "before": before_position, "limit": limit + 1},
        )
        found = rows.all()
        items = [_entry(r.envelope, r.previous) for r in found[:limit]]
        next_cursor = str(found[limit - 1].position) if len(found) > limit else None
        return Page(items=items, next_cursor=next_cursor)

    return router


def _entry(envelope: str, previous: str | None) -> TrailEntry:
    event = orjson.loads(envelope)
    before = orjson.loads(previous)["payload"] if previous else None
    return TrailEntry(
        occurred_at=event["occurred_at"],
        actor=event.get("actor"),
        request_id=event.get("request_id"),
        type=event["type"],
        subject_id=event["subject_id"],
        changes=changes(before, event["payload"]),
    )
