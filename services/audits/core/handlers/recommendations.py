"""Use cases for recommendations and their lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from services.audits.core.domain.lifecycle import TransitionRefused, check_transition, implemented_on_after
from services.audits.core.handlers.records import load
from services.audits.core.schemas import RecommendationCreate, RecommendationUpdate, TransitionCreate
from services.audits.core.store import repository
from services.audits.core.store.repository import ParentAudit
from services.audits.tables import Audit, Recommendation, RecommendationTransition
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.clock import utc_now
from shared.contracts.events.audits import RecommendationCreated, RecommendationStatusChanged, RecommendationUpdated
from shared.contracts.vocabulary import RecommendationStatus
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.errors import IllegalTransition, InvalidField, NotFound
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


@dataclass
class RecommendationView:
    """A recommendation with what a reader needs beside it."""

    recommendation: Recommendation
    audit: Audit | ParentAudit
    history: list[RecommendationTransition]


def _emit(uow: UnitOfWork, event: type, row: Recommendation, audit: Audit | ParentAudit, **extra: object) -> None:
    uow.emit(
        event,
        subject_id=row.id,
        subject_version=row.version,
        partnership_id=audit.partnership_id,
        neighbourhood_id=audit.neighbourhood_id,
        payload=state(row, **extra),
    )


def _check_expected_on(expected_on: date | None, audit: Audit | ParentAudit) -> None:
    if expected_on is not None and expected_on < audit.conducted_on:
        raise InvalidField(
            f"expected_on {expected_on} is before the audit ({audit.conducted_on})", field="body.expected_on"
        )


async def _view(uow: UnitOfWork, row: Recommendation, audit: Audit | ParentAudit) -> RecommendationView:
    history = await repository.history(uow.session, [row.id])
    return RecommendationView(row, audit, history.get(row.id, []))


async def get(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> RecommendationView:
    async with uow:
        row, audit = await _visible(uow, principal, id_)
        return await _view(uow, row, audit)


async def page(
    uow: UnitOfWork, principal: Principal, params: PageParams, **filters: Any
) -> tuple[list[RecommendationView], str | None]:
    """The recommendations of the partnerships this key sees, with the list's filters, each with its history."""
    async with uow:
        found, cursor = await repository.list_recommendations(
            uow.session, params, visible=principal.visible_partnerships(), **filters
        )
        history = await repository.history(uow.session, [r.id for r, _ in found])
    return [RecommendationView(r, a, history.get(r.id, [])) for r, a in found], cursor


async def _visible(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, *, for_update: bool = False
) -> tuple[Recommendation, Audit]:
    row: Recommendation = await load(uow, Recommendation, id_, for_update=for_update)
    audit: Audit = await load(uow, Audit, row.audit_id)
    principal.ensure_visible([audit.partnership_id], f"recommendation {id_}")
    return row, audit


async def create(
    uow: UnitOfWork,
    principal: Principal,
    audit_id: uuid.UUID,
    body: RecommendationCreate,
    read: Mapping[str, Any] | Literal["unread"] | None = "unread",
) -> tuple[RecommendationView, bool]:
    """``read``: the audit's row as the request read it with its key (``repository.PARENT_AUDIT``), if it did."""
    # No lock on the audit: the foreign key already keeps a concurrent delete from orphaning the row,
    # and recommendations of one audit are added in parallel. So no transaction either: the row and its
    # event are one statement.
    async with uow.one_statement():
        if read == "unread":
            audit = await repository.parent_audit(uow, audit_id)
        else:
            audit = None if read is None else ParentAudit(**read)
        if audit is None:
            raise NotFound(f"audit {audit_id} not found")
        principal.ensure_visible([audit.partnership_id], f"audit {audit_id}")
        principal.require_write(audit.partnership_id)
        sent = {"audit_id": audit.id, **body.model_dump(exclude={"id"})}

        async def owners(row: Recommendation) -> list[uuid.UUID]:
            """Judged by the audit the stored recommendation belongs to, not the one in the path."""
            parent: Audit = await load(uow, Audit, row.audit_id)
            return [parent.partnership_id]

        if body.id is not None and (
            existing := await replayed(
                uow.session, principal, Recommendation, body.id, sent, what="recommendation", owners=owners
            )
        ):
            return await _view(uow, existing, audit), False
        _check_expected_on(body.expected_on, audit)
        now = utc_now()  # given, not left to the fields' factories, which pydantic inspects on every construction
        row = Recommendation(
            id=body.id or uuid.uuid4(),
            audit_id=audit.id,
            status=RecommendationStatus.proposed,
            created_at=now,
            updated_at=now,
            **body.model_dump(exclude={"id"}),
        )
        uow.add(row)
        _emit(uow, RecommendationCreated, row, audit)
        await uow.commit()
        return RecommendationView(row, audit, []), True


async def update(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, body: RecommendationUpdate, if_match: str | None
) -> RecommendationView:
    async with uow:
        row, audit = await _visible(uow, principal, id_, for_update=True)
        principal.require_write(audit.partnership_id)
        check_if_match(if_match, row.version)
        _check_expected_on(body.expected_on, audit)
        if apply_changes(row, body.model_dump(exclude_unset=True)):
            _emit(uow, RecommendationUpdated, row, audit)
            await uow.commit()
        return await _view(uow, row, audit)


async def transition(
    uow: UnitOfWork, principal: Principal, id_: uuid.UUID, body: TransitionCreate, if_match: str | None, *, today: date
) -> RecommendationView:
    """A step of the lifecycle, on a day no later than ``today`` (the programme's local today)."""
    async with uow:
        row, audit = await _visible(uow, principal, id_, for_update=True)
        principal.require_write(audit.partnership_id)
        check_if_match(if_match, row.version)
        current = RecommendationStatus(row.status)
        last_on = await repository.last_transition_on(uow.session, row.id)
        try:
            check_transition(current, body.to, body.on, last_on, today, audit_on=audit.conducted_on)
        except TransitionRefused as refused:
            if refused.field == "to":
                raise IllegalTransition(str(refused), field="body.to") from refused
            raise InvalidField(str(refused), field=f"body.{refused.field}") from refused
        apply_changes(
            row,
            {
                "status": body.to,
                "implemented_on": implemented_on_after(body.to, body.on),
                "status_note": body.note,
            },
        )
        uow.session.add(
            RecommendationTransition(
                recommendation_id=row.id,
                from_status=current,
                to_status=body.to,
                on=body.on,
                note=body.note,
                actor=principal.actor,
            )
        )
        _emit(uow, RecommendationStatusChanged, row, audit, **{"from": current, "to": body.to, "on": body.on})
        await uow.commit()
        return await _view(uow, row, audit)
