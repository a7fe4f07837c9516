"""Request dependencies and response conventions every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.keys import ReaderKey
from shared.clock import Clock
from shared.contracts.events.envelope import Source
from shared.db.engine import session_factory
from shared.db.uow import UnitOfWork
from shared.web.versioning import set_etag


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_factory(request.app.state.engine)() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(read_session)]


async def reading_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_factory(request.app.state.engine, autocommit=True)() as session:
        yield session


ReadingSessionDep = Annotated[AsyncSession, Depends(reading_session)]
"""For routes that only read: each statement runs on its own, with no BEGIN or ROLLBACK round trips. Under READ
COMMITTED each statement of a transaction sees a snapshot of its own anyway, so the answers are the same. A read
that needs one snapshot for several statements, a lock or a cursor takes ``SessionDep``."""


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock  # set once by the app factory
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
"""The app's clock: now, and today in the programme's local time zone."""
IfMatch = Annotated[str | None, Header(description="ETag of the version being changed; 412 when stale")]


def unit_of_work(outbox: Table, source: Source) -> Callable[..., Awaitable[UnitOfWork]]:
    """The ``UowDep`` dependency of a producing service: a unit of work writing to its outbox."""

    async def get_uow(request: Request, principal: ReaderKey) -> UnitOfWork:
        state = request.app.state  # one waker per app (see the app factory): its in-flight wake coalesces commits
        return UnitOfWork(state.engine, outbox, source, actor=principal.actor, after_commit=state.relay_waker.wake)

    return get_uow


def created(response: Response, location: str, version: int, was_created: bool) -> None:
    """201 with Location for a new record; 200 when a client-chosen id already existed."""
    response.status_code = 201 if was_created else 200
    response.headers["Location"] = location
    set_etag(response, version)
