"""The nightly CSWB feeds on real Celery workers and beats, real brokers (Redis, as in ``make run``, and
RabbitMQ, as in production) and PostgreSQL.

A local receiver checks every delivery's signature. The claims: one feed and
one delivery per date, whatever runs twice (a task sent twice, two beats, a
worker killed mid-task and its task run again); a worker killed while the
receiver holds its answer leaves one feed, delivered again with the same
idempotency key and digest, so the receiver drops the repeat; a receiver
failing twice gets the feed on the third try.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from datetime import date, timedelta

import asyncpg
import pytest
from kombu import Exchange, Queue
from kombu.exceptions import ChannelError

from services.metrics.cswb.store.feeds import LOCK_NAMESPACE
from shared.clock import Clock
from shared.db.engine import plain_url
from tests.e2e.cswb_processes import BROKERS, CeleryWorld, celery_world, kill, log_of, until
from tests.servers import TestServers

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=BROKERS)
def world(servers: TestServers, request: pytest.FixtureRequest) -> Iterator[CeleryWorld]:
    """One steady worker for the tests that kill nothing."""
    world = celery_world(servers, request.param)
    world.worker("steady")
    yield world
    world.stop()


@pytest.fixture(params=BROKERS)
def own_world(servers: TestServers, request: pytest.FixtureRequest) -> Iterator[CeleryWorld]:
    """Processes of one test alone, with a short visibility timeout (Redis), so a lost task comes back soon;
    RabbitMQ hands it back as soon as the worker's connection drops."""
    limits = {"CPTED_CELERY_TASK_TIME_LIMIT_S": "5", "CPTED_CELERY_VISIBILITY_TIMEOUT_S": "6"}
    world = celery_world(servers, request.param, **limits)
    yield world
    world.stop()


async def _delivered_once(world: CeleryWorld, days: list[str], settle_s: float = 1.5) -> float:
    """When (``time.monotonic()``) the last of the days was delivered, after checking none came twice."""

    async def all_there() -> bool:
        return all(world.receiver.accepted()[d] for d in days)

    await until(all_there, f"deliveries of {days}")
    there = time.monotonic()
    await asyncio.sleep(settle_s)  # a duplicate would have arrived by now
    assert {d: world.receiver.accepted()[d] for d in days} == dict.fromkeys(days, 1)
    assert all(a.signature_ok for a in world.receiver.attempts if a.feed_date in days)
    feeds = await world.feeds()
    assert {d: feeds.get(d) for d in days} == dict.fromkeys(days, 1)
    return there


async def test_a_worker_builds_each_date_once_and_the_receiver_gets_one_signed_delivery_each(
    world: CeleryWorld,
) -> None:
    days = ["2026-10-01", "2026-10-02", "2026-10-03"]
    sender = world.sender()
    for day in [*days, days[0], days[0]]:  # the first date asked for three times
        sender.send_task("metrics.build_feed", args=[day])
    await _delivered_once(world, days)
    (row,) = await world.sql("SELECT body FROM metrics.cswb_feed WHERE feed_date = $1", date(2026, 10, 2))
    (sent,) = [a for a in world.receiver.attempts if a.feed_date == "2026-10-02"]
    assert sent.body == bytes(row["body"]) and sent.idempotency_key == "cswb-2026-10-02-r1"


async def test_a_receiver_failing_twice_gets_the_feed_on_the_third_try(world: CeleryWorld) -> None:
    day = "2026-10-10"
    world.receiver.fail_first[day] = 2
    world.sender().send_task("metrics.build_feed", args=[day])
    await _delivered_once(world, [day])
    assert world.receiver.tries(day) == [503, 503, 200]
    query = "SELECT state, attempts, last_status FROM metrics.cswb_delivery WHERE feed_date = $1"
    (row,) = await world.sql(query, date.fromisoformat(day))
    assert (row["state"], row["attempts"], row["last_status"]) == ("delivered", 3, 200)


async def test_on_rabbitmq_the_tasks_queue_is_a_quorum_queue_and_retries_wait_in_the_broker(
    world: CeleryWorld,
) -> None:
    """The worker declared a quorum queue (a classic one of the same name is refused) bound to the delayed
    exchanges, so a retry's countdown waits in RabbitMQ rather than unacknowledged in a worker."""
    if "CPTED_CELERY_BROKER_URL" not in world.env:
        pytest.skip("queue types are RabbitMQ's")
    (steady,) = world.procs
    await until(lambda: _contains(steady, " ready."), "the worker ready")
    with world.sender().connection_for_write() as conn:
        channel = conn.channel()
        Queue("celery_delayed_0", channel=channel).queue_declare(passive=True)
        with pytest.raises(ChannelError, match="x-queue-type"):
            Queue("metrics", Exchange("metrics", "topic"), "metrics", channel=channel).declare()


async def _hold_date_lock(world: CeleryWorld, day: date) -> asyncpg.Connection:
    conn = await asyncpg.connect(plain_url(world.database_url))
    await conn.execute("SELECT pg_advisory_lock($1, $2)", LOCK_NAMESPACE, day.toordinal())
    return conn


async def _builder_waits_on(world: CeleryWorld, day: date) -> None:
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND NOT granted"

    async def waiting() -> bool:
        return int((await world.sql(query, LOCK_NAMESPACE, day.toordinal()))[0][0]) > 0

    await until(waiting, f"a worker building {day}")


@pytest.mark.parametrize("whole_worker", [False, True], ids=["pool-process-killed", "worker-and-pool-killed"])
async def test_a_worker_killed_mid_task_leaves_exactly_one_feed(own_world: CeleryWorld, whole_worker: bool) -> None:
    """The build is held mid-task on its date lock, then SIGKILLed: with acks_late and reject-on-worker-lost
    the surviving worker process runs it again; with the whole worker gone, Redis hands the unacknowledged
    task to another worker after the visibility timeout, RabbitMQ as soon as the dead worker's connection drops."""
    day = date(2026, 10, 20)
    victim = own_world.worker("victim")
    lock = await _hold_date_lock(own_world, day)
    try:
        own_world.sender().send_task("metrics.build_feed", args=[day.isoformat()])
        await _builder_waits_on(own_world, day)
        kill(victim, children_only=not whole_worker)
    finally:
        await lock.close()
    killed_at = time.monotonic()
    if whole_worker:
        own_world.worker("rescuer")
    else:
        await until(lambda: _contains(victim, "WorkerLostError"), "the worker noticing its lost process")
    delivered_at = await _delivered_once(own_world, [day.isoformat()])
    print(f"feeds for {day}: 1, deliveries: 1, delivered {delivered_at - killed_at:.1f} s after the kill")


async def test_a_worker_killed_while_the_receiver_holds_its_answer_leaves_one_feed_and_a_recognisable_repeat(
    own_world: CeleryWorld,
) -> None:
    """The receiver has the feed but the worker (and its pool) is SIGKILLed before the answer: the delivery's
    transaction dies with it, the broker hands the task to a new worker, which delivers again. The repeat
    carries the same ``Idempotency-Key`` and ``X-CSWB-Digest``: the receiver keeps one feed for the date."""
    day = "2026-10-25"
    receiver = own_world.receiver
    receiver.hold_first.add(day)
    victim = own_world.worker("victim")
    own_world.sender().send_task("metrics.build_feed", args=[day])

    async def reached() -> bool:
        return bool(receiver.tries(day))

    await until(reached, "the feed reaching the receiver")
    kill(victim)
    killed_at = time.monotonic()
    receiver.release()
    own_world.worker("rescuer")

    async def again() -> bool:
        return len(receiver.tries(day)) >= 2

    await until(again, "the feed delivered again by the new worker")
    recovered_s = time.monotonic() - killed_at
    await asyncio.sleep(1.5)  # a third delivery would have arrived by now
    sent = [a for a in receiver.attempts if a.feed_date == day]
    (row,) = await own_world.sql("SELECT digest, body FROM metrics.cswb_feed WHERE feed_date = $1", date(2026, 10, 25))
    assert len(sent) == 2 and all(a.signature_ok and a.status == 200 for a in sent)
    assert {a.idempotency_key for a in sent} == {f"cswb-{day}-r1"}
    assert {a.digest for a in sent} == {f"sha256={row['digest']}"}
    assert {hashlib.sha256(a.body).hexdigest() for a in sent} == {row["digest"]}
    assert len({(a.idempotency_key, a.digest) for a in sent}) == 1  # what the receiver keeps: one feed
    assert await own_world.feeds() == {day: 1}
    query = "SELECT state, attempts FROM metrics.cswb_delivery WHERE feed_date = $1"
    (delivery,) = await own_world.sql(query, date(2026, 10, 25))
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 1)  # the killed attempt left no trace
    print(f"feeds for {day}: 1; POSTs received: {len(sent)}, distinct (key, digest): 1; "
          f"delivered again {recovered_s:.1f} s after the kill")  # fmt: skip


async def _contains(proc: object, text: str) -> bool:
    return text in log_of(proc)  # type: ignore[arg-type]


async def test_two_beats_and_two_workers_at_once_still_give_one_feed_per_date(own_world: CeleryWorld) -> None:
    own_world.env |= {"CPTED_CSWB_EVERY_S": "0.5", "CPTED_CSWB_CATCH_UP_DAYS": "3"}
    today = Clock("America/Toronto").today()
    days = [(today - timedelta(days=k)).isoformat() for k in (3, 2, 1)]
    beats = [own_world.beat("beat-1"), own_world.beat("beat-2")]
    own_world.worker("worker-1")
    own_world.worker("worker-2")
    await _delivered_once(own_world, days, settle_s=3)
    for beat in beats:  # both schedulers fired, several times each: duplicates were there to be absorbed
        assert log_of(beat).count("Sending due task cswb-nightly-feeds") >= 3
    assert len(await own_world.feeds()) == 3
