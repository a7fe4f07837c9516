"""The change feed and the one rule of who sees which event.

``GET /v1/changes`` serves a producer's event log to any reading key, which
sees only the events of records it may read. Every way an event leaves the
platform for a client (this feed, webhooks) goes through ``Readership``, so
the rule lives here once:

- events of reference data (neighbourhoods, materials, distributions,
  trainings) are seen by every reading key, as their records are;
- an event naming partnerships is seen by the keys that see one of them;
- an audit request is seen as the records API shows it: by its partnership,
  by the partnerships working in its neighbourhood, and by every editor
  while it is neither assigned nor placed.

The payloads are the records' states as the records API shows them to a key
(the requester's contact of an audit request is never in an event); who made
a change (``actor``) is shown to admins only, as in the audit trail.

The cursor is the position of the last event looked at. At the end of the
log the answer carries the cursor that was sent: call again with it to get
what came since. ``waiting: true`` means an earlier position may still be
committing (see ``shared.bus.outbox.read_log``): call again shortly, with the
cursor given.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Annotated, Any, TypeVar, Union

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Discriminator, Field, Tag
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.keys import Principal, ReaderKey, Scope, partnerships_seen
from shared.bus.outbox import read_log
from shared.contracts.events import Envelope
from shared.contracts.events import audits as audit_events
from shared.contracts.events import events as engagement_events
from shared.contracts.events.envelope import Source
from shared.errors import InvalidField
from shared.web.http import SessionDep

REFERENCE_KINDS = frozenset({"neighbourhood", "material", "distribution", "training"})
ADMIN_ONLY_FIELDS = ("actor",)
MAX_LIMIT = 1000
MAX_POSITION = 2**62


def _catalogue(module: ModuleType) -> list[type[Envelope]]:
    return sorted(
        (v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Envelope) and v is not Envelope),
        key=lambda cls: (_type_of(cls), _version_of(cls)),
    )


def _type_of(cls: type[Envelope]) -> str:
    return str(cls.model_fields["type"].default)


def _version_of(cls: type[Envelope]) -> int:
    return int(cls.model_fields["version"].default)


CATALOGUES: dict[Source, list[type[Envelope]]] = {
    "audits": _catalogue(audit_events),
    "events": _catalogue(engagement_events),
}


def event_types(sources: Iterable[Source]) -> list[str]:
    """The event types the given producers publish, sorted."""
    return sorted({_type_of(cls) for source in sources for cls in CATALOGUES[source]})


def parse_types(raw: list[str] | None, known: Iterable[str], field: str = "query.types") -> frozenset[str] | None:
    """``types`` given comma-separated, repeated, or both; None for every type. Unknown types are refused."""
    if not raw:
        return None
    wanted = {t.strip() for value in raw for t in value.split(",") if t.strip()}
    unknown = sorted(wanted - set(known))
    if unknown:
        raise InvalidField(
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}", field=field
        )
    return frozenset(wanted) or None


@dataclass(frozen=True)
class Readership:
    """Which events one key (or a webhook acting for it) may read."""

    partnerships: frozenset[uuid.UUID] | None
    """None: every partnership's."""
    neighbourhoods: frozenset[uuid.UUID] = frozenset()
    """Where the partnerships work: their audit requests are seen there too."""
    admin: bool = False

    def sees(self, event: dict[str, Any]) -> bool:
        kind = str(event.get("type", "")).partition(".")[0]
        if self.partnerships is None or kind in REFERENCE_KINDS:
            return True
        named = {_uuid(p) for p in event.get("partnership_ids") or []}
        if event.get("partnership_id"):
            named.add(_uuid(event["partnership_id"]))
        if named & self.partnerships:
            return True
        if kind == "audit_request":
            neighbourhood = event.get("neighbourhood_id")
            if neighbourhood is None:
                return not named
            return _uuid(neighbourhood) in self.neighbourhoods
        return False

    def shown(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event as this reader may see it."""
        if self.admin:
            return event
        return event | {k: None for k in ADMIN_ONLY_FIELDS if k in event}


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


Db = TypeVar("Db")
NeighbourhoodsOf = Callable[[Db, frozenset[uuid.UUID]], Awaitable[frozenset[uuid.UUID]]]
"""Where the given partnerships work, read with a session or a connection of the service's database."""


async def no_neighbourhoods(session: AsyncSession, partnerships: frozenset[uuid.UUID]) -> frozenset[uuid.UUID]:
    return frozenset()


async def readership(
    db: Db, scope: Scope, partnership_ids: Iterable[uuid.UUID], neighbourhoods_of: NeighbourhoodsOf[Db]
) -> Readership:
    """The readership of a key with this scope and these partnerships."""
    partnerships = partnerships_seen(scope, frozenset(partnership_ids))
    if partnerships is None:
        return Readership(None, admin=scope is Scope.admin)
    return Readership(partnerships, await neighbourhoods_of(db, partnerships) if partnerships else frozenset())


async def principal_readership(
    session: AsyncSession, principal: Principal, neighbourhoods_of: NeighbourhoodsOf[AsyncSession]
) -> Readership:
    principal.require_read()
    return await readership(session, principal.scope, principal.partnership_ids, neighbourhoods_of)


def _union(classes: Iterable[type[Envelope]]) -> Any:
    members = tuple(Annotated[cls, Tag(f"{_type_of(cls)}@{_version_of(cls)}")] for cls in classes)
    return Annotated[Union[members], Discriminator(_discriminate)]  # type: ignore[valid-type]  # noqa: UP007


def _event_union(source: Source) -> Any:
    return _union(CATALOGUES[source])


def any_event() -> Any:
    """Every event any producer publishes, typed by its ``type`` and ``version``."""
    return _union(cls for source in CATALOGUES for cls in CATALOGUES[source])


def _discriminate(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value.get('type')}@{value.get('version', 1)}"
    return f"{getattr(value, 'type', None)}@{getattr(value, 'version', 1)}"


@cache
def change_model(source: Source) -> type[BaseModel]:
    """``{position, event}`` with the event typed by its ``type`` and ``version``."""
    return type(
        f"{source.title()}Change",
        (BaseModel,),
        {
            "__annotations__": {"position": int, "event": _event_union(source)},
            "__doc__": "One event of the log, at its position.",
        },
    )


@cache
def change_page_model(source: Source) -> type[BaseModel]:
    """``{items, next_cursor, waiting}`` with every event of this producer typed by ``type`` and ``version``."""
    change = change_model(source)
    page = type(
        f"{source.title()}ChangePage",
        (BaseModel,),
        {
            "__annotations__": {"items": list[change], "next_cursor": str, "waiting": bool},  # type: ignore[valid-type]
            "next_cursor": Field(description="Send it back as `cursor`; at the end of the log it is the one sent"),
            "waiting": Field(description="An earlier event may still be committing: call again shortly"),
            "__doc__": "A page of the change feed.",
        },
    )
    return page


def parse_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_POSITION:
        raise InvalidField("cursor is not one this feed issued", field="query.cursor")
    return int(cursor)


def change_feed_router(
    table: Table, source: Source, neighbourhoods_of: NeighbourhoodsOf[AsyncSession] = no_neighbourhoods
) -> APIRouter:
    router = APIRouter(tags=["changes"])
    known = event_types([source])
    page_model = change_page_model(source)

    @router.get(
        "/v1/changes",
        summary="Every change, in order: the supported way for another system to follow this service",
        description="Events of the records this key may read, oldest first. Start without `cursor`, then send "
        "`next_cursor` back as `cursor`. At the end of the log `next_cursor` is the cursor sent and `items` is "
        "empty: call again later with it to receive what has happened since. `waiting: true` means an earlier "
        f"event may still be committing: call again shortly. Event types: {', '.join(known)}.",
        response_model=page_model,
    )
    async def changes(
        request: Request,
        session: SessionDep,
        principal: ReaderKey,
        cursor: Annotated[str | None, Query(max_length=20, description="next_cursor of the previous page")] = None,
        types: Annotated[
            list[str] | None, Query(description="Only these event types (comma-separated or repeated)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Events looked at per page")] = 200,
    ) -> Any:
        wanted = parse_types(types, known)
        after = parse_cursor(cursor)
        reader = await principal_readership(session, principal, neighbourhoods_of)
        gap_timeout = request.app.state.settings.log_gap_timeout_s
        page = await read_log(session, table, after, limit, gap_timeout)
        last = page.items[-1]["position"] if page.items else after
        items = [
            {"position": item["position"], "event": reader.shown(item["event"])}
            for item in page.items
            if (wanted is None or item["event"].get("type") in wanted) and reader.sees(item["event"])
        ]
        return {"items": items, "next_cursor": str(last), "waiting": page.waiting}

    return router
