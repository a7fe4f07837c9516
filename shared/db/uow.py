"""The unit of work: one transaction for the change and the events it emits.

Service functions open it with ``async with uow:``, stage rows and events,
and call ``await uow.commit()``; nothing else commits. Leaving the block
without committing rolls everything back, events included.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.bus import outbox
from shared.context import request_id
from shared.contracts.events import Envelope
from shared.contracts.events.envelope import Source
from shared.db.claims import take_claim
from shared.db.engine import session_factory


class UnitOfWork:
    session: AsyncSession

    def __init__(
        self,
        engine: AsyncEngine,
        outbox_table: Table | None = None,
        source: Source | None = None,
        actor: str | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._factory = session_factory(engine)
        self._outbox_table = outbox_table
        self._source = source
        self.actor = actor
        self._after_commit = after_commit
        """Called once a commit that wrote events went through: wakes the relays."""
        self._events: list[Envelope] = []
        self._depth = 0

    async def __aenter__(self) -> UnitOfWork:
        if self._depth == 0:
            self.session = self._factory()
            self._events = []
        self._depth += 1
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            # Detach first so that what was read stays readable after the block.
            self.session.expunge_all()
            await self.session.rollback()
            await self.session.close()
            self._events = []

    def emit(
        self,
        event_class: type[Envelope],
        *,
        subject_id: uuid.UUID,
        subject_version: int,
        payload: Any,
        partnership_id: uuid.UUID | None = None,
        partnership_ids: list[uuid.UUID] | None = None,
        neighbourhood_id: uuid.UUID | None = None,
    ) -> Envelope:
        if self._source is None:
            raise RuntimeError("this unit of work does not publish events")
        # Validated like a constructor call; the class fixes the type and version.
        event = event_class.model_validate(
            {
                "source": self._source,
                "subject_id": subject_id,
                "subject_version": subject_version,
                "partnership_id": partnership_id,
                "partnership_ids": partnership_ids,
                "neighbourhood_id": neighbourhood_id,
                "request_id": request_id.get(),
                "actor": self.actor,
                "payload": payload,
            }
        )
        self._events.append(event)
        return event

    async def commit(self) -> None:
        await take_claim(self.session, self._events)
        wrote = bool(self._events)
        if wrote:
            assert self._outbox_table is not None
            await outbox.write(self.session, self._outbox_table, self._events)
        await self.session.commit()
        self._events = []
        if wrote and self._after_commit is not None:
            self._after_commit()
