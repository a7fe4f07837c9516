"""Async PostgreSQL access: one engine per process, sessions, the unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

import orjson
from sqlalchemy import DateTime, MetaData, bindparam, event, func, select, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import Field

from shared import tracing
from shared.clock import utc_now
from shared.errors import NotFound
from shared.settings import Settings

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """The SQLAlchemy asyncpg form of a PostgreSQL URL."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("only PostgreSQL URLs are supported")


def plain_url(url: str) -> str:
    """The libpq/asyncpg form of a PostgreSQL URL."""
    return "postgresql://" + async_url(url)[len("postgresql+asyncpg://") :]


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


_engines: dict[str, AsyncEngine] = {}


KEEPALIVES = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
"""PostgreSQL finds a client that vanished (its machine gone, the network cut) within about 25 s, not the system's
two hours, and ends its session: a transaction it left open after writing to an outbox stops holding up the events
after it (the relays publish in outbox order). Set once per connection, not as startup parameters, which a
connection pooler may refuse; ignored on a Unix socket."""


UNHURRIED = text("SET LOCAL idle_in_transaction_session_timeout = 0")
"""For a transaction that may rightly sit idle longer than ``db_idle_in_transaction_s`` (a lock held while other
connections do the work, an upload read between its writes): the server leaves this one transaction alone."""


def _session_settings(settings: Settings) -> Callable[..., None]:
    """Each new pooled connection's settings: ``KEEPALIVES`` and ``db_idle_in_transaction_s``."""
    statements = (
        f"{KEEPALIVES}; SET idle_in_transaction_session_timeout = {round(settings.db_idle_in_transaction_s * 1000)}"
    )

    def on_connect(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.run_async(lambda driver: driver.execute(statements))  # one round trip, several statements

    return on_connect


def _replace_if_closed(dbapi_connection: Any, *_: Any) -> None:
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def get_engine(settings: Settings) -> AsyncEngine:
    url = async_url(settings.resolved_database_url())
    engine = _engines.get(url)
    if engine is None:
        # No ping on checkout (three round trips per request). A connection the server closed (a restart, an
        # administrator) is known locally and replaced at checkout; one that fails its first statement is
        # discarded with every connection older than it, the request answers 503 with Retry-After
        # (shared/errors.py), and the next ones connect afresh.
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_timeout_s,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"timeout": settings.db_timeout_s, "command_timeout": 60},
        )
        event.listen(engine.sync_engine, "connect", _session_settings(settings))
        event.listen(engine.sync_engine, "checkout", _replace_if_closed)
        tracing.instrument_engine(engine)
        _engines[url] = engine
    return engine


def open_engines() -> list[AsyncEngine]:
    return list(_engines.values())


async def dispose_engines() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()
    _factories.clear()
    _autocommitting.clear()


_factories: dict[tuple[int, bool], async_sessionmaker[AsyncSession]] = {}
_autocommitting: dict[int, AsyncEngine] = {}


def autocommitting(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` whose connections commit each statement on their own (no BEGIN or COMMIT round trips); made once
    for the process's engines."""
    found = _autocommitting.get(id(engine))
    if found is None:
        found = engine.execution_options(isolation_level="AUTOCOMMIT")
        if any(kept is engine for kept in _engines.values()):
            _autocommitting[id(engine)] = found
    return found


def session_factory(engine: AsyncEngine, *, autocommit: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions of ``engine`` (made once for the process's engines, those of ``get_engine``). ``autocommit``: each
    statement commits on its own, with no BEGIN or COMMIT round trips, for work whose only change is one statement."""
    key = (id(engine), autocommit)
    factory = _factories.get(key)
    if factory is None:
        bind = autocommitting(engine) if autocommit else engine
        factory = async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False, autoflush=False)
        if any(kept is engine for kept in _engines.values()):
            _factories[key] = factory
    return factory


async def once_per_session(session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """What ``load()`` reads, read once per session: a request that evaluates many audits reads rows that are the
    same for all of them (the days recommendations were implemented, the category map) only once. The session
    is one request's, so the rows cannot be older than the request."""
    if key not in session.info:
        session.info[key] = await load()
    found: T = session.info[key]
    return found


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def timestamp_field() -> Any:
    """A ``created_at``/``updated_at`` column of a SQLModel table: UTC, set by Python and by the server."""
    return Field(
        default_factory=utc_now,
        sa_type=DateTime(timezone=True),  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": func.now()},
        nullable=False,
    )


_by_id: dict[tuple[Any, bool], Any] = {}


async def get_row(session: AsyncSession, model: Any, id_: uuid.UUID, *, for_update: bool = False) -> Any:
    """The row of ``model`` with this id, locked for update if asked, or None."""
    stmt = _by_id.get((model, for_update))
    if stmt is None:  # built once per model: building a statement costs about as much as running it
        stmt = select(model).where(model.id == bindparam("id"))
        if for_update:
            stmt = stmt.with_for_update()
        _by_id[(model, for_update)] = stmt
    return (await session.execute(stmt, {"id": id_})).scalars().first()


async def get_or_404(session: AsyncSession, model: Any, id_: uuid.UUID, what: str, *, for_update: bool = False) -> Any:
    """The row of ``model`` with this id, or a 404 problem naming ``what`` was not found."""
    row = await get_row(session, model, id_, for_update=for_update)
    if row is None:
        raise NotFound(f"{what} {id_} not found")
    return row


async def existing_ids(session: AsyncSession, model: Any, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` name a row of ``model``."""
    wanted = list(ids)
    if not wanted:
        return set()
    return set((await session.execute(select(model.id).where(model.id.in_(wanted)))).scalars().all())
