"""Backing servers failing under the services: every such answer is a 503 problem+json with
``Retry-After`` and the true reason, never a 500, and nothing stays stuck once they are back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.embedded import EmbeddedRedis
from shared.auth.keys import Scope
from shared.settings import Settings, get_settings
from tests import factories
from tests.integration.conftest import client_for, new_key
from tests.integration.events import factories as event_factories
from tests.pgproxy import PgProxy
from tests.servers import free_port


@pytest.fixture
def settings() -> Iterator[Settings]:
    """The process settings, put back as they were after the test."""
    settings = get_settings()
    saved = settings.model_dump()
    yield settings
    for name, value in saved.items():
        setattr(settings, name, value)


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[PgProxy]:
    """The services' database reached through a proxy the test can take down; the server itself stays up."""
    proxy = await PgProxy(settings.resolved_database_url()).start()
    settings.database_url = proxy.url
    yield proxy
    await proxy.close()


def _unavailable(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail


async def _terminate(engine: AsyncEngine, proxy: PgProxy) -> int:
    """What an administrator or a fast restart does to the services' open connections."""
    async with engine.connect() as conn:
        ended = await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY(:ports)"),
            {"ports": list(proxy.upstream_ports)},
        )
        return len(ended.all())


async def test_a_database_restart_is_503_with_the_reason_then_every_request_succeeds(
    engine: AsyncEngine, clean: None, proxy: PgProxy
) -> None:
    from services.audits.app import create_app

    key = await new_key(engine, Scope.admin)
    async for api in client_for(create_app(), key):
        n = (await api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
        assert (await api.get("/v1/audits")).status_code == 200
        assert await _terminate(engine, proxy) > 0  # the server ends the pooled connections ...
        await proxy.set_mode("starting")  # ... and answers "starting up" while it comes back
        during = [
            await api.get("/v1/audits"),
            await api.post("/v1/partnerships", json=factories.partnership([n["id"]])),
            await api.get(f"/v1/neighbourhoods/{n['id']}"),
        ]
        for response in during:
            _unavailable(response, "database")
        await proxy.set_mode("down")
        for response in [
            await api.get("/v1/audits"),
            await api.post("/v1/neighbourhoods", json=factories.neighbourhood()),
        ]:
            _unavailable(response, "database")
        await proxy.set_mode("up")
        after = [await api.get("/v1/audits") for _ in range(5)]
        assert [r.status_code for r in after] == [200] * 5


async def test_an_exhausted_pool_says_so_also_under_the_idempotency_middleware(
    engine: AsyncEngine, clean: None, proxy: PgProxy, settings: Settings
) -> None:
    from services.audits.app import create_app

    settings.db_pool_size, settings.db_max_overflow, settings.db_timeout_s = 1, 0, 0.2
    key = await new_key(engine, Scope.admin)
    async for api in client_for(create_app(), key):
        assert (await api.get("/v1/audits")).status_code == 200
        own_engine = api._transport.app.state.engine  # type: ignore[attr-defined]
        async with own_engine.connect():  # the one connection is busy with someone else's work
            plain = await api.get("/v1/audits")
            keyed = await api.post(
                "/v1/neighbourhoods", json=factories.neighbourhood(), headers={"Idempotency-Key": "k"}
            )
        for response in (plain, keyed):
            _unavailable(response, "connection pool is exhausted")
        assert (
            await api.post("/v1/neighbourhoods", json=factories.neighbourhood(), headers={"Idempotency-Key": "k"})
        ).status_code == 201


@pytest.fixture
def own_redis(tmp_path: Path, settings: Settings) -> Iterator[EmbeddedRedis]:
    """A Redis of this test alone, so it can be killed without touching anyone else's."""
    server = EmbeddedRedis(tmp_path / "redis", appendonly=False)
    settings.redis_url = server.start()
    yield server
    server.stop()


async def test_with_redis_down_the_bus_routes_are_503_and_totals_still_answer(
    engine: AsyncEngine, clean: None, own_redis: EmbeddedRedis
) -> None:
    from services.metrics.app import create_app

    key = await new_key(engine, Scope.admin)
    async for api in client_for(create_app(), key):
        assert (await api.get("/v1/bus/dead-letters")).status_code == 200
        own_redis.stop()
        _unavailable(await api.get("/v1/bus/dead-letters"), "Redis")
        # TOTALS
        ready = await api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"].startswith("unavailable")


async def test_a_database_that_hangs_makes_readyz_answer_not_ready_in_time(
    engine: AsyncEngine, clean: None, proxy: PgProxy
) -> None:
    from services.audits.app import create_app

    async for api in client_for(create_app(), await new_key(engine, Scope.admin)):
        assert (await api.get("/readyz")).status_code == 200
        await proxy.set_mode("silent")
        # Each check has a few seconds; before, a hung database held the probe for the driver's 60 s timeout.
        ready = await asyncio.wait_for(api.get("/readyz"), 30)
        assert ready.status_code == 503 and ready.headers["retry-after"]
        assert ready.json()["checks"] == {"database": "unavailable: TimeoutError", "redis": "ok"}
        await proxy.set_mode("up")


async def test_a_503_from_the_audits_service_reaches_the_events_client_with_retry_after(
    engine: AsyncEngine, clean: None, settings: Settings
) -> None:
    from services.events.app import create_app

    settings.audits_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    key = await new_key(engine, Scope.admin)
    async for api in client_for(create_app(), key):
        response = await api.post("/v1/events", json=event_factories.event([str(_uuid())]))
        _unavailable(response, "audits service")


def _uuid() -> Any:
    import uuid

    return uuid.uuid4()


LOSE_THE_ANSWER = """
CREATE FUNCTION lose_answer() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
CREATE TRIGGER lose_answer BEFORE UPDATE ON audits.idempotency_key FOR EACH ROW EXECUTE FUNCTION lose_answer();
"""


async def test_a_key_whose_answer_was_lost_gets_the_committed_record_on_retry(
    engine: AsyncEngine, admin_key: str, settings: Settings
) -> None:
    from services.audits.app import create_app

    settings.idempotency_recover_after_s = 0
    async for api in client_for(create_app(), admin_key):
        n = (await api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
        p = (await api.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
        audit = (await api.post("/v1/audits", json=factories.audit(p["id"], n["id"]))).json()
        url = f"/v1/audits/{audit['id']}/recommendations"
        async with engine.begin() as conn:  # the database goes away between the commit and the stored answer
            for statement in LOSE_THE_ANSWER.strip().split(";\n"):
                await conn.execute(text(statement))
        try:
            first = await api.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "lost"})
        finally:
            async with engine.begin() as conn:
                await conn.execute(text("DROP TRIGGER lose_answer ON audits.idempotency_key"))
                await conn.execute(text("DROP FUNCTION lose_answer()"))
        assert first.status_code == 201
        async with engine.connect() as conn:
            stored = await conn.execute(text("SELECT status FROM audits.idempotency_key WHERE key = 'lost'"))
            assert stored.scalar_one() is None  # committed, answer never stored
        retries = [
            await api.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "lost"}) for _ in range(3)
        ]
        assert all(r.status_code in (200, 201) for r in retries), [r.text for r in retries]
        assert {r.json()["id"] for r in retries} == {first.json()["id"]}
        assert retries[2].content == retries[1].content
        assert all(r.headers["idempotent-replayed"] == "true" for r in retries)
        async with engine.connect() as conn:
            count = await conn.execute(text("SELECT count(*) FROM audits.recommendation"))
            assert count.scalar_one() == 1


async def test_liveness_is_answered_without_a_trip_through_the_event_loop(proxy: PgProxy) -> None:
    from services.metrics.app import create_app

    app = create_app()
    async with app.router.lifespan_context(app):
        await proxy.set_mode("down")  # no database either
        stop = asyncio.Event()
        steps = [0]
        workers = [asyncio.create_task(_busy(stop, steps)) for _ in range(50)]
        await asyncio.sleep(0)
        before = steps[0]
        sent: list[dict[str, Any]] = []
        await app(_get_scope("/healthz"), _empty_body, _collect(sent))
        during = steps[0] - before
        stop.set()
        await asyncio.gather(*workers)
        assert sent[0]["status"] == 200
        assert during == 0, f"{during} steps of other work ran before the liveness answer"


async def _busy(stop: asyncio.Event, steps: list[int]) -> None:
    """Other requests' work, each step queued behind the others'."""
    while not stop.is_set():
        steps[0] += 1
        await asyncio.sleep(0)


def _get_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [], "http_version": "1.1", "scheme": "http", "root_path": "",
        "server": ("test", 80), "client": ("test", 1),
    }  # fmt: skip


async def _empty_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _collect(sent: list[dict[str, Any]]) -> Any:
    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    return send


async def test_the_consumer_waits_out_a_restarting_database_instead_of_failing_the_events(
    engine: AsyncEngine, clean: None, proxy: PgProxy, redis: Any, settings: Settings
) -> None:
    from sqlalchemy.exc import DBAPIError

    from services.audits.app import create_app
    from services.metrics.projection.consumer import build_consumer
    from shared.db.engine import get_engine
    from tests.integration.test_log_watch import _relay_all

    key = await new_key(engine, Scope.admin)
    async for api in client_for(create_app(), key):
        await api.post("/v1/neighbourhoods", json=factories.neighbourhood())
    settings.database_url = os.environ["CPTED_DATABASE_URL"]  # the relay reaches the database directly ...
    await _relay_all(redis)
    settings.database_url = proxy.url  # ... the consumer through the proxy
    consumer = build_consumer(settings, get_engine(settings), redis)
    await consumer.ensure_groups()
    await proxy.set_mode("starting")
    await proxy.drop()
    with pytest.raises(DBAPIError):  # left pending for a retry, not counted as the event's failure
        await consumer.poll_once()
    assert await redis.xlen(settings.dead_letter_stream) == 0
    await proxy.set_mode("up")
    await consumer._drain_own_pending()  # what the consumer's run loop does on its next round
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM metrics.processed_event"))).scalar_one() == 1


async def test_the_server_finds_a_vanished_client_of_the_pool_in_seconds_not_hours(engine: AsyncEngine) -> None:
    """A pooled connection asks PostgreSQL to probe it after 10 s of silence, so a transaction an API process left
    open when its machine went away ends within about 25 s (on TCP; a Unix socket has no probes to ask for)."""
    async with engine.connect() as connection:
        idle = (await connection.execute(text("SHOW tcp_keepalives_idle"))).scalar_one()
        count = (await connection.execute(text("SHOW tcp_keepalives_count"))).scalar_one()
    assert (idle, count) == ("10", "3")


async def test_a_pooled_session_left_idle_in_its_transaction_is_ended_by_the_server(engine: AsyncEngine) -> None:
    """A process stuck between two statements of a transaction (its outbox position taken) would hold up every later
    event of the outbox: the server ends such a session after ``db_idle_in_transaction_s``. Shown here with the
    limit lowered for this one session: the connection's next statement finds its session gone."""
    async with engine.connect() as connection:
        limit = "SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'"
        assert (await connection.execute(text(limit))).scalar_one() == get_settings().db_idle_in_transaction_s * 1000
        await connection.execute(text("SET idle_in_transaction_session_timeout = 200"))
        await connection.execute(text("SELECT 1"))  # the transaction is open, the session idle in it
        await asyncio.sleep(1)
        with pytest.raises(DBAPIError):
            await connection.execute(text("SELECT 1"))
