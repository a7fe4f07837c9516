"""The metrics consumer finds the events the bus lost by comparing the projections with the producers'
logs, reports them as lag, and re-applies them: no command to run."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection.consumer import build_consumer, build_log_watch
from services.metrics.projection.logwatch import STALLED_GRACES, LogWatch
from services.metrics.totals.store import log_positions
from shared.bus.consumer import StreamConsumer
from shared.bus.relay import Relay
from shared.db.engine import plain_url
from shared.settings import get_settings
from tests import factories


async def _relay_all(redis: Redis) -> int:
    settings = get_settings()
    relay = Relay(settings.resolved_database_url(), redis, "audits", settings.stream("audits"))
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    try:
        return await relay.drain(conn)
    finally:
        await conn.close()


async def _consume_all(consumer: StreamConsumer) -> None:
    await consumer.ensure_groups()
    while await consumer.poll_once():
        pass


async def _recommend(audits_api: httpx.AsyncClient, world: dict[str, Any], count: int) -> None:
    for _ in range(count):
        r = await audits_api.post(f"/v1/audits/{world['audit']['id']}/recommendations", json=factories.recommendation())
        assert r.status_code == 201, r.text


async def _totals(metrics_api: httpx.AsyncClient) -> dict[str, Any]:
    r = await metrics_api.get("/v1/totals")
    assert r.status_code == 200, r.text
    return r.json()


def _watch(engine: AsyncEngine, redis: Redis, audits_api: httpx.AsyncClient, grace_s: float) -> LogWatch:
    settings = get_settings().model_copy(update={"log_loss_grace_s": grace_s, "log_check_every_s": 0})
    return build_log_watch(settings, engine, redis, {"audits": audits_api})


async def _repaired(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT coalesce(sum(repaired), 0) FROM metrics.log_position"))).scalar())


async def test_a_redis_that_lost_its_data_is_noticed_shown_as_lag_and_repaired(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    settings = get_settings()
    await _recommend(audits_api, world, 3)
    await _relay_all(redis)
    first = _watch(engine, redis, audits_api, grace_s=60)
    consumer = build_consumer(settings, engine, redis, on_bus_lost=first.bus_lost)
    await _consume_all(consumer)
    await first.check_once()
    assert (await _totals(metrics_api))["recommendations"] == 3

    await _recommend(audits_api, world, 2)
    assert await _relay_all(redis) == 2
    await redis.delete(settings.stream("audits"))  # Redis comes back without its data: stream and group gone

    restarted = _watch(engine, redis, audits_api, grace_s=60)  # a consumer started after the loss knows nothing
    await restarted.check_once()
    shown = await _totals(metrics_api)
    assert shown["recommendations"] == 3
    assert shown["lag_events"] == 2  # short, and it says so

    consumer = build_consumer(settings, engine, redis, on_bus_lost=restarted.bus_lost)
    await _consume_all(consumer)  # finds its group missing and creates it: the sign of a lost Redis
    await restarted.check_once()
    healed = await _totals(metrics_api)
    assert (healed["recommendations"], healed["lag_events"]) == (5, 0)
    assert await _repaired(engine) == 2
    ready = (await metrics_api.get("/readyz")).json()
    assert ready["checks"]["event_log"] == "ok"


async def test_events_that_never_reach_the_bus_are_applied_from_the_log_after_the_grace_period(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    consumer = build_consumer(get_settings(), engine, redis)
    await _relay_all(redis)
    await _consume_all(consumer)
    await _recommend(audits_api, world, 4)  # no relay runs: Redis never gets them
    watch = _watch(engine, redis, audits_api, grace_s=0)
    await watch.check_once()  # first seen unapplied: the bus may still bring them
    assert (await _totals(metrics_api))["lag_events"] == 4
    await watch.check_once()  # still unapplied after the grace period, and nothing on the bus for them
    healed = await _totals(metrics_api)
    assert (healed["recommendations"], healed["lag_events"]) == (4, 0)
    assert await _repaired(engine) == 4
    assert await _relay_all(redis) == 4  # published late after all ...
    await _consume_all(consumer)
    assert (await _totals(metrics_api))["recommendations"] == 4  # ... and counted once


async def test_events_the_bus_holds_but_no_consumer_applies_are_applied_from_the_log_once_stalled(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    grace_s = 0.2
    consumer = build_consumer(get_settings(), engine, redis)
    await _relay_all(redis)
    await _consume_all(consumer)  # the world applied
    await _recommend(audits_api, world, 3)
    assert await _relay_all(redis) == 3  # on the bus, and no consumer reads it: a wedged consumer
    watch = _watch(engine, redis, audits_api, grace_s=grace_s)
    await watch.check_once()  # first seen unapplied
    await asyncio.sleep(grace_s * 1.5)
    await watch.check_once()  # past the grace, but the bus holds them: the consumers may be slow
    assert (await _totals(metrics_api))["lag_events"] == 3
    assert await _repaired(engine) == 0
    await asyncio.sleep(grace_s * STALLED_GRACES)
    await watch.check_once()  # still unapplied many graces later: the consumers are stalled
    assert (await _totals(metrics_api))["recommendations"] == 3
    assert await _repaired(engine) == 3
    await _consume_all(consumer)  # the consumer comes back and delivers them ...
    healed = await _totals(metrics_api)
    assert (healed["recommendations"], healed["lag_events"]) == (3, 0)  # ... counted once


async def test_an_event_that_cannot_be_applied_leaves_honest_lag_and_a_ready_service(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    consumer = build_consumer(get_settings(), engine, redis)
    await _relay_all(redis)
    await _consume_all(consumer)
    async with engine.begin() as conn:  # an event no projection can take (its state is missing)
        await conn.execute(
            text(
                "INSERT INTO audits.outbox (id, type, version, subject_id, envelope) "
                "SELECT id, 'recommendation.created', 1, subject_id, jsonb_set(envelope, '{payload}', '{}') "
                "FROM (SELECT gen_random_uuid() AS id, subject_id, envelope FROM audits.outbox LIMIT 1) AS one"
            )
        )
        await conn.execute(
            text(
                "UPDATE audits.outbox SET envelope = jsonb_set(envelope, '{id}', to_jsonb(id::text)) "
                "WHERE envelope->'payload' = '{}'::jsonb"
            )
        )
    watch = _watch(engine, redis, audits_api, grace_s=0)
    await watch.check_once()
    try:
        await watch.check_once()  # overdue: re-applying it fails
    except Exception:
        pass
    assert (await _totals(metrics_api))["lag_events"] == 1
    ready = (await metrics_api.get("/readyz")).json()
    assert ready["checks"]["event_log"] == "ok", ready  # not stuck "repairing"
    async with engine.connect() as conn:
        loss = (await conn.execute(text("SELECT last_loss FROM metrics.log_position WHERE source = 'audits'"))).scalar()
    assert loss and loss.startswith("re-applying failed"), loss


async def test_a_watch_far_behind_checks_tens_of_thousands_of_events_at_once(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine, redis: Redis
) -> None:
    consumer = build_consumer(get_settings(), engine, redis)
    await _relay_all(redis)
    await _consume_all(consumer)
    async with engine.connect() as conn:
        applied = set((await conn.execute(text("SELECT id FROM metrics.processed_event"))).scalars())
        unknown = [uuid.uuid4() for _ in range(40_000)]  # more than a statement may bind one by one
        assert await log_positions.processed_among(conn, [*unknown, *applied]) == applied
