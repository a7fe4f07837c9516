"""Use cases for community and special events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from services.events.programme.directory import Directory
from services.events.programme.domain.schedule import RuleBroken, check_status, check_times, local_bounds, to_utc
from services.events.programme.handlers.places import check_places
from services.events.programme.schemas import EventCreate, EventUpdate
from services.events.programme.store import queries
from services.events.records import check_period, load
from services.events.tables import CommunityEvent
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.clock import Clock
from shared.contracts.events.events import EventCancelled, EventCreated, EventDeleted, EventUpdated
from shared.contracts.vocabulary import EventStatus
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.errors import IllegalTransition, InvalidField
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


def _emit(uow: UnitOfWork, event: type, row: CommunityEvent) -> None:
    uow.emit(
        event,
        subject_id=row.id,
        subject_version=row.version,
        partnership_ids=list(row.partnership_ids),
        neighbourhood_id=row.neighbourhood_id,
        payload=state(row),
    )


def _checked(fields: dict[str, Any], current: EventStatus | None, now: datetime) -> dict[str, Any]:
    """Times in UTC, the rules applied; raises a problem naming the field."""
    for name in ("starts_at", "ends_at"):
        if fields.get(name) is not None:
            fields[name] = to_utc(fields[name])
    try:
        check_times(fields["starts_at"], fields.get("ends_at"))
        check_status(current, EventStatus(fields["status"]), fields["starts_at"], now)
    except RuleBroken as broken:
        if broken.conflict:
            raise IllegalTransition(str(broken), field=f"body.{broken.field}") from broken
        raise InvalidField(str(broken), field=f"body.{broken.field}") from broken
    fields["partnership_ids"] = list(dict.fromkeys(fields["partnership_ids"]))
    return fields


async def visible(uow: UnitOfWork, principal: Principal, id_: uuid.UUID, *, for_update: bool = False) -> CommunityEvent:
    """The event, or 404 for a key that may see none of its partnerships."""
    row: CommunityEvent = await load(uow, CommunityEvent, id_, for_update=for_update)
    principal.ensure_visible(row.partnership_ids, f"event {id_}")
    return row


async def read(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> CommunityEvent:
    async with uow:
        return await visible(uow, principal, id_)


async def listing(
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    clock: Clock,
    *,
    start: date | None,
    end: date | None,
    **filters: Any,
) -> tuple[Sequence[CommunityEvent], str | None]:
    """Events the key may see that start within the local days ``start``..``end``."""
    check_period(start, end)
    after, before = local_bounds(start, end, clock.zone_name)
    visible_to = None if principal.sees_all() else principal.partnership_ids
    async with uow:
        return await queries.list_events(
            uow.session, page, visible=visible_to, starts_after=after, starts_before=before, **filters
        )


async def _owners(row: CommunityEvent) -> list[uuid.UUID]:
    return list(row.partnership_ids)


async def create(
    uow: UnitOfWork, principal: Principal, directory: Directory, body: EventCreate, clock: Clock
) -> tuple[CommunityEvent, bool]:
    principal.require_write_any(body.partnership_ids)
    async with uow:
        sent = body.model_dump(exclude={"id"}) | {"partnership_ids": list(dict.fromkeys(body.partnership_ids))}
        if existing := await replayed(
            uow.session, principal, CommunityEvent, body.id, sent, what="event", owners=_owners
        ):
            return existing, False
        fields = _checked(body.model_dump(exclude={"id"}), None, clock.now())
        await check_places(directory, fields["partnership_ids"], fields["neighbourhood_id"])
        row = CommunityEvent(id=body.id or uuid.uuid4(), **fields)
        uow.session.add(row)
        _emit(uow, EventCreated, row)
        await uow.commit()
    return row, True


async def update(
    uow: UnitOfWork,
    principal: Principal,
    directory: Directory,
    id_: uuid.UUID,
    body: EventUpdate,
    if_match: str | None,
    clock: Clock,
) -> CommunityEvent:
    changes = body.model_dump(exclude_unset=True)
    async with uow:
        row = await visible(uow, principal, id_, for_update=True)
        principal.require_write_any(row.partnership_ids)
        check_if_match(if_match, row.version)
        merged = _checked(state(row) | changes, EventStatus(row.status), clock.now())
        changes = {k: merged[k] for k in changes}
        if "partnership_ids" in changes:
            principal.require_write_any(changes["partnership_ids"])
        added = set(merged["partnership_ids"]) - set(row.partnership_ids)
        if added or changes.get("neighbourhood_id") not in (None, row.neighbourhood_id):
            await check_places(directory, added, changes.get("neighbourhood_id"))
        was_cancelled = row.status == EventStatus.cancelled
        if apply_changes(row, changes):
            cancelled = row.status == EventStatus.cancelled and not was_cancelled
            _emit(uow, EventCancelled if cancelled else EventUpdated, row)
            await uow.commit()
    return row


async def delete(uow: UnitOfWork, principal: Principal, id_: uuid.UUID, if_match: str | None) -> None:
    async with uow:
        row = await visible(uow, principal, id_, for_update=True)
        principal.require_write_any(row.partnership_ids)
        check_if_match(if_match, row.version)
        row.version += 1
        _emit(uow, EventDeleted, row)
        await uow.session.delete(row)
        await uow.commit()
