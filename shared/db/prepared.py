"""Statements the hottest requests run, compiled once and run on the pooled connection's asyncpg connection.

SQLAlchemy's execution of a statement (the connection's events and options, the compiled cache, its cursor
adapter and the greenlet bridge, result processing) costs 50 to 200 us of CPU on top of asyncpg's own 15 us,
per statement. A ``Prepared`` statement is still built with SQLAlchemy's tables and types, and its values pass
through the dialect's own bind processors (JSON serialised as every other statement does), but it runs as
asyncpg's prepared statement directly, and its rows are asyncpg records.

Run one only where no SQLAlchemy transaction is open on the connection (a connection used for reads outside
a transaction, or in autocommit): the statement commits on its own. Constraint violations are raised as
SQLAlchemy's ``IntegrityError`` (a 409, as for every other statement); after any other failure (a lost
connection, a cancellation mid-statement) the connection is closed, and replaced at its next checkout
(``shared.db.engine``). While tracing is on, they run through SQLAlchemy, so each
still gets its span.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from shared import tracing


class Prepared:
    """A statement with values bound by name, compiled once per dialect (``$n`` placeholders in name order)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[int, tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]:
        found = self._compiled.get(id(dialect))
        if found is None:
            clause: Any = self.statement
            compiled = clause.compile(dialect=dialect)
            processors = compiled._bind_processors
            names = compiled.positiontup or []
            found = self._compiled[id(dialect)] = (compiled.string, [(n, processors.get(n)) for n in names])
        return found

    def _arguments(self, dialect: Dialect, values: Mapping[str, Any]) -> tuple[str, list[Any]]:
        sql, binds = self._for(dialect)
        return sql, [values[n] if process is None else process(values[n]) for n, process in binds]

    async def fetchrow(self, connection: AsyncConnection, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The first row, by column name, or None."""
        if tracing.enabled():
            found = (await (await _autocommit(connection)).execute(self.statement, values)).first()
            return None if found is None else as_record(found._mapping)
        return cast("Mapping[str, Any] | None", await self._run(connection, "fetchrow", values))

    async def execute(self, connection: AsyncConnection, values: Mapping[str, Any]) -> None:
        if tracing.enabled():
            await (await _autocommit(connection)).execute(self.statement, values)
            return
        await self._run(connection, "execute", values)

    async def _run(self, connection: AsyncConnection, method: str, values: Mapping[str, Any]) -> Any:
        sql, arguments = self._arguments(connection.dialect, values)
        raw = driver(connection)
        try:
            return await getattr(raw, method)(sql, *arguments)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(sql, arguments, exc) from exc
        except asyncpg.DataError:
            raise  # the server refused the values: the connection is as it was
        except asyncpg.PostgresError:
            raw.terminate()  # a server going away, say: closed now, replaced at its next checkout (shared.db.engine)
            raise
        except Exception as exc:
            # The connection failed under the statement: lost, as SQLAlchemy reports it (a 503 that says so).
            raw.terminate()
            raise OperationalError(sql, arguments, exc, connection_invalidated=True) from exc
        except BaseException:
            raw.terminate()  # cancelled mid-statement: in no state to be used again
            raise


def as_record(mapping: Mapping[Any, Any]) -> Mapping[str, Any]:
    """A row of SQLAlchemy's by column name, as a prepared statement's rows are read."""
    return cast("Mapping[str, Any]", mapping)


def driver(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a connected SQLAlchemy one."""
    raw: Any = connection.sync_connection.connection  # type: ignore[union-attr]
    found: asyncpg.Connection = raw.driver_connection
    return found


async def _autocommit(connection: AsyncConnection) -> AsyncConnection:
    """As the statement runs without tracing: on the connection as it is, so committed on its own unless a
    transaction is open on it (a unit of work holding an ``Idempotency-Key`` claim), no BEGIN or ROLLBACK of its
    own. A connection in a transaction, even SQLAlchemy's bookkeeping one on an autocommit connection, may not
    change its isolation level."""
    if connection.in_transaction():
        return connection
    return await connection.execution_options(isolation_level="AUTOCOMMIT")
