"""Faults on real processes: relays and Redis killed at the worst moments, PostgreSQL gone a while.

Each test counts what the clients were told was accepted, and checks the
totals end exactly there: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis import Redis

from cpted.embedded import EmbeddedRedis
from shared.bus.outbox import publication_sql
from shared.db.engine import plain_url
from tests import factories
from tests.e2e.conftest import start_platform
from tests.e2e.processes import Platform
from tests.e2e.scenario import (
    TIMEOUT_S,
    Ledger,
    clients,
    implement,
    post_until_answered,
    record,
    sql_value,
    wait_for,
    write_world,
)
from tests.pgproxy import PgProxy
from tests.servers import TestServers, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test alone, so it can be killed without touching anyone else's."""
    server = EmbeddedRedis(tmp_path / "redis", appendonly=False)
    server.start()
    yield server
    server.stop()


def _stream_length(platform: Platform, source: str = "audits") -> int:
    redis = Redis.from_url(platform.env["CPTED_REDIS_URL"])
    try:
        return int(redis.xlen(f"{platform.env['CPTED_STREAM_PREFIX']}:{source}"))
    finally:
        redis.close()


HOLD_COMMITS = """
CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_advisory_xact_lock(424242); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER hold_commit AFTER UPDATE ON audits.outbox_published
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();
"""


async def test_relay_killed_after_publishing_but_before_marking(servers: TestServers) -> None:
    platform = await asyncio.to_thread(start_platform, servers)
    try:
        platform.procs["relay-audits-1"].stop()
        api, metrics = clients(platform)
        async with api, metrics:
            ledger = Ledger()
            world = await write_world(api, ledger, audits=2, recs_per_audit=10)
            rows = await sql_value(platform, "SELECT count(*) FROM audits.outbox")
            assert await _unpublished(platform) == rows
            # A deferred trigger makes the relay's COMMIT wait on a lock this test holds: the events
            # are in Redis, the marks not yet committed. Then the relay dies and its transaction with it.
            holder = await asyncpg.connect(plain_url(platform.database_url))  # type: ignore[attr-defined]
            await holder.execute(HOLD_COMMITS)
            await holder.execute("SELECT pg_advisory_lock(424242)")
            relay = platform.start_cli("relay-audits-victim", "relay", "audits")
            deadline = time.monotonic() + TIMEOUT_S
            while _stream_length(platform) < rows and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert _stream_length(platform) == rows, "the relay never published"
            relay.signal(signal.SIGKILL)
            await holder.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            await holder.execute("DROP TRIGGER hold_commit ON audits.outbox_published; DROP FUNCTION hold_commit()")
            await holder.close()
            assert await _unpublished(platform) == rows
            platform.start_cli("relay-audits-2", "relay", "audits")
            await _settle(platform)
            await wait_for(metrics, ledger, world["partnership"]["id"])
            assert _stream_length(platform) == 2 * rows  # every event went out twice ...
            assert (
                await sql_value(platform, "SELECT count(*) FROM metrics.processed_event") == rows
            )  # ... and counted once
    finally:
        platform.stop()


@pytest.mark.parametrize("consumer", ["started after", "paused through"])
async def test_redis_restarted_empty_under_writes_heals_by_itself(
    servers: TestServers, own_redis: EmbeddedRedis, consumer: str
) -> None:
    platform = await asyncio.to_thread(start_platform, servers, redis_url=own_redis.url, consumers=0)
    health = free_port()
    platform.start_cli("consumer-1", "consume", CPTED_CONSUMER_NAME="consumer-1", CPTED_HEALTH_PORT=str(health))
    try:
        api, metrics = clients(platform)
        async with api, metrics:
            ledger = Ledger()
            world = await write_world(api, ledger, audits=3, recs_per_audit=8)
            await wait_for(metrics, ledger, world["partnership"]["id"])
            first = platform.procs["consumer-1"]
            if consumer == "started after":
                first.stop()
            else:  # the same process lives through the loss, frozen so that it cannot read ahead of it
                assert first.popen is not None
                first.popen.send_signal(signal.SIGSTOP)
            for rec_id in list(ledger.recs)[:6]:  # published to Redis, never consumed: lost with it
                await implement(api, ledger, rec_id)
            await _settle(platform)
            writing = asyncio.Event()
            writing.set()
            writer = asyncio.create_task(_keep_writing(api, ledger, writing))
            await asyncio.sleep(1)
            assert own_redis._process is not None
            own_redis._process.kill()
            own_redis._process.wait()
            await asyncio.sleep(1)  # writes go on while Redis is gone
            own_redis.start()  # empty: no persistence
            restarted = time.monotonic()
            if consumer == "started after":
                health = free_port()
                env = {"CPTED_CONSUMER_NAME": "consumer-2", "CPTED_HEALTH_PORT": str(health)}
                platform.start_cli("consumer-2", "consume", **env)
            else:
                first.popen.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            await asyncio.sleep(2)  # and go on after it is back
            writing.clear()
            acknowledged = await writer
            last_write = time.monotonic()
            await wait_for(metrics, ledger, None)
            converged = time.monotonic()
            outbox = await sql_value(platform, "SELECT count(*) FROM audits.outbox")
            assert await sql_value(platform, "SELECT count(*) FROM metrics.processed_event") == outbox
            assert await sql_value(platform, "SELECT sum(repaired) FROM metrics.log_position") >= 18  # 6 recs x 3 steps
            ready = (await metrics.get("/readyz")).json()
            assert ready["checks"]["event_log"] == "ok", ready
            assert (await metrics.get(f"http://127.0.0.1:{health}/healthz")).status_code == 200
            scraped = (await metrics.get(f"http://127.0.0.1:{health}/metrics")).text
            repaired = [line for line in scraped.splitlines() if line.startswith("cpted_metrics_events_repaired_total")]
            assert sum(float(line.split()[-1]) for line in repaired) >= 18, repaired
            record(
                f"redis restarted empty under writes, consumer {consumer}",
                acknowledged=acknowledged,
                events=outbox,
                since_restart_s=converged - restarted,
                since_last_write_s=converged - last_write,
            )
    finally:
        for proc in platform.procs.values():  # none left frozen, or it could not stop
            if proc.popen and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGCONT)
        platform.stop()


async def _keep_writing(api: httpx.AsyncClient, ledger: Ledger, writing: asyncio.Event) -> int:
    """Audits with recommendations, one after another, until told to stop; returns how many writes were accepted."""
    before = len(ledger.audits) + len(ledger.recs)
    while writing.is_set():
        await write_world(api, ledger, audits=1, recs_per_audit=3)
    return len(ledger.audits) + len(ledger.recs) - before


async def _unpublished(platform: Platform) -> int:
    return await sql_value(platform, f"SELECT unpublished FROM ({publication_sql('audits')}) AS p")


async def _settle(platform: Platform) -> None:
    """Wait until the relays have published everything they can."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if await _unpublished(platform) == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the relays never caught up after Redis came back")


async def test_two_relays_and_three_consumers_apply_each_event_once(servers: TestServers) -> None:
    platform = await asyncio.to_thread(start_platform, servers, relays=2, consumers=3)
    try:
        api, metrics = clients(platform)
        async with api, metrics:
            ledger = Ledger()
            world = await write_world(api, ledger, audits=5, recs_per_audit=30)
            await asyncio.gather(*(implement(api, ledger, r) for r in list(ledger.recs)[:20]))
            await wait_for(metrics, ledger, world["partnership"]["id"])
            outbox = await sql_value(platform, "SELECT count(*) FROM audits.outbox")
            assert _stream_length(platform) == outbox  # one relay at a time holds the mark: no row published twice
            assert await sql_value(platform, "SELECT count(*) FROM metrics.processed_event") == outbox
            redis = Redis.from_url(platform.env["CPTED_REDIS_URL"])
            stream = f"{platform.env['CPTED_STREAM_PREFIX']}:audits"
            consumers = {c["name"]: c for c in redis.xinfo_consumers(stream, "metrics")}
            redis.close()
            assert len(consumers) == 3
    finally:
        platform.stop()


async def test_on_one_redis_server_consumers_divide_partitioned_streams_and_apply_each_event_once(
    servers: TestServers,
) -> None:
    """What a deployment with CPTED_STREAM_PARTITIONS on a single Redis server (not a cluster) runs."""
    partitions = 4
    env = {"CPTED_STREAM_PARTITIONS": str(partitions), "CPTED_PARTITION_LEASE_MS": "2000"}
    platform = await asyncio.to_thread(start_platform, servers, relays=2, consumers=3, env=env)
    try:
        api, metrics = clients(platform)
        async with api, metrics:
            ledgers = [Ledger() for _ in range(4)]  # four partnerships, each with its own ledger
            worlds = [await write_world(api, ledger, audits=2, recs_per_audit=10) for ledger in ledgers]
            await asyncio.gather(*(implement(api, ledger, r) for ledger in ledgers for r in list(ledger.recs)[:5]))
            for world, ledger in zip(worlds, ledgers, strict=True):
                await wait_for(metrics, ledger, world["partnership"]["id"])
            outbox = await sql_value(platform, "SELECT count(*) FROM audits.outbox")
            assert await sql_value(platform, "SELECT count(*) FROM metrics.processed_event") >= outbox
            redis = Redis.from_url(platform.env["CPTED_REDIS_URL"])
            try:
                prefix = platform.env["CPTED_STREAM_PREFIX"]
                keys = [f"{{{prefix}:audits:{n}}}" for n in range(partitions)]
                assert sum(int(redis.xlen(key)) for key in keys) == outbox  # every event on one partition, once
                assert sum(1 for key in keys if redis.xlen(key)) > 1  # four partnerships spread over partitions
                holders = [redis.get(f"{key}:holder") for key in keys]
                assert all(holders) and len(set(holders)) > 1, holders  # divided among the live consumers
            finally:
                redis.close()
    finally:
        platform.stop()


async def test_database_outage_is_503_then_recovers_without_leaking_connections(tmp_path: Path) -> None:
    from cpted.embedded import EmbeddedPostgres
    from cpted.platform import migrate
    from services.audits.app import create_app
    from shared.auth.keys import Scope
    from shared.settings import get_settings
    from tests.integration.conftest import client_for, new_key

    pg = EmbeddedPostgres(tmp_path / "pg")
    url = pg.start()
    await migrate(url)
    settings = get_settings()
    saved = settings.database_url
    settings.database_url = url
    try:
        from shared.db.engine import get_engine

        engine = get_engine(settings)
        key = await new_key(engine, Scope.admin)
        async for api in client_for(create_app(), key):
            assert (await api.get("/v1/audits")).status_code == 200
            pg.stop()
            down = [await api.get("/v1/audits") for _ in range(5)]
            assert {r.status_code for r in down} == {503}
            assert all(r.headers["retry-after"] == "5" for r in down)
            assert down[0].headers["content-type"] == "application/problem+json"
            assert (await api.get("/readyz")).status_code == 503
            pg.start()
            recovered = [await api.get("/v1/audits") for _ in range(5)]
            assert {r.status_code for r in recovered} == {200}
            assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        settings.database_url = saved
        pg.stop()


async def test_a_database_restart_under_writes_answers_503_only_and_every_write_lands_once(
    servers: TestServers,
) -> None:
    proxy = await PgProxy(servers.database_url).start()
    platform = await asyncio.to_thread(start_platform, servers, reach_database=proxy.url_for)
    try:
        api, metrics = clients(platform)
        async with api, metrics:
            ledger = Ledger()
            await write_world(api, ledger, audits=2, recs_per_audit=2)
            await wait_for(metrics, ledger, None)
            answers: Counter[str] = Counter()
            writing = asyncio.Event()
            writing.set()
            writers = [
                asyncio.create_task(_write_with_retries(api, ledger, audit_id, writing, answers))
                for audit_id in list(ledger.audits) * 2
            ]
            await asyncio.sleep(1)
            # The restart: the server ends every connection, says "starting up" a while, is gone, then back.
            await sql_value(platform, _TERMINATE_PROXIED.format(ports=",".join(map(str, proxy.upstream_ports)) or "0"))
            await proxy.set_mode("starting")
            await proxy.drop()
            await asyncio.sleep(2)
            await proxy.set_mode("down")
            await asyncio.sleep(1)
            await proxy.set_mode("up")
            back = time.monotonic()
            await asyncio.sleep(2)
            writing.clear()
            acknowledged = sum(await asyncio.gather(*writers))
            last_write = time.monotonic()
            await wait_for(metrics, ledger, None)
            converged = time.monotonic()
            assert set(answers) <= {"200", "201", "409", "503"}, answers  # no 500, no reset connection
            assert answers["503"] > 0  # the restart was seen
            assert await sql_value(platform, "SELECT count(*) FROM audits.recommendation") == len(ledger.recs)
            outbox = await sql_value(platform, "SELECT count(*) FROM audits.outbox")
            assert await sql_value(platform, "SELECT count(*) FROM metrics.processed_event") == outbox
            record(
                "postgresql restarted under writes",
                acknowledged=acknowledged,
                events=outbox,
                answers=" ".join(f"{k}x{v}" for k, v in sorted(answers.items())),
                since_back_s=converged - back,
                since_last_write_s=converged - last_write,
            )
    finally:
        await asyncio.to_thread(platform.stop)  # the proxy runs on this loop: the processes close through it
        await proxy.close()


_TERMINATE_PROXIED = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_port IN ({ports})"


async def _write_with_retries(
    api: httpx.AsyncClient, ledger: Ledger, audit_id: str, writing: asyncio.Event, answers: Counter[str]
) -> int:
    """Recommendations one after another, each retried with its Idempotency-Key until it is answered;
    returns how many were accepted."""
    accepted = 0
    while writing.is_set():
        path = f"/v1/audits/{audit_id}/recommendations"
        rec = await post_until_answered(api, path, factories.recommendation(), answers)
        ledger.recs[rec["id"]] = rec
        accepted += 1
    return accepted
