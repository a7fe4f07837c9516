"""Throughput of the metrics consumer and of the outbox relay, each against a bare Redis loop."""

from __future__ import annotations

import asyncio
import time
from statistics import median
from typing import Any

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Figure, audit_events
from services.metrics.projection.consumer import handler_for
from shared.bus.consumer import StreamConsumer, collect_less_often
from shared.bus.relay import Relay
from shared.db.engine import plain_url
from shared.settings import Settings

BATCH = 500


async def _fill(redis: Redis, stream: str, payloads: list[bytes]) -> None:
    for i in range(0, len(payloads), 2000):
        async with redis.pipeline(transaction=False) as pipe:
            for payload in payloads[i : i + 2000]:
                pipe.xadd(stream, {"event": payload})
            await pipe.execute()


async def _raw_consume(redis: Redis, stream: str, total: int) -> float:
    await redis.xgroup_create(stream, "raw", id="0", mkstream=True)
    done, start = 0, time.perf_counter()
    while done < total:
        response: Any = await redis.xreadgroup("raw", "r", {stream: ">"}, count=BATCH, block=1000)
        ids = [entry_id for entry_id, _ in response[0][1]]
        await redis.xack(stream, "raw", *ids)
        done += len(ids)
    return total / (time.perf_counter() - start)


ROUNDS = 3
"""Each figure and its baseline are measured this many times, in turn, and the medians compared: one pass of the
bare loops takes a tenth of a second, and on a shared machine one pass ranged over a factor of two."""


async def consumer_figure(settings: Settings, engine: AsyncEngine, redis: Redis, total: int) -> Figure:
    rounds = [await _consumer_round(settings, engine, redis, total, n) for n in range(ROUNDS)]
    rate, raw_rate = median(r for r, _, _ in rounds), median(b for _, b, _ in rounds)
    bare = f"XREADGROUP+XACK, no work (batches of {BATCH} on both sides; medians of {ROUNDS} rounds)"
    return Figure(
        "metrics consumer", rate, "events/s", raw_rate, bare, ">= 25%", rate >= 0.25 * raw_rate,
        samples=sum(n for _, _, n in rounds),
    )  # fmt: skip


async def _consumer_round(
    settings: Settings, engine: AsyncEngine, redis: Redis, total: int, n: int
) -> tuple[float, float, int]:
    await reset_projections(engine)
    payloads = [e.to_json() for e in audit_events(total, seed=7 + n)]
    raw_stream, our_stream = settings.stream(f"bench-raw-{n}"), settings.stream(f"bench-consumer-{n}")
    await _fill(redis, raw_stream, payloads)
    await _fill(redis, our_stream, payloads)
    collect_less_often()  # as the consumer's run sets it: the bare loop under the same collector
    raw_rate = await _raw_consume(redis, raw_stream, total)
    consumer = StreamConsumer(
        redis,
        [our_stream],
        "metrics",
        "bench",
        handler_for(engine, settings.local_timezone),
        settings.dead_letter_stream,
        batch=BATCH,
        claim_every_s=3600,
        block_ms=1000,
    )
    await consumer.ensure_groups()
    stop = asyncio.Event()
    start = time.perf_counter()
    running = asyncio.create_task(consumer.run(stop))  # the consumer's own reading loop, as deployed
    for _ in range(600_000):  # a millisecond's resolution, ten minutes at most
        if consumer.applied >= total or running.done():
            break
        await asyncio.sleep(0.001)
    rate = total / (time.perf_counter() - start)
    stop.set()
    await asyncio.wait_for(running, timeout=60)
    await redis.delete(raw_stream, our_stream)
    return rate, raw_rate, consumer.applied


async def relay_figure(settings: Settings, redis: Redis, total: int) -> Figure:
    rounds = [await _relay_round(settings, redis, total, n) for n in range(ROUNDS)]
    rate, raw_rate = median(r for r, _, _ in rounds), median(b for _, b, _ in rounds)
    return Figure(
        "outbox relay", rate, "events/s", raw_rate, f"pipelined XADD of the same payloads (medians of {ROUNDS} rounds)",
        ">= 60%", rate >= 0.6 * raw_rate, samples=sum(n for _, _, n in rounds),
    )  # fmt: skip


async def _relay_round(settings: Settings, redis: Redis, total: int, n: int) -> tuple[float, float, int]:
    events = audit_events(total, seed=11 + n)
    raw_stream, our_stream = settings.stream(f"bench-raw-relay-{n}"), settings.stream(f"bench-relay-{n}")
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    try:
        await conn.execute("TRUNCATE audits.outbox")
        await conn.executemany(
            "INSERT INTO audits.outbox (id, type, version, subject_id, envelope) VALUES ($1, $2, 1, $3, $4::jsonb)",
            [(e.id, e.type, e.subject_id, e.to_json().decode()) for e in events],
        )
        texts = [r["envelope"] for r in await conn.fetch("SELECT envelope::text AS envelope FROM audits.outbox")]
        start = time.perf_counter()
        for i in range(0, total, BATCH):
            async with redis.pipeline(transaction=False) as pipe:
                for envelope in texts[i : i + BATCH]:
                    pipe.xadd(raw_stream, {"event": envelope})
                await pipe.execute()
        raw_rate = total / (time.perf_counter() - start)
        relay = Relay(settings.resolved_database_url(), redis, "audits", our_stream, batch=BATCH)
        start = time.perf_counter()
        published = await relay.drain(conn)
        rate = published / (time.perf_counter() - start)
    finally:
        await conn.close()
    await redis.delete(raw_stream, our_stream)
    return rate, raw_rate, published


async def figures(settings: Settings, engine: AsyncEngine, redis: Redis, total: int) -> list[Figure]:
    measured = [await consumer_figure(settings, engine, redis, total), await relay_figure(settings, redis, total)]
    await reset_projections(engine)
    async with engine.begin() as conn:  # the relay's events went to streams of their own, never applied: a
        await conn.execute(text("TRUNCATE audits.outbox"))  # later part's log watch would re-apply them all
    return measured


async def reset_projections(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE metrics.processed_event, metrics.subject, metrics.counter_total, metrics.counter_daily")
        )
