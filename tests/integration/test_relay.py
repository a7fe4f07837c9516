"""The relay's order over one outbox: a position still committing holds back the rows after it, one rolled back
does not, and several relays publish each row once, in the outbox's order; the expand step that brought the
relay's mark starts it where the release before stopped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import orjson
import pytest
from alembic import command
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus.outbox import publication_sql
from shared.bus.relay import Relay
from shared.bus.wake import Waker, wake_channel
from shared.db.engine import plain_url
from shared.settings import get_settings
from tests.integration.test_bus import factories_event
from tests.integration.test_rolling_deploy import _audits_migrations

INSERT = "INSERT INTO audits.outbox (id, type, version, subject_id, envelope) VALUES ($1, $2, 1, $3, $4::jsonb)"


Connect = Callable[[], Awaitable[asyncpg.Connection]]


@pytest.fixture
async def connect(clean: None) -> AsyncIterator[Connect]:
    """A connection to the test database; each call of the fixture's value opens one more, closed after."""
    url = plain_url(get_settings().resolved_database_url())
    opened: list[asyncpg.Connection] = []

    async def opener() -> asyncpg.Connection:
        opened.append(await asyncpg.connect(url))
        return opened[-1]

    yield opener
    for conn in opened:
        await conn.close()


async def _write(conn: asyncpg.Connection) -> uuid.UUID:
    """One event into the outbox, on ``conn`` (inside its transaction, if one is open); its id."""
    event = factories_event(uuid.uuid4())
    await conn.execute(INSERT, event.id, event.type, event.subject_id, event.to_json().decode())
    return event.id


async def _stream_ids(redis: Redis, stream: str) -> list[uuid.UUID]:
    return [uuid.UUID(orjson.loads(fields[b"event"])["id"]) for _, fields in await redis.xrange(stream)]


def _relay(redis: Redis, batch: int = 500) -> Relay:
    settings = get_settings()
    return Relay(settings.resolved_database_url(), redis, "audits", settings.stream("audits"), batch=batch)


async def test_a_lower_position_committing_late_goes_out_before_the_rows_after_it(
    connect: Connect, redis: Redis
) -> None:
    relay_conn, late, early = await connect(), await connect(), await connect()
    relay = _relay(redis)
    late_tx = late.transaction()
    await late_tx.start()
    first = await _write(late)  # takes the lower position, commits last
    second = await _write(early)
    assert await relay.drain(relay_conn) == 0  # the lower position may still commit: nothing after it goes out
    await late_tx.commit()
    assert await relay.drain(relay_conn) == 2
    assert await _stream_ids(redis, get_settings().stream("audits")) == [first, second]
    publication = await relay_conn.fetchrow(publication_sql("audits"))
    assert (publication["published"], publication["unpublished"]) == (publication["last"], 0)


async def test_a_rolled_back_position_is_passed_over_once_its_transaction_ended(connect: Connect, redis: Redis) -> None:
    relay_conn, rolled_back, committed, later, elsewhere = [await connect() for _ in range(5)]
    relay = _relay(redis)
    doomed = rolled_back.transaction()
    await doomed.start()
    await _write(rolled_back)
    kept = await _write(committed)
    assert await relay.drain(relay_conn) == 0  # while it runs, its position may yet commit
    await doomed.rollback()
    # Open beside the relay: a writer that began after the row past the hole, and one on another outbox.
    # Neither can hold the hole's position.
    opened = [later.transaction(), elsewhere.transaction()]
    for transaction in opened:
        await transaction.start()
    await _write(later)
    await elsewhere.execute("INSERT INTO events.outbox SELECT * FROM audits.outbox LIMIT 0")
    try:
        assert await relay.drain(relay_conn) == 1
    finally:
        for transaction in opened:
            await transaction.rollback()
    assert await _stream_ids(redis, get_settings().stream("audits")) == [kept]
    assert (await relay_conn.fetchrow(publication_sql("audits")))["unpublished"] == 0


async def test_several_relays_publish_each_row_once_in_the_outbox_order(connect: Connect, redis: Redis) -> None:
    writer = await connect()
    ids = [await _write(writer) for _ in range(40)]
    relays = [_relay(redis, batch=3) for _ in range(3)]
    connections = [await connect() for _ in relays]

    async def drain_until_empty(relay: Relay, conn: asyncpg.Connection) -> None:
        for _ in range(100):  # 14 batches of 3 between them
            if not (await conn.fetchrow(publication_sql("audits")))["unpublished"]:
                return
            await relay.drain(conn)
            await asyncio.sleep(0)

    await asyncio.gather(*(drain_until_empty(r, c) for r, c in zip(relays, connections, strict=True)))
    assert await _stream_ids(redis, get_settings().stream("audits")) == ids
    assert sum(r.published for r in relays) == 40


async def test_the_expand_step_starts_the_mark_below_the_first_row_the_release_before_left_unmarked(
    engine: AsyncEngine, connect: Connect, redis: Redis
) -> None:
    migrations = _audits_migrations(engine.url.render_as_string(hide_password=False))
    await asyncio.to_thread(command.downgrade, migrations, "audits0503")  # the release before: no mark
    try:
        writer = await connect()
        ids = [await _write(writer) for _ in range(5)]
        marked = [ids[0], ids[1], ids[3]]  # as that release's relays left them: one row in between still pending
        await writer.execute("UPDATE audits.outbox SET published_at = now() WHERE id = ANY($1::uuid[])", marked)
    finally:
        await asyncio.to_thread(command.upgrade, migrations, "heads")
    assert await _relay(redis).drain(await connect()) == 3  # the fourth goes out again: a duplicate, absorbed
    assert await _stream_ids(redis, get_settings().stream("audits")) == ids[2:]


async def test_a_commit_that_failed_after_taking_its_positions_wakes_the_relay_to_pass_them(
    connect: Connect, redis: Redis, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later commit's row waits behind the position of a unit of work still committing; when that commit fails
    instead, its unit of work wakes the relay after the rollback, so the row goes out then, not at the next poll
    (out of reach here)."""
    from services.audits.tables import outbox
    from shared.contracts.events.audits import PartnershipCreated
    from shared.db.uow import UnitOfWork

    settings = get_settings()
    stream = settings.stream("audits")
    waker = Waker(redis, wake_channel(stream))
    relay = Relay(settings.resolved_database_url(), redis, "audits", stream, poll_s=120)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    inserted, release = asyncio.Event(), asyncio.Event()

    async def failing_write() -> None:
        uow = UnitOfWork(engine, outbox, "audits", after_commit=waker.wake)
        async with uow:
            pid = uuid.uuid4()
            payload = {"id": pid, "name": "P", "police_service": "WPS", "neighbourhood_ids": [], "status": "active"}
            uow.emit(PartnershipCreated, subject_id=pid, subject_version=1, payload=payload)

            async def commit_fails() -> None:  # its outbox row is written, in its open transaction
                inserted.set()
                await release.wait()
                raise ConnectionError("the database went away")

            monkeypatch.setattr(uow.session, "commit", commit_fails)
            await uow.commit()

    try:
        failing = asyncio.create_task(failing_write())
        await inserted.wait()
        kept = await _write(await connect())  # a later position, committed
        waker.wake()
        await asyncio.sleep(0.5)
        assert relay.published == 0  # behind a position that may still commit
        release.set()
        with pytest.raises(ConnectionError):
            await failing
        for _ in range(40):  # 2 s at most, against a poll of 120 s
            if relay.published:
                break
            await asyncio.sleep(0.05)
        assert await _stream_ids(redis, stream) == [kept]
    finally:
        stop.set()
        await running
