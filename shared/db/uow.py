"""The unit of work: one transaction for the change and the events it emits.

Service functions open it with ``async with uow:``, stage rows and events,
and call ``await uow.commit()``; nothing else commits. Leaving the block
without committing rolls everything back, events included.

A create whose reads need no lock opens it with ``async with uow.one_statement():``:
its reads run outside a transaction and its commit is one statement (the new
rows and their events), atomic on its own, so the BEGIN and COMMIT round
trips are saved. Under READ COMMITTED a read inside a
transaction without a lock sees nothing more stable than one outside it.
Such a unit holds one pooled connection in autocommit; its reads by ``fetchrow``
and its commit run there as prepared statements (``shared.db.prepared``), and
the ORM session is opened on the same connection only when something asks for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.bus import outbox
from shared.context import request_id
from shared.contracts.events import Envelope
from shared.contracts.events.envelope import Source
from shared.db.claims import current_claim, take_claim
from shared.db.engine import autocommitting, session_factory
from shared.db.prepared import Prepared, as_record


class UnitOfWork:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox_table: Table | None = None,
        source: Source | None = None,
        actor: str | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._outbox_table = outbox_table
        self._source = source
        self.actor = actor
        self._after_commit = after_commit
        """Called once a commit that wrote events went through, or after the rollback of one that failed: wakes
        the relays, which publish the rows, or pass the outbox positions the rollback left empty at once instead
        of at their next poll (a later commit's rows wait behind such a position while its writer is open)."""
        self._positions_taken = False
        self._events: list[Envelope] = []
        self._new: list[Any] = []
        self._session: AsyncSession | None = None
        self._connection: AsyncConnection | None = None
        self._depth = 0
        self._one_statement = False

    def one_statement(self) -> UnitOfWork:
        """For ``async with``: reads without a transaction, then a commit of new rows only, in one statement.

        A request holding an ``Idempotency-Key`` keeps the transaction: its claim is a statement of its own, which
        must commit with the change or refuse it."""
        if self._depth == 0:
            self._one_statement = current_claim.get() is None
        return self

    async def __aenter__(self) -> UnitOfWork:
        if self._depth == 0:
            if self._one_statement:
                self._connection = await autocommitting(self._engine).connect()
            else:
                self._session = session_factory(self._engine)()
            self._events, self._new = [], []
        self._depth += 1
        return self

    @property
    def session(self) -> AsyncSession:
        """The ORM session of the unit (in the one-statement mode, opened on its connection when first asked for)."""
        if self._session is None:
            if self._connection is None:
                raise RuntimeError("the unit of work is not open")
            self._session = AsyncSession(bind=self._connection, expire_on_commit=False, autoflush=False)
        return self._session

    async def fetchrow(self, statement: Prepared, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The statement's first row by column name, or None: a prepared statement on the one-statement mode's
        connection, else in the session's transaction."""
        if self._connection is not None:
            return await statement.fetchrow(self._connection, values)
        found = (await self.session.execute(statement.statement, values)).first()
        return None if found is None else as_record(found._mapping)

    def add(self, row: Any) -> None:
        """A new row to insert with the commit."""
        if self._one_statement:
            self._new.append(row)
        else:
            self.session.add(row)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            session, connection, self._session, self._connection = self._session, self._connection, None, None
            try:
                if session is not None:
                    # Detach first so that what was read stays readable after the block.
                    session.expunge_all()
                    await session.rollback()
                    await session.close()
                if connection is not None:
                    await connection.close()
            finally:
                if self._positions_taken and self._after_commit is not None:
                    self._after_commit()  # a commit that wrote events failed: its positions are settled now
                self._events, self._new = [], []
                self._one_statement = self._positions_taken = False

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
        if self._one_statement:
            await self._commit_one_statement()
            return
        wrote = bool(self._events)
        rows = _new_rows(self.session) if wrote else []
        await take_claim(self.session, self._events)
        if wrote:
            assert self._outbox_table is not None
            self._positions_taken = True
            # New rows alone (a create) go in the outbox's statement; other changes are flushed by the commit.
            await outbox.write(self.session, self._outbox_table, self._events, [_values(row) for row in rows])
            for row in rows:
                self.session.expunge(row)
        await self.session.commit()
        self._events, self._positions_taken = [], False
        if wrote and self._after_commit is not None:
            self._after_commit()

    async def _commit_one_statement(self) -> None:
        session = self._session
        touched = session is not None and bool(session.new or session.dirty or session.deleted)
        if not self._events or not self._new or touched or not all(_insertable(row) for row in self._new):
            raise RuntimeError("a one-statement unit of work commits new rows and their events only")
        rows = [_values(row) for row in self._new]
        assert self._outbox_table is not None and self._connection is not None
        self._positions_taken = True
        await outbox.write(self._connection, self._outbox_table, self._events, rows)
        self._events, self._new, self._positions_taken = [], [], False
        if self._after_commit is not None:
            self._after_commit()


def _new_rows(session: AsyncSession) -> list[Any]:
    """The session's pending rows when they are all it holds, each on one table with its key set; else none."""
    rows = list(session.new)
    if session.dirty or session.deleted or not all(_insertable(row) for row in rows):
        return []
    return rows


def _insertable(row: Any) -> bool:
    """A row of one table with its key set: its INSERT can be a CTE of the outbox's statement."""
    mapper = inspect(row).mapper
    return len(mapper.tables) == 1 and None not in mapper.primary_key_from_instance(row)


def _values(row: Any) -> tuple[Table, dict[str, Any]]:
    """What the ORM would INSERT for a new row, by column: the attributes set, None left out unless the column
    stores it (JSON's null)."""
    state = inspect(row)
    values = {}
    for prop in state.mapper.column_attrs:
        column = prop.columns[0]
        if prop.key in state.dict and (state.dict[prop.key] is not None or column.type.should_evaluate_none):
            values[column.key] = state.dict[prop.key]
    return state.mapper.local_table, values
