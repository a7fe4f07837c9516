"""Outbox → relay → Redis stream → consumer → projections, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection.applying import apply_and_enqueue
from services.metrics.projection.consumer import build_consumer
from services.metrics.totals import changes as totals_changes
from shared.bus import wake
from shared.bus.consumer import Handler, StreamConsumer, lag
from shared.bus.outbox import publication_sql
from shared.bus.partitions import partition_of
from shared.bus.relay import Relay
from shared.bus.wake import Waker, Wakes, wake_channel
from shared.contracts.events import Envelope
from shared.db.engine import plain_url
from shared.settings import get_settings
from tests import factories
from tests.pgproxy import PgProxy


async def _relay_all(redis: Redis, source: str = "audits") -> int:
    settings = get_settings()
    relay = Relay(settings.resolved_database_url(), redis, source, settings.stream(source))
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    try:
        return await relay.drain(conn)
    finally:
        await conn.close()


async def _published(redis: Redis, stream: str, count: int) -> list[uuid.UUID]:
    """``count`` events put on ``stream``; their ids, in order."""
    ids = [uuid.uuid4() for _ in range(count)]
    for id_ in ids:
        await redis.xadd(stream, {"event": factories_event(id_).to_json()})
    return ids


async def _consume_all(consumer: StreamConsumer) -> None:
    await consumer.ensure_groups()
    while await consumer.poll_once():
        pass


def _consumer(engine: AsyncEngine, redis: Redis, name: str = "c1", **overrides: Any) -> StreamConsumer:
    settings = get_settings().model_copy(update={"consumer_name": name, **overrides})
    return build_consumer(settings, engine, redis)


async def _totals(metrics_api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    r = await metrics_api.get("/v1/totals", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _scenario(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    """3 recommendations on the world's audit, one implemented, one declined; a second audit deleted."""
    audit_id = world["audit"]["id"]
    recs = []
    for category in ("lighting", "traffic_calming", "landscaping"):
        r = await audits_api.post(
            f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation(category=category)
        )
        recs.append(r.json()["id"])
    for to, on in (("accepted", "2025-05-01"), ("in_progress", "2025-06-01"), ("implemented", "2025-07-01")):
        await audits_api.post(f"/v1/recommendations/{recs[0]}/transitions", json={"to": to, "on": on})
    await audits_api.post(f"/v1/recommendations/{recs[1]}/transitions", json={"to": "declined", "on": "2025-05-02"})
    p, n2 = world["partnership"], world["n2"]
    other = (await audits_api.post("/v1/audits", json=factories.audit(p["id"], n2["id"]))).json()
    await audits_api.post(f"/v1/audits/{other['id']}/recommendations", json=factories.recommendation())
    await audits_api.delete(f"/v1/audits/{other['id']}")


EXPECTED = {
    "partnerships": 1,
    "audits": 1,
    "audits_completed": 1,
    "recommendations": 3,
    "recommendations_implemented": 1,
}


async def test_round_trip_gives_exact_totals(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    await _scenario(audits_api, world)
    assert await _relay_all(redis) == 14
    consumer = _consumer(engine, redis)
    await _consume_all(consumer)
    totals = await _totals(metrics_api)
    assert {k: totals[k] for k in EXPECTED} == EXPECTED
    assert totals["recommendations_by_status"] | {} == {
        "proposed": 1, "accepted": 0, "in_progress": 0, "implemented": 1, "declined": 1, "deferred": 0,
    }  # fmt: skip
    assert totals["recommendations_by_category"]["lighting"] == 1
    assert totals["recommendations_by_category"]["traffic_calming"] == 1
    assert totals["lag_events"] == 0
    by_n2 = await _totals(metrics_api, neighbourhood_id=world["n2"]["id"])
    assert (by_n2["audits"], by_n2["recommendations"]) == (0, 0)
    period = await _totals(metrics_api, **{"from": "2025-07-01", "to": "2025-07-31"})
    assert (period["audits"], period["recommendations_implemented"]) == (0, 1)


async def test_a_waiting_totals_reader_gets_the_totals_once_the_consumer_applied_a_batch(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dashboard's long poll: holding the current totals' tag with ``Prefer: wait``, it is answered when the
    consumer applies a batch (its wake, not the reader's own re-check, which is put out of reach here), and with a
    304 once the wait is over if nothing changed."""
    monkeypatch.setattr(totals_changes, "RECHECK_S", 60.0)
    consumer = _consumer(engine, redis)
    await _relay_all(redis)
    await _consume_all(consumer)
    current = await metrics_api.get("/v1/totals")
    tag, before = current.headers["etag"], current.json()

    loop = asyncio.get_running_loop()
    began = loop.time()
    unchanged = await metrics_api.get("/v1/totals", headers={"If-None-Match": tag, "Prefer": "wait=1"})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == tag
    assert loop.time() - began >= 1.0  # it waited for a change before saying there was none

    waiting = asyncio.ensure_future(metrics_api.get("/v1/totals", headers={"If-None-Match": tag, "Prefer": "wait=15"}))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    audit_id = world["audit"]["id"]
    await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())
    await _relay_all(redis)
    await _consume_all(consumer)
    changed = await asyncio.wait_for(waiting, 10)
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert changed.json()["recommendations"] == before["recommendations"] + 1

    # No tag held, or one that is not current: the answer comes at once, whatever the wait asked.
    stale = await metrics_api.get("/v1/totals", headers={"If-None-Match": tag, "Prefer": "wait=15"})
    assert stale.status_code == 200 and stale.json() == changed.json()


async def test_a_waiting_totals_reader_gets_a_change_that_sent_no_wake_at_its_next_recheck(
    metrics_api: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events applied without a wake (a repair by the log watch; a wake lost with Redis) still reach a waiting reader,
    at its next re-check: the tag remembered from its last read is trusted no longer than that."""
    monkeypatch.setattr(totals_changes, "RECHECK_S", 0.3)
    current = await metrics_api.get("/v1/totals")
    tag = current.headers["etag"]
    waiting = asyncio.ensure_future(metrics_api.get("/v1/totals", headers={"If-None-Match": tag, "Prefer": "wait=10"}))
    await asyncio.sleep(0.1)
    await apply_and_enqueue(engine, [factories_event(uuid.uuid4())], zone=get_settings().local_timezone)
    changed = await asyncio.wait_for(waiting, 5)
    assert changed.status_code == 200 and changed.json()["partnerships"] == current.json()["partnerships"] + 1


async def test_redelivered_events_are_applied_once(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    await _scenario(audits_api, world)
    await _relay_all(redis)
    # A relay that crashed after XADD but before marking rows published sends everything again.
    settings = get_settings()
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    await conn.execute("UPDATE audits.outbox_published SET through = 0")
    await conn.close()
    assert await _relay_all(redis) == 14
    assert await redis.xlen(settings.stream("audits")) == 28
    await _consume_all(_consumer(engine, redis))
    totals = await _totals(metrics_api)
    assert {k: totals[k] for k in EXPECTED} == EXPECTED


async def test_events_out_of_order_still_give_the_final_state(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    await _scenario(audits_api, world)
    settings = get_settings()
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    rows = await conn.fetch("SELECT envelope::text AS e FROM audits.outbox ORDER BY position DESC")
    await conn.close()
    for row in rows:  # newest first: the worst order two racing relays could produce
        await redis.xadd(settings.stream("audits"), {"event": row["e"]})
    await _consume_all(_consumer(engine, redis))
    totals = await _totals(metrics_api)
    assert {k: totals[k] for k in EXPECTED} == EXPECTED
    # The day work began is kept though the move to "implemented" was applied first.
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    progress = await conn.fetch("SELECT audit_id, in_progress_on FROM metrics.recommendation_progress")
    await conn.close()
    assert [(str(r["audit_id"]), r["in_progress_on"].isoformat()) for r in progress] == [
        (world["audit"]["id"], "2025-06-01")
    ]


async def test_abandoned_entries_are_claimed_by_another_consumer(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    await _scenario(audits_api, world)
    await _relay_all(redis)
    settings = get_settings()
    dead = _consumer(engine, redis, name="dead")
    await dead.ensure_groups()
    # "dead" reads a batch and dies before applying or acknowledging it.
    read = await redis.xreadgroup(settings.consumer_group, "dead", {settings.stream("audits"): ">"}, count=10)
    assert len(read[0][1]) == 10
    assert await lag(redis, [settings.stream("audits")], settings.consumer_group) == 14
    await asyncio.sleep(settings.claim_idle_ms / 1000 + 0.2)
    survivor = _consumer(engine, redis, name="survivor", claim_every_s=0)
    await _consume_all(survivor)
    totals = await _totals(metrics_api)
    assert {k: totals[k] for k in EXPECTED} == EXPECTED
    assert totals["lag_events"] == 0


async def test_poison_event_goes_to_dead_letters_and_others_flow(
    engine: AsyncEngine, redis: Redis, clean: None
) -> None:
    settings = get_settings()
    stream = settings.stream("audits")
    applied: list[uuid.UUID] = []
    poison_id = uuid.uuid4()

    async def handler(events: Sequence[Envelope]) -> None:
        if any(e.id == poison_id for e in events):
            raise ValueError("cannot apply this one")
        applied.extend(e.id for e in events)

    def event(id_: uuid.UUID) -> bytes:
        return factories_event(id_).to_json()

    good = [uuid.uuid4() for _ in range(3)]
    for id_ in (good[0], poison_id, good[1], good[2]):
        await redis.xadd(stream, {"event": event(id_)})
    await redis.xadd(stream, {"event": b"{not json"})
    consumer = StreamConsumer(
        redis, [stream], "test-group", "c", handler, settings.dead_letter_stream,
        max_deliveries=3, claim_idle_ms=0, claim_every_s=0, block_ms=10,
    )  # fmt: skip
    await consumer.ensure_groups()
    for _ in range(6):
        await consumer.poll_once()
    assert applied == good
    dead = await redis.xrange(settings.dead_letter_stream)
    assert len(dead) == 2
    errors = sorted(fields[b"error"].decode() for _, fields in dead)
    assert errors[0].startswith("ValueError: cannot apply this one")
    assert errors[1].startswith("unreadable event")
    pending = await redis.xpending(stream, "test-group")
    assert pending["pending"] == 0


async def test_a_reading_consumer_reads_the_next_batch_ahead_but_acknowledges_only_what_it_applied(
    redis: Redis, clean: None
) -> None:
    settings = get_settings()
    stream = settings.stream("audits")
    ids = await _published(redis, stream, 6)
    applied: list[uuid.UUID] = []
    first_batch_in_hand, release = asyncio.Event(), asyncio.Event()

    async def handler(events: Sequence[Envelope]) -> None:
        first_batch_in_hand.set()
        await release.wait()
        applied.extend(e.id for e in events)

    async with _reading(redis, stream, handler) as consumer:
        await asyncio.wait_for(first_batch_in_hand.wait(), 10)
        for _ in range(100):  # the next batch is read while the first is being applied
            if (await redis.xpending(stream, "test-group"))["pending"] == 4:
                break
            await asyncio.sleep(0.01)
        assert (await redis.xpending(stream, "test-group"))["pending"] == 4  # read, none acknowledged
        assert applied == []
        release.set()
        await _until(lambda: consumer.applied == len(ids))
    assert applied == ids  # in the order published
    assert (await redis.xpending(stream, "test-group"))["pending"] == 0


async def test_a_batch_read_ahead_of_a_failure_is_applied_after_the_failed_one_in_order(
    redis: Redis, clean: None
) -> None:
    settings = get_settings()
    stream = settings.stream("audits")
    ids = await _published(redis, stream, 6)
    applied: list[uuid.UUID] = []
    down = {"once": True}

    async def handler(events: Sequence[Envelope]) -> None:
        await asyncio.sleep(0.05)  # long enough for the next batch to be read meanwhile
        if down["once"]:
            down["once"] = False
            raise OSError("database restarting")
        applied.extend(e.id for e in events)

    async with _reading(redis, stream, handler):
        await _until(lambda: len(applied) == len(ids))
    assert applied == ids  # each once, in the order published
    assert (await redis.xpending(stream, "test-group"))["pending"] == 0
    assert await redis.xlen(settings.dead_letter_stream) == 0


@asynccontextmanager
async def _reading(redis: Redis, stream: str, handler: Handler) -> AsyncIterator[StreamConsumer]:
    """A consumer of ``stream`` in batches of 2, running its own reading loop until the block ends."""
    consumer = StreamConsumer(
        redis, [stream], "test-group", "c", handler, get_settings().dead_letter_stream, batch=2, block_ms=10
    )  # fmt: skip
    await consumer.ensure_groups()
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:
        yield consumer
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def _until(done: Callable[[], bool], seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached in time")


def factories_event(id_: uuid.UUID) -> Envelope:
    from shared.contracts.events.audits import PartnershipCreated

    pid = uuid.uuid4()
    return PartnershipCreated(
        id=id_,
        source="audits",
        subject_id=pid,
        subject_version=1,
        payload={"id": pid, "name": "P", "police_service": "WPS", "neighbourhood_ids": [], "status": "active"},
    )


async def test_dead_letters_are_listed_and_retried(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    settings = get_settings()
    await _relay_all(redis)
    failing = {"on": True}
    real = build_consumer(settings, engine, redis).handler

    async def flaky(events: Sequence[Envelope]) -> None:
        if failing["on"] and any(e.type == "audit.created" for e in events):
            raise RuntimeError("projection refused the audit")
        await real(events)

    consumer = StreamConsumer(
        redis, [settings.stream("audits")], settings.consumer_group, "c", flaky, settings.dead_letter_stream,
        max_deliveries=2, claim_idle_ms=0, claim_every_s=0, block_ms=10,
    )  # fmt: skip
    await consumer.ensure_groups()
    for _ in range(4):
        await consumer.poll_once()
    listed = (await metrics_api.get("/v1/bus/dead-letters")).json()["items"]
    assert [(x["event"]["type"], x["deliveries"]) for x in listed] == [("audit.created", 2)]
    assert "projection refused the audit" in listed[0]["error"]
    assert (await _totals(metrics_api))["audits"] == 0
    failing["on"] = False
    retried = await metrics_api.post(f"/v1/bus/dead-letters/{listed[0]['id']}/retry")
    assert retried.status_code == 200
    await _consume_all(consumer)
    assert (await _totals(metrics_api))["audits"] == 1
    assert (await metrics_api.get("/v1/bus/dead-letters")).json()["items"] == []
    missing = await metrics_api.post("/v1/bus/dead-letters/1-1/retry")
    assert missing.status_code == 404


async def test_a_commit_wakes_the_relay_without_waiting_for_its_poll(
    audits_api: httpx.AsyncClient, world: dict[str, Any], redis: Redis
) -> None:
    settings = get_settings()
    stream = settings.stream("audits")
    relay = Relay(settings.resolved_database_url(), redis, "audits", stream, poll_s=120)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        for _ in range(100):  # the first drain publishes the world's events; then the relay sits idle
            await asyncio.sleep(0.05)
            if relay.published and await redis.xlen(stream) == relay.published:
                break
        published = relay.published
        await asyncio.sleep(3)  # long enough idle for a relay that backs off to be waiting seconds
        r = await audits_api.post(f"/v1/audits/{world['audit']['id']}/recommendations", json=factories.recommendation())
        assert r.status_code == 201
        for _ in range(20):  # 1 s at most, against a poll of 120 s
            if relay.published > published:
                break
            await asyncio.sleep(0.05)
        assert relay.published == published + 1
        fields = (await redis.xrevrange(stream, count=1))[0][1]
        envelope = fields.get(b"event", fields.get("event"))
        assert r.json()["id"] in (envelope.decode() if isinstance(envelope, bytes) else envelope)
    finally:
        stop.set()
        await running


async def test_a_burst_of_commits_wakes_the_relays_with_a_few_messages_and_the_last_commit_is_covered(
    redis: Redis,
) -> None:
    channel = wake_channel(get_settings().stream("audits"))
    listener = redis.pubsub()
    await listener.subscribe(channel)
    assert (await listener.get_message(timeout=2))["type"] in ("subscribe", b"subscribe")  # listening now

    async def received() -> int:
        count, deadline = 0, asyncio.get_running_loop().time() + 0.5
        while asyncio.get_running_loop().time() < deadline:
            count += await listener.get_message(timeout=0.1) is not None
        return count

    waker = Waker(redis, channel)
    for _ in range(100):  # 100 commits before the first wake is even sent: that one wake covers them all
        waker.wake()
    assert await received() == 1
    waker.wake()
    await asyncio.sleep(0)  # the wake is on its way to Redis...
    await asyncio.sleep(0)
    waker.wake()  # ...when another commit lands: it may be invisible to a relay woken by the first
    assert await received() == 2
    await listener.aclose()


async def test_a_reader_stuck_in_its_round_stops_the_consumer_saying_it_is_alive(redis: Redis) -> None:
    settings = get_settings()
    stuck_stream, flowing_stream = settings.stream("audits"), settings.stream("events")
    hanging = uuid.uuid4()
    await redis.xadd(stuck_stream, {"event": factories_event(hanging).to_json()})
    await redis.xadd(flowing_stream, {"event": factories_event(uuid.uuid4()).to_json()})
    hang, beats = asyncio.Event(), []

    async def handler(events: Sequence[Envelope]) -> None:
        if any(e.id == hanging for e in events):
            await hang.wait()  # an apply that never returns

    consumer = StreamConsumer(
        redis, [stuck_stream, flowing_stream], "metrics", "stuck", handler, settings.dead_letter_stream,
        heartbeat=lambda: beats.append(1), stuck_after_s=1.0, block_ms=50,
    )  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.sleep(0.5)
        assert beats  # alive while the round is young
        await asyncio.sleep(2.0)
        assert consumer.stuck() == [stuck_stream]  # the other stream's reader goes round and round
        before = len(beats)
        await asyncio.sleep(1.5)
        assert len(beats) == before  # no beat while one reader is stuck: the probe fails, the process restarts
    finally:
        hang.set()
        stop.set()
        await asyncio.wait_for(running, 10)


async def test_with_partitions_each_event_goes_to_its_partition_in_the_outbox_order(
    audits_api: httpx.AsyncClient, world: dict[str, Any], redis: Redis
) -> None:
    await _scenario(audits_api, world)
    for _ in range(6):  # each placed by its own id: the events span partitions
        assert (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).status_code == 201
    settings = get_settings()
    partitions = settings.model_copy(update={"stream_partitions": 4}).streams("audits")
    relay = Relay(settings.resolved_database_url(), redis, "audits", settings.stream("audits"), batch=3,
                  partitions=partitions)  # fmt: skip
    conn = await asyncpg.connect(plain_url(settings.resolved_database_url()))
    try:
        assert await relay.drain(conn) == 20  # in 7 batches
        rows = await conn.fetch("SELECT envelope::text AS e FROM audits.outbox ORDER BY position")
        assert (await conn.fetchrow(publication_sql("audits")))["unpublished"] == 0
    finally:
        await conn.close()
    outbox = [orjson.loads(row["e"]) for row in rows]
    for n, stream in enumerate(partitions):
        published = [orjson.loads(fields[b"event"]) for _, fields in await redis.xrange(stream)]
        assert [e["id"] for e in published] == [e["id"] for e in outbox if partition_of(e, 4) == n]
    assert len({partition_of(e, 4) for e in outbox}) > 1


async def test_a_wake_listener_gives_up_a_connection_gone_silent_and_hears_wakes_again(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis that stops answering without closing the connection (its machine gone) would hold a listener for
    ever: it pings a connection silent for ``PING_S``, gives it up when no answer comes, and subscribes again."""
    monkeypatch.setattr(wake, "PING_S", 0.5)
    channel = wake_channel(get_settings().stream("totals-test"))
    proxy = await PgProxy(get_settings().resolved_redis_url()).start()
    through = Redis.from_url(proxy.url)
    wakes = Wakes(through, channel, retry_s=0.1)
    wakes.start()

    async def heard() -> bool:
        seen = wakes.count
        for _ in range(100):
            await redis.publish(channel, b"")
            if await wakes.after(seen, 0.1):
                return True
        return False

    try:
        assert await heard()
        connections = len(proxy.upstream_ports)
        await proxy.set_mode("silent")
        assert not await wakes.after(wakes.count, 0.5)
        await asyncio.sleep(1.5)  # past two pings' time: given up, and subscribing again (silently refused)
        assert len(proxy.upstream_ports) > connections  # a new connection: the silent one was given up
        await proxy.set_mode("up")
        assert await heard()  # within 10 s
    finally:
        await wakes.stop()
        await through.aclose()
        await proxy.close()
